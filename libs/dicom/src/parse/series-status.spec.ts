import { expectedInstancesOfSeries, seriesStatus } from './series-status';

describe('expectedInstancesOfSeries (Orthanc\'s ComputeExpectedNumberOfInstances)', () => {
  it('takes the first pair present: images x temporal positions, slices x time slices, cardiac images', () => {
    expect(expectedInstancesOfSeries({ ImagesInAcquisition: '10', NumberOfTemporalPositions: '3', CardiacNumberOfImages: '7' })).toBe(30);
    expect(expectedInstancesOfSeries({ NumberOfSlices: '4', NumberOfTimeSlices: '5' })).toBe(20);
    expect(expectedInstancesOfSeries({ ImagesInAcquisition: '10', CardiacNumberOfImages: '7' })).toBe(7);
    expect(expectedInstancesOfSeries({ CardiacNumberOfImages: ' 12 ' })).toBe(12);
  });

  it('announces nothing for zero, a negative product, a non-number, or no tag (DummyCT: CardiacNumberOfImages 0)', () => {
    expect(expectedInstancesOfSeries({ CardiacNumberOfImages: '0' })).toBeUndefined();
    expect(expectedInstancesOfSeries({ ImagesInAcquisition: 'x', NumberOfTemporalPositions: '3', CardiacNumberOfImages: '7' })).toBeUndefined();
    expect(expectedInstancesOfSeries({})).toBeUndefined();
  });
});

describe('seriesStatus (Orthanc\'s GetSeriesStatus)', () => {
  it('is Complete, Missing, Inconsistent or Unknown', () => {
    expect(seriesStatus(3, [2, 1, 3])).toBe('Complete');
    expect(seriesStatus(3, [1, 3])).toBe('Missing');
    expect(seriesStatus(3, [1, 1, 2])).toBe('Inconsistent');
    expect(seriesStatus(3, [0, 1])).toBe('Inconsistent');
    expect(seriesStatus(3, [4])).toBe('Inconsistent');
    expect(seriesStatus(3, [1, null])).toBe('Unknown');
    expect(seriesStatus(undefined, [1, 2])).toBe('Unknown');
  });
});
