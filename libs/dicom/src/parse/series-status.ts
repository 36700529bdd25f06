/**
 * Orthanc's completeness of a series (ServerIndex: ComputeExpectedNumberOfInstances and
 * GetSeriesStatus), from the main DICOM tags of the series (its first instance's) and the
 * IndexInSeries of its instances.
 */
export type SeriesStatus = 'Complete' | 'Missing' | 'Inconsistent' | 'Unknown';

/** A positive integer, as boost::lexical_cast<int64_t> reads one; undefined otherwise. */
function integer(value: string | undefined): number | undefined {
  const text = value?.trim();
  return text !== undefined && /^[+-]?\d{1,15}$/.test(text) ? Number(text) : undefined;
}

/**
 * How many instances the series announces: ImagesInAcquisition x NumberOfTemporalPositions, else
 * NumberOfSlices x NumberOfTimeSlices (cardiac PET), else CardiacNumberOfImages; the first pair
 * present decides, and a product that is not positive (or not a number) announces nothing.
 */
export function expectedInstancesOfSeries(mainDicomTags: Readonly<Record<string, string>>): number | undefined {
  const positive = (n: number | undefined) => (n !== undefined && n > 0 ? n : undefined);
  const product = (a: string, b: string) => {
    const [x, y] = [integer(mainDicomTags[a]), integer(mainDicomTags[b])];
    return x === undefined || y === undefined ? undefined : positive(x * y);
  };
  if (mainDicomTags.ImagesInAcquisition !== undefined && mainDicomTags.NumberOfTemporalPositions !== undefined) {
    return product('ImagesInAcquisition', 'NumberOfTemporalPositions');
  }
  if (mainDicomTags.NumberOfSlices !== undefined && mainDicomTags.NumberOfTimeSlices !== undefined) {
    return product('NumberOfSlices', 'NumberOfTimeSlices');
  }
  if (mainDicomTags.CardiacNumberOfImages !== undefined) return positive(integer(mainDicomTags.CardiacNumberOfImages));
  return undefined;
}

/**
 * Complete when every index from 1 to `expected` is there once; Inconsistent for an index out of
 * that range or twice the same; Unknown without an expected count or when an instance has no index;
 * Missing otherwise.
 */
export function seriesStatus(expected: number | undefined, indexes: readonly (number | null)[]): SeriesStatus {
  if (expected === undefined) return 'Unknown';
  const seen = new Set<number>();
  for (const index of indexes) {
    if (index === null) return 'Unknown';
    if (index <= 0 || index > expected || seen.has(index)) return 'Inconsistent';
    seen.add(index);
  }
  return seen.size === expected ? 'Complete' : 'Missing';
}
