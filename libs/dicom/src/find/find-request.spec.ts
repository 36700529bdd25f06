import { orthancErrorOf } from '../testing/orthanc-error-of';
import { parseFindRequest, toLikePattern } from './find-request';

describe('parseFindRequest (POST /tools/find)', () => {
  const constraintsOf = (level: string, query: Record<string, string>, extra: Record<string, unknown> = {}) =>
    parseFindRequest({ Level: level, Query: query, ...extra }).constraints;

  it('resolves tags by name or number to the level that indexes them, the requested one or an ancestor', () => {
    expect(constraintsOf('Study', { PatientID: 'P1', '0008,0050': 'A7' })).toEqual([
      { level: 'Patient', name: 'PatientID', matcher: { kind: 'equal', value: 'P1', caseSensitive: true } },
      { level: 'Study', name: 'AccessionNumber', matcher: { kind: 'equal', value: 'A7', caseSensitive: true } },
    ]);
    // Indexed at both Series and Instance: the requested level's copy.
    expect(constraintsOf('Instance', { ImageOrientationPatient: '1\\0\\0\\0\\1\\0' })[0].level).toBe('Instance');
    expect(parseFindRequest({ Level: 'series', Query: {} }).level).toBe('Series');
  });

  it('reads each pattern as DICOM matching does: universal, wildcard, range, list', () => {
    expect(constraintsOf('Study', { StudyDescription: '', AccessionNumber: '*' })).toEqual([]);
    expect(constraintsOf('Study', { StudyDescription: 'CT*50%_?' })[0].matcher).toEqual({
      kind: 'wildcard',
      likePattern: 'CT%50\\%\\__',
      caseSensitive: true,
    });
    expect(constraintsOf('Study', { StudyDate: '20200101-20201231' })[0].matcher).toEqual({ kind: 'range', from: '20200101', to: '20201231' });
    expect(constraintsOf('Study', { StudyDate: '-20201231' })[0].matcher).toEqual({ kind: 'range', to: '20201231' });
    expect(constraintsOf('Study', { StudyDate: '20200101-' })[0].matcher).toEqual({ kind: 'range', from: '20200101' });
    // A hyphen is a range only for dates and times.
    expect(constraintsOf('Study', { AccessionNumber: 'A-7' })[0].matcher.kind).toBe('equal');
    expect(constraintsOf('Series', { Modality: 'CT\\MR' })[0].matcher).toEqual({ kind: 'list', values: ['CT', 'MR'], caseSensitive: true });
  });

  it('matches person names case-insensitively, other tags as CaseSensitive says (default true)', () => {
    expect(constraintsOf('Patient', { PatientName: 'doe*' })[0].matcher).toMatchObject({ caseSensitive: false });
    expect(constraintsOf('Patient', { PatientName: 'doe*' }, { CaseSensitive: true })[0].matcher).toMatchObject({ caseSensitive: false });
    expect(constraintsOf('Study', { StudyDescription: 'chest' }, { CaseSensitive: false })[0].matcher).toMatchObject({ caseSensitive: false });
    expect(constraintsOf('Study', { StudyDescription: 'chest' })[0].matcher).toMatchObject({ caseSensitive: true });
  });

  it('reads ModalitiesInStudy at the Study level as a match on some series of the study', () => {
    expect(constraintsOf('Study', { ModalitiesInStudy: 'CT\\MR' })).toEqual([
      { level: 'Series', name: 'Modality', matcher: { kind: 'list', values: ['CT', 'MR'], caseSensitive: true }, anySeriesOfStudy: true },
    ]);
    expect(() => constraintsOf('Series', { ModalitiesInStudy: 'CT' })).toThrow(/"ModalitiesInStudy" cannot be searched at the Series level/);
  });

  it('reads Expand, Limit (0: none) and Since', () => {
    expect(parseFindRequest({ Level: 'Patient', Query: {}, Expand: true, Limit: 10, Since: 5 })).toMatchObject({ expand: true, limit: 10, since: 5 });
    expect(parseFindRequest({ Level: 'Patient', Query: {}, Limit: 0 }).limit).toBeUndefined();
  });

  it.each([
    [{ Query: {} }, /"Level" must be one of/],
    [{ Level: 'Frame', Query: {} }, /"Level" must be one of/],
    [{ Level: 'Study' }, /"Query" must be a JSON object/],
    [{ Level: 'Study', Query: { StudyDate: 20200101 } }, /pattern of "StudyDate" must be a string/],
    [{ Level: 'Study', Query: { Modality: 'CT' } }, /"Modality" cannot be searched at the Study level; these can: .*StudyDate.*PatientName.*ModalitiesInStudy/],
    [{ Level: 'Study', Query: { NoSuchTag: 'x' } }, /Unknown DICOM tag: "NoSuchTag"/],
    [{ Level: 'Study', Query: { StudyDate: '2020-01-01' } }, /Not a range/],
    [{ Level: 'Study', Query: {}, Limit: -1 }, /"Limit" must be a non-negative integer/],
    [{ Level: 'Study', Query: {}, Expand: 'yes' }, /"Expand" must be true or false/],
    [{ Level: 'Study', Query: {}, Limt: 5 }, /Unknown field in a find request: "Limt"/],
    [[], /must be a JSON object/],
  ])('refuses %j with a clear 400', (body, message) => {
    const error = orthancErrorOf(() => parseFindRequest(body));
    expect(error.httpStatus).toBe(400);
    expect(error.details ?? error.message).toMatch(message);
  });

  it('escapes LIKE metacharacters before translating the DICOM wildcards', () => {
    expect(toLikePattern('a\\b%c_d*e?')).toBe('a\\\\b\\%c\\_d%e_');
  });
});
