import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { needsGeneratedPatientName, parseModificationRequest, RequestContext } from './parse-request';
import { orthancErrorOf } from '../testing/orthanc-error-of';

const ANONYMIZE_INSTANCE: RequestContext = { operation: 'anonymize', level: 'Instance', scope: 'download' };
const MODIFY_INSTANCE: RequestContext = { operation: 'modify', level: 'Instance', scope: 'download' };
const ANONYMIZE_STUDY: RequestContext = { operation: 'anonymize', level: 'Study', scope: 'store' };
const MODIFY_STUDY: RequestContext = { operation: 'modify', level: 'Study', scope: 'store' };
const MODIFY_SERIES: RequestContext = { operation: 'modify', level: 'Series', scope: 'store' };
const MODIFY_PATIENT: RequestContext = { operation: 'modify', level: 'Patient', scope: 'store' };
const BULK_MODIFY: RequestContext = { operation: 'modify', level: 'Bulk', scope: 'store' };
const BULK_ANONYMIZE: RequestContext = { operation: 'anonymize', level: 'Bulk', scope: 'store' };

const ID = '66a662ce-7430e543-bad44d47-0dc5a943-ec7a538d';

function failure(body: unknown, context: RequestContext): OrthancError {
  return orthancErrorOf(() => parseModificationRequest(body, context));
}

function expectFailure(body: unknown, context: RequestContext, code: OrthancErrorCode, details: string | RegExp): void {
  const error = failure(body, context);
  expect({ code: error.code, status: error.httpStatus }).toEqual({ code, status: 400 });
  if (typeof details === 'string') expect(error.details).toBe(details);
  else expect(error.details).toMatch(details);
}

describe('the seed bodies (issue 7), verbatim', () => {
  it('anonymize: PatientID by hex without Force, Keep by name, "KeepPrivateTags": null keeps private tags', () => {
    const body = JSON.parse(
      '{"Replace":{"PatientName":"hello","0010-0020":"world"},"Keep":["StudyDescription", "SeriesDescription"],"KeepPrivateTags": null}',
    );
    const request = parseModificationRequest(body, ANONYMIZE_INSTANCE);
    expect(request).toMatchObject({
      operation: 'anonymize',
      level: 'Patient',
      dicomVersion: '2023b',
      removePrivateTags: false,
      replace: [
        { name: 'PatientName', path: { steps: [], tag: '00100010' }, value: 'hello' },
        { name: '0010-0020', path: { steps: [], tag: '00100020' }, value: 'world' },
      ],
      keep: [
        { steps: [], tag: '00081030' },
        { steps: [], tag: '0008103E' },
      ],
    });
  });

  it('modify: PatientID without Force, Remove by name, "RemovePrivateTags": null removes private tags', () => {
    const body = JSON.parse('{"Replace":{"PatientName":"hello","PatientID":"world"},"Remove":["InstitutionName"],"RemovePrivateTags": null}');
    const request = parseModificationRequest(body, MODIFY_INSTANCE);
    // PatientID replaced: Orthanc's DetectModifyLevel makes it a patient-level modification (new UIDs below).
    expect(request).toMatchObject({ operation: 'modify', level: 'Patient', removePrivateTags: true, remove: [{ steps: [], tag: '00080080' }] });
  });

  it('keeps Orthanc Force rule for PatientID where results are stored', () => {
    expectFailure(
      { Replace: { PatientName: 'hello', '0010-0020': 'world' } },
      ANONYMIZE_STUDY,
      OrthancErrorCode.BadRequest,
      'Marking tag "0010-0020" as to be replaced requires the "Force" option to be set to true',
    );
  });

  it.each([true, null])('reads %p as on and false or absence as off for the private tag flags', (flag) => {
    expect(parseModificationRequest({ KeepPrivateTags: flag }, ANONYMIZE_INSTANCE).removePrivateTags).toBe(false);
    expect(parseModificationRequest({ RemovePrivateTags: flag }, MODIFY_INSTANCE).removePrivateTags).toBe(true);
    expect(parseModificationRequest({ KeepPrivateTags: false }, ANONYMIZE_INSTANCE).removePrivateTags).toBe(true);
    expect(parseModificationRequest({}, ANONYMIZE_INSTANCE).removePrivateTags).toBe(true);
    expect(parseModificationRequest({ RemovePrivateTags: false }, MODIFY_INSTANCE).removePrivateTags).toBe(false);
    expect(parseModificationRequest({}, MODIFY_INSTANCE).removePrivateTags).toBe(false);
  });
});

describe('Force rules (Orthanc DicomModification::ParseModifyRequest, references 11-13)', () => {
  it('11: replacing PatientID at an instance needs Force where stored, not for a download', () => {
    const stored: RequestContext = { ...MODIFY_INSTANCE, scope: 'store' };
    expectFailure(
      { Replace: { PatientID: 'P2' } },
      stored,
      OrthancErrorCode.BadRequest,
      'Marking tag "PatientID" as to be replaced requires the "Force" option to be set to true',
    );
    expect(parseModificationRequest({ Replace: { PatientID: 'P2' } }, MODIFY_INSTANCE).level).toBe('Patient');
  });

  it('12: replacing StudyInstanceUID needs Force at every scope', () => {
    const message = 'Marking tag "StudyInstanceUID" as to be replaced requires the "Force" option to be set to true';
    expectFailure({ Replace: { StudyInstanceUID: '1.2.3' } }, MODIFY_STUDY, OrthancErrorCode.BadRequest, message);
    expectFailure({ Replace: { StudyInstanceUID: '1.2.3' } }, MODIFY_INSTANCE, OrthancErrorCode.BadRequest, message);
    expectFailure({ Replace: { StudyInstanceUID: '1.2.3' } }, ANONYMIZE_INSTANCE, OrthancErrorCode.BadRequest, message);
  });

  it('13: removing PatientID needs Force, and is forbidden even with it', () => {
    expectFailure(
      { Remove: ['PatientID'] },
      MODIFY_STUDY,
      OrthancErrorCode.BadRequest,
      'Marking tag "PatientID" as to be removed requires the "Force" option to be set to true',
    );
    expectFailure({ Remove: ['SOPInstanceUID'], Force: true }, MODIFY_STUDY, OrthancErrorCode.BadRequest, 'It is forbidden to remove one of the main Dicom identifiers');
  });

  it('lets Replace or Keep of a main identifier take it out of the removals, as Orthanc (no removal left)', () => {
    const replaced = parseModificationRequest({ Remove: ['PatientID'], Replace: { PatientID: 'X' }, Force: true }, MODIFY_STUDY);
    expect(replaced.replace.map((r) => r.path.tag)).toEqual(['00100020']);
    expect(() => parseModificationRequest({ Remove: ['SOPInstanceUID'], Keep: ['SOPInstanceUID'], Force: true }, MODIFY_STUDY)).not.toThrow();
    expectFailure({ Remove: ['SOPInstanceUID', 'PatientID'], Replace: { PatientID: 'X' }, Force: true }, MODIFY_STUDY, OrthancErrorCode.BadRequest, 'It is forbidden to remove one of the main Dicom identifiers');
  });

  it('keeping a main UID needs Force', () => {
    expectFailure(
      { Keep: ['SeriesInstanceUID'] },
      MODIFY_SERIES,
      OrthancErrorCode.BadRequest,
      'Marking tag "SeriesInstanceUID" as to be kept requires the "Force" option to be set to true',
    );
    expect(parseModificationRequest({ Keep: ['SeriesInstanceUID'], Force: true }, MODIFY_SERIES).keep).toEqual([{ steps: [], tag: '0020000E' }]);
  });

  it('paths into sequences are not database keys', () => {
    const request = parseModificationRequest({ Replace: { 'ReferencedStudySequence[0].StudyInstanceUID': '1.2.3' } }, MODIFY_STUDY);
    expect(request.replace[0].path).toEqual({ steps: [{ sequence: '00081110', index: 0 }], tag: '0020000D' });
  });

  it('a patient modification must replace PatientID, unless forced', () => {
    expectFailure(
      { Replace: { PatientName: 'x' } },
      MODIFY_PATIENT,
      OrthancErrorCode.BadRequest,
      'When modifying a patient, her PatientID is required to be modified.',
    );
    expect(parseModificationRequest({ Replace: { PatientName: 'x' }, Force: true }, MODIFY_PATIENT).level).toBe('Patient');
    expect(parseModificationRequest({ Replace: { PatientID: 'P', PatientName: 'x' }, Force: true }, MODIFY_PATIENT).level).toBe('Patient');
  });

  it("the seed's patient modify replaces PatientID without Force (it must replace it), bulk with Level Patient too", () => {
    const body = JSON.parse('{"Replace":{"PatientID":"Hello","PatientName":"Sample patient name"}}');
    expect(parseModificationRequest(body, MODIFY_PATIENT)).toMatchObject({ level: 'Patient', force: false });
    expect(parseModificationRequest({ ...body, Resources: [ID], Level: 'Patient' }, BULK_MODIFY).level).toBe('Patient');
    expectFailure(
      { ...body, Resources: [ID] },
      BULK_MODIFY,
      OrthancErrorCode.BadRequest,
      'Marking tag "PatientID" as to be replaced requires the "Force" option to be set to true',
    );
    expectFailure(
      body,
      { operation: 'anonymize', level: 'Patient', scope: 'store' },
      OrthancErrorCode.BadRequest,
      'Marking tag "PatientID" as to be replaced requires the "Force" option to be set to true',
    );
  });

  it('Force lifts the parent checks (Orthanc >= 1.11.3) and the level stays the route one', () => {
    expect(parseModificationRequest({ Replace: { PatientID: 'P' }, Force: true }, MODIFY_STUDY).level).toBe('Study');
    expect(parseModificationRequest({ Replace: { StudyInstanceUID: '1.2.3' }, Force: true }, MODIFY_SERIES).level).toBe('Series');
  });

  it('an instance modification takes the level of the highest identifier replaced (DetectModifyLevel)', () => {
    expect(parseModificationRequest({}, MODIFY_INSTANCE).level).toBe('Instance');
    expect(parseModificationRequest({ Replace: { SeriesInstanceUID: '1.2' }, Force: true }, MODIFY_INSTANCE).level).toBe('Series');
    expect(parseModificationRequest({ Replace: { StudyInstanceUID: '1.2' }, Force: true }, MODIFY_INSTANCE).level).toBe('Study');
  });

  it('anonymization is always at patient level', () => {
    expect(parseModificationRequest({}, ANONYMIZE_STUDY).level).toBe('Patient');
  });
});

describe('option types and names', () => {
  it.each([[[]], ['{}'], [null], [42]])('refuses a body that is not a JSON object: %p', (body) => {
    expectFailure(body, ANONYMIZE_INSTANCE, OrthancErrorCode.BadFileFormat, 'The body of the request should be a JSON object');
  });

  it('lists the accepted options when one is unknown', () => {
    const error = failure({ Replace: {}, Frobnicate: true }, ANONYMIZE_STUDY);
    expect(error.code).toBe(OrthancErrorCode.BadRequest);
    expect(error.details).toMatch(/^Unknown option "Frobnicate" for anonymize \(study\); accepted options: Replace, Remove, Keep, Force,/);
    expect(error.details).toContain('KeepPrivateTags');
    expect(error.details).toContain('DicomVersion');
    expect(error.details).not.toContain('RemovePrivateTags');
  });

  it('refuses the options of the other operation and of other routes', () => {
    expect(failure({ RemovePrivateTags: true }, ANONYMIZE_INSTANCE).details).toMatch(/^Unknown option "RemovePrivateTags"/);
    expect(failure({ KeepPrivateTags: true, DicomVersion: '2008' }, MODIFY_INSTANCE).details).toMatch(/^Unknown options "KeepPrivateTags", "DicomVersion"/);
    expect(failure({ Resources: [ID] }, MODIFY_STUDY).details).toMatch(/^Unknown option "Resources"/);
    expect(failure({ Resources: [ID], Level: 'Study' }, BULK_ANONYMIZE).details).toMatch(/^Unknown option "Level" for bulk-anonymize/);
  });

  it.each(['Force', 'Permissive', 'KeepSource', 'KeepLabels', 'Asynchronous', 'Synchronous'])('%s must be a Boolean', (name) => {
    expectFailure({ [name]: 'true' }, MODIFY_STUDY, OrthancErrorCode.BadFileFormat, `Member "${name}" should be a Boolean value`);
    expectFailure({ [name]: null }, MODIFY_STUDY, OrthancErrorCode.BadFileFormat, `Member "${name}" should be a Boolean value`);
  });

  it('KeepPrivateTags and RemovePrivateTags accept Booleans and null only', () => {
    expectFailure({ KeepPrivateTags: 'yes' }, ANONYMIZE_INSTANCE, OrthancErrorCode.BadFileFormat, 'Member "KeepPrivateTags" should be a Boolean value (or null, meaning true)');
    expectFailure({ RemovePrivateTags: 1 }, MODIFY_INSTANCE, OrthancErrorCode.BadFileFormat, 'Member "RemovePrivateTags" should be a Boolean value (or null, meaning true)');
  });

  it('16: Replace must be an object, Remove and Keep arrays of strings', () => {
    expectFailure({ Replace: 'x' }, ANONYMIZE_STUDY, OrthancErrorCode.BadRequest, '"Replace" should be a JSON object that maps tags to their new values');
    expectFailure({ Remove: 'PatientName' }, ANONYMIZE_STUDY, OrthancErrorCode.BadRequest, /^"Remove" should be a JSON array of strings/);
    expectFailure({ Keep: ['PatientName', 3] }, ANONYMIZE_STUDY, OrthancErrorCode.BadRequest, /^"Keep" should be a JSON array of strings.*\(at Keep\.1\)$/);
  });

  it('DicomVersion: a string among the supported editions, 2023b by default', () => {
    expect(parseModificationRequest({}, ANONYMIZE_INSTANCE).dicomVersion).toBe('2023b');
    for (const version of ['2008', '2017c', '2021b', '2023b']) {
      expect(parseModificationRequest({ DicomVersion: version }, ANONYMIZE_INSTANCE).dicomVersion).toBe(version);
    }
    expectFailure({ DicomVersion: 'nope' }, ANONYMIZE_INSTANCE, OrthancErrorCode.ParameterOutOfRange, 'Unknown DicomVersion "nope"; accepted: 2008, 2017c, 2021b, 2023b');
    expectFailure({ DicomVersion: 2021 }, ANONYMIZE_INSTANCE, OrthancErrorCode.BadFileFormat, 'DicomVersion should be a string');
  });

  it('Transcode and LossyQuality are refused clearly', () => {
    expectFailure({ Transcode: '1.2.840.10008.1.2.4.50' }, MODIFY_STUDY, OrthancErrorCode.BadRequest, /^The "Transcode" option is not supported yet/);
    expectFailure({ LossyQuality: 80 }, MODIFY_STUDY, OrthancErrorCode.BadRequest, /^The "LossyQuality" option is not supported yet/);
  });

  it('job options: defaults, Synchronous over Asynchronous, Priority, UserData, PrivateCreator', () => {
    expect(parseModificationRequest({}, MODIFY_STUDY)).toMatchObject({ synchronous: true, priority: 0, keepSource: true, permissive: false, keepLabels: false });
    expect(parseModificationRequest({ Asynchronous: true }, MODIFY_STUDY).synchronous).toBe(false);
    expect(parseModificationRequest({ Asynchronous: true, Synchronous: true }, MODIFY_STUDY).synchronous).toBe(true);
    const request = parseModificationRequest(
      { Priority: -3, UserData: { a: [1, 'b'] }, PrivateCreator: 'Lunit', KeepSource: false, Permissive: true, KeepLabels: true },
      MODIFY_STUDY,
    );
    expect(request).toMatchObject({ priority: -3, userData: { a: [1, 'b'] }, privateCreator: 'Lunit', keepSource: false, permissive: true, keepLabels: true });
    expectFailure({ Priority: 1.5 }, MODIFY_STUDY, OrthancErrorCode.BadRequest, '"Priority" should be an integer');
    expectFailure({ Priority: '1' }, MODIFY_STUDY, OrthancErrorCode.BadRequest, '"Priority" should be an integer');
  });

  it('the request survives a JSON round trip (it is stored once per job)', () => {
    const request = parseModificationRequest(
      { Replace: { 'RequestAttributesSequence[*].ScheduledProcedureStepID': 'X', Rows: 512 }, Keep: ['StudyDescription'], UserData: null },
      ANONYMIZE_STUDY,
    );
    expect(JSON.parse(JSON.stringify(request))).toEqual(request);
  });
});

describe('bulk routes', () => {
  it('need Resources, Orthanc identifiers of any level', () => {
    expect(parseModificationRequest({ Resources: [ID, ID] }, BULK_ANONYMIZE).resources).toEqual([ID]);
    expectFailure({}, BULK_ANONYMIZE, OrthancErrorCode.BadRequest, /^"Resources" should be a JSON array of Orthanc identifiers/);
    expectFailure({ Resources: [] }, BULK_ANONYMIZE, OrthancErrorCode.BadRequest, '"Resources" should list the Orthanc identifiers of at least one resource');
    expectFailure({ Resources: ['../etc'] }, BULK_MODIFY, OrthancErrorCode.BadRequest, '"Resources" item 0 is not an Orthanc identifier');
  });

  it('bulk modify: Level given, or detected from the replaced identifiers', () => {
    expect(parseModificationRequest({ Resources: [ID] }, BULK_MODIFY).level).toBe('Instance');
    expect(parseModificationRequest({ Resources: [ID], Level: 'study' }, BULK_MODIFY).level).toBe('Study');
    expect(parseModificationRequest({ Resources: [ID], Replace: { PatientID: 'P' }, Force: true }, BULK_MODIFY).level).toBe('Patient');
    expectFailure({ Resources: [ID], Level: 'Galaxy' }, BULK_MODIFY, OrthancErrorCode.ParameterOutOfRange, 'Unknown "Level" "Galaxy"; accepted: Patient, Study, Series, Instance');
    expectFailure({ Resources: [ID], Level: 'Patient' }, BULK_MODIFY, OrthancErrorCode.BadRequest, 'When modifying a patient, her PatientID is required to be modified.');
  });
});

describe('tag syntax', () => {
  it.each(['PatientID', '0010-0020', '0010,0020', '(0010,0020)', '00100020', ' 0010,0020 '])('reads %p', (name) => {
    const request = parseModificationRequest({ Replace: { [name]: 'x' } }, MODIFY_INSTANCE);
    expect(request.replace[0]).toEqual({ name, path: { steps: [], tag: '00100020' }, value: 'x' });
  });

  it('reads lower-case hex and private tags', () => {
    const request = parseModificationRequest({ Remove: ['0008-103e', '00e1,10c2'], Keep: ['(0009,1001)'] }, ANONYMIZE_INSTANCE);
    expect(request.remove).toEqual([
      { steps: [], tag: '0008103E' },
      { steps: [], tag: '00E110C2' },
    ]);
    expect(request.keep).toEqual([{ steps: [], tag: '00091001' }]);
  });

  it('reads paths into sequences, indexed, universal and nested', () => {
    const request = parseModificationRequest(
      {
        Remove: ['RequestAttributesSequence[*].ScheduledProcedureStepID', '(5200,9230)[*].2005,140f[1].(0008,0023)'],
        Replace: { 'ReferencedImageSequence[0].ReferencedSOPInstanceUID': '1.2.3' },
      },
      ANONYMIZE_INSTANCE,
    );
    expect(request.remove).toEqual([
      { steps: [{ sequence: '00400275', index: '*' }], tag: '00400009' },
      {
        steps: [
          { sequence: '52009230', index: '*' },
          { sequence: '2005140F', index: 1 },
        ],
        tag: '00080023',
      },
    ]);
    expect(request.replace[0].path).toEqual({ steps: [{ sequence: '00081140', index: 0 }], tag: '00081155' });
  });

  it('17: an unknown tag name is a 400 UnknownDicomTag (Orthanc: 500)', () => {
    const error = failure({ Replace: { NoSuchTag: 'x' } }, ANONYMIZE_STUDY);
    expect({ code: error.code, status: error.httpStatus, details: error.details }).toEqual({
      code: OrthancErrorCode.UnknownDicomTag,
      status: 400,
      details: 'Unknown DICOM tag: "NoSuchTag"',
    });
    expect(failure({ Remove: ['ReferencedImageSequence[0].Nope'] }, ANONYMIZE_STUDY).details).toBe('Unknown DICOM tag: "Nope"');
    expect(failure({ Keep: ['0010,002'] }, ANONYMIZE_STUDY).details).toBe('Unknown DICOM tag: "0010,002"');
  });

  it.each([
    ['ReferencedImageSequence.ReferencedSOPInstanceUID', /^Parent path doesn't contain an index/],
    ['[0].ReferencedSOPInstanceUID', /^Parent path doesn't contain a tag/],
    ['ReferencedImageSequence[0.ReferencedSOPInstanceUID', /^Parent path doesn't contain the end of the index/],
    ['ReferencedImageSequence[-1].ReferencedSOPInstanceUID', /^Not a valid index in parent path/],
    ['ReferencedImageSequence[a].ReferencedSOPInstanceUID', /^Not a valid index in parent path/],
  ])('refuses the bad path %p', (name, details) => {
    expectFailure({ Remove: [name] }, ANONYMIZE_STUDY, OrthancErrorCode.ParameterOutOfRange, details);
  });

  it('refuses the File Meta Information tags', () => {
    expectFailure({ Replace: { TransferSyntaxUID: '1.2.840.10008.1.2' } }, MODIFY_INSTANCE, OrthancErrorCode.BadRequest, /^Tag "TransferSyntaxUID" belongs to the File Meta Information/);
  });
});

describe('Replace values are cast to the VR of the tag', () => {
  const accepts = (replace: Record<string, unknown>) => expect(() => parseModificationRequest({ Replace: replace }, MODIFY_INSTANCE)).not.toThrow();
  const refuses = (replace: Record<string, unknown>, details: string) =>
    expectFailure({ Replace: replace }, MODIFY_INSTANCE, OrthancErrorCode.BadRequest, details);

  it('accepts strings, numbers, multiple values, sequences and data URIs', () => {
    accepts({ PatientWeight: 72.5, Rows: 512, ImageType: ['ORIGINAL', 'PRIMARY'], PixelSpacing: '0.5\\0.5', StudyDate: '20200101' });
    accepts({ WindowCenter: [40, 400], BitsAllocated: '16', FrameIncrementPointer: 'FrameTime', InstitutionName: null });
    accepts({ ReferencedStudySequence: [{ ReferencedSOPClassUID: '1.2.3', ReferencedSOPInstanceUID: '1.2.3.4' }, {}] });
    accepts({ ReferencedStudySequence: [{ PatientName: 'Sébastien^' }] });
    accepts({ '7fe0,0010': 'data:application/octet-stream;base64,AAECAw==' });
  });

  it('refuses values that do not fit the VR, naming the tag and the VR', () => {
    refuses({ PatientWeight: 'heavy' }, 'Cannot cast the value of PatientWeight (0010,1030) to VR DS: expected a decimal string of at most 16 characters');
    refuses({ Rows: 70000 }, 'Cannot cast the value of Rows (0028,0010) to VR US: expected integers from 0 to 65535');
    refuses({ Rows: 'many' }, 'Cannot cast the value of Rows (0028,0010) to VR US: expected integers from 0 to 65535');
    refuses({ StudyDate: '2020-01-01' }, 'Cannot cast the value of StudyDate (0008,0020) to VR DA: expected a date YYYYMMDD');
    refuses({ SeriesNumber: 1.5 }, 'Cannot cast the value of SeriesNumber (0020,0011) to VR IS: expected an integer');
    refuses({ StudyInstanceUID: '1.2.x' }, 'Marking tag "StudyInstanceUID" as to be replaced requires the "Force" option to be set to true');
    refuses({ FrameOfReferenceUID: '1.2.x' }, 'Cannot cast the value of FrameOfReferenceUID (0020,0052) to VR UI: expected a UID (digits and dots, at most 64 characters)');
    refuses({ PatientAge: '31 years' }, 'Cannot cast the value of PatientAge (0010,1010) to VR AS: expected an age string nnnD, nnnW, nnnM or nnnY');
    refuses({ PatientName: true }, 'Cannot cast the value of PatientName (0010,0010) to VR PN: a JSON Boolean is not a DICOM value');
    refuses({ PatientName: { Alphabetic: 'x' } }, 'Cannot cast the value of PatientName (0010,0010) to VR PN: a JSON object is not a DICOM value');
    refuses({ PatientName: [{ a: 1 }] }, 'Cannot cast the value of PatientName (0010,0010) to VR PN: a JSON array of objects can only replace a sequence (VR SQ)');
    refuses({ ReferencedStudySequence: 'x' }, 'Cannot cast the value of ReferencedStudySequence (0008,1110) to VR SQ: a sequence is replaced by a JSON array of objects (one object per item)');
    refuses({ Modality: 'Ü' }, 'Cannot cast the value of Modality (0008,0060) to VR CS: only the default character repertoire (ASCII) is allowed');
  });

  it('refuses a private tag in a new sequence item without a creator', () => {
    refuses({ ReferencedStudySequence: [{ '0009,1001': 'x' }] }, 'Private tag (0009,1001) has no private creator (0009,0010): give one with the "PrivateCreator" option');
    expect(() =>
      parseModificationRequest({ Replace: { ReferencedStudySequence: [{ '0009,1001': 'x' }] }, PrivateCreator: 'Lunit' }, MODIFY_INSTANCE),
    ).not.toThrow();
  });
});

describe('needsGeneratedPatientName', () => {
  it('is true for an anonymization that does not set or keep PatientName', () => {
    expect(needsGeneratedPatientName(parseModificationRequest({}, ANONYMIZE_STUDY))).toBe(true);
    expect(needsGeneratedPatientName(parseModificationRequest({ Replace: { PatientName: 'x' } }, ANONYMIZE_STUDY))).toBe(false);
    expect(needsGeneratedPatientName(parseModificationRequest({ Keep: ['PatientName'] }, ANONYMIZE_STUDY))).toBe(false);
    // Removed: overridden too, no number used up (Orthanc's patientNameOverridden).
    expect(needsGeneratedPatientName(parseModificationRequest({ Remove: ['PatientName'] }, ANONYMIZE_STUDY))).toBe(false);
    expect(needsGeneratedPatientName(parseModificationRequest({ Remove: ['PatientBirthDate'] }, ANONYMIZE_STUDY))).toBe(true);
    expect(needsGeneratedPatientName(parseModificationRequest({}, MODIFY_STUDY))).toBe(false);
  });
});
