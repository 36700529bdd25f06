import { inflateRawSync } from 'node:zlib';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { TRANSFER_SYNTAX } from '../codec/transfer-syntax';
import { TAGS } from '../dictionary/tag';
import { parseInstance } from '../parse/parse-instance';
import { buildDicom, BuildOptions } from '../testing/build-dicom';
import { FlatElement, flattenDicom, text } from '../testing/flatten';
import { generateSyntheticStudy } from '../synthetic';
import { DicomModification } from './dicom-modification';
import { parseModificationRequest, RequestContext } from './parse-request';
import { JsonValue } from './request-types';
import { mapPatientId, mapUid } from './uid-mapping';
import { orthancErrorOf } from '../testing/orthanc-error-of';

const STUDY = '1.2.826.0.1.3680043.8.498.1';
const SERIES = '1.2.826.0.1.3680043.8.498.1.2';
const SOP = '1.2.826.0.1.3680043.8.498.1.2.3';
const OTHER_SOP = '1.2.826.0.1.3680043.8.498.1.2.4';
const FRAME = '1.2.826.0.1.3680043.8.498.9';
const SECRET = 'unit-secret';

/** A small CT-like instance: identifying tags, private blocks, nested references, a few pixels. */
function ct(extra: Record<string, JsonValue> = {}): Record<string, JsonValue> {
  return {
    SpecificCharacterSet: 'ISO_IR 100',
    SOPClassUID: '1.2.840.10008.5.1.4.1.1.2',
    SOPInstanceUID: SOP,
    StudyDate: '20230315',
    AccessionNumber: 'ACC1',
    Modality: 'CT',
    InstitutionName: 'Anchor Hospital',
    StudyDescription: 'CT THORAX',
    SeriesDescription: 'AXIAL',
    ReferencedImageSequence: [{ ReferencedSOPClassUID: '1.2.840.10008.5.1.4.1.1.2', ReferencedSOPInstanceUID: OTHER_SOP }],
    '0009,0010': 'ACME 1.0',
    '0009,1001': 'private value',
    '0009,1002': [{ '0009,0010': 'ACME 1.0', '0009,1001': 'nested private' }],
    PatientName: 'Doe^John',
    PatientID: 'PID-1',
    PatientBirthDate: '19700101',
    OtherPatientIDsSequence: [{ PatientID: 'OTHER-1' }],
    StudyInstanceUID: STUDY,
    SeriesInstanceUID: SERIES,
    FrameOfReferenceUID: FRAME,
    RequestAttributesSequence: [{ ScheduledProcedureStepID: 'SPS1', RequestedProcedureID: 'RP1' }],
    Rows: 2,
    Columns: 2,
    PixelData: [1, 2, 3, 4],
    ...extra,
  };
}

function plan(body: Record<string, unknown>, context: Partial<RequestContext> = {}, patientName = 'Anonymized3'): DicomModification {
  const request = parseModificationRequest(body, { operation: 'anonymize', level: 'Instance', scope: 'download', ...context });
  return DicomModification.fromRequest(request, { secret: SECRET, patientName });
}

function modifyPlan(body: Record<string, unknown>, level: RequestContext['level'], secret = SECRET): DicomModification {
  const request = parseModificationRequest(body, { operation: 'modify', level, scope: level === 'Instance' ? 'download' : 'store' });
  return DicomModification.fromRequest(request, { secret });
}

function elements(file: Uint8Array): Map<string, FlatElement> {
  return new Map(flattenDicom(file).map((element) => [element.path, element]));
}

function value(file: Uint8Array, elementPath: string): string | undefined {
  const element = elements(file).get(elementPath);
  return element && text(element.value);
}

function build(spec: Record<string, JsonValue>, options?: BuildOptions): Uint8Array {
  return buildDicom(spec, options);
}

describe('anonymize', () => {
  const input = build(ct());
  const output = plan({}).apply(input);
  const out = elements(output);

  it('applies the profile: removed, emptied, remapped, private tags gone', () => {
    expect(out.has('(0008,0080)')).toBe(false); // InstitutionName X
    expect(out.has('(0008,1030)')).toBe(false); // StudyDescription X
    expect(out.has('(0010,1002)')).toBe(false); // OtherPatientIDsSequence X
    expect(out.has('(0040,0275)')).toBe(false); // RequestAttributesSequence X
    expect(value(output, '(0008,0020)')).toBe(''); // StudyDate Z
    expect(value(output, '(0008,0050)')).toBe(''); // AccessionNumber Z
    expect(value(output, '(0010,0030)')).toBe(''); // PatientBirthDate Z
    expect(value(output, '(0008,0060)')).toBe('CT');
    expect([...out.keys()].filter((key) => /^\(0009,/.test(key))).toEqual([]);
  });

  it('pseudonymises identifiers through the HMAC of the secret', () => {
    expect(value(output, '(0010,0010)')).toBe('Anonymized3');
    expect(value(output, '(0010,0020)')).toBe(mapPatientId(SECRET, 'PID-1'));
    expect(value(output, '(0010,0020)')).toHaveLength(36);
    expect(value(output, '(0020,000D)')).toBe(mapUid(SECRET, 'Study', STUDY));
    expect(value(output, '(0020,000E)')).toBe(mapUid(SECRET, 'Series', SERIES));
    expect(value(output, '(0008,0018)')).toBe(mapUid(SECRET, 'Instance', SOP));
    expect(value(output, '(0020,0052)')).toBe(mapUid(SECRET, 'Instance', FRAME));
    expect(value(output, '(0008,1140)[0].(0008,1155)')).toBe(mapUid(SECRET, 'Instance', OTHER_SOP));
    expect(value(output, '(0008,1140)[0].(0008,1150)')).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(value(output, '(0002,0003)')).toBe(mapUid(SECRET, 'Instance', SOP));
  });

  it('adds PatientIdentityRemoved and DeidentificationMethod', () => {
    expect(value(output, '(0012,0062)')).toBe('YES');
    expect(value(output, '(0012,0063)')).toBe('DeidFlow 0.1.0 - PS 3.15-2023b Table E.1-1 Basic Profile');
  });

  it('keeps the pixel data bytes', () => {
    expect(Buffer.from(out.get('(7FE0,0010)')!.encoded)).toEqual(Buffer.from(elements(input).get('(7FE0,0010)')!.encoded));
  });

  it('is deterministic for one secret, and differs across secrets', () => {
    expect(Buffer.from(plan({}).apply(input))).toEqual(Buffer.from(output));
    const other = DicomModification.fromRequest(parseModificationRequest({}, { operation: 'anonymize', level: 'Study', scope: 'store' }), {
      secret: 'another',
      patientName: 'Anonymized3',
    }).apply(input);
    expect(value(other, '(0020,000D)')).not.toBe(value(output, '(0020,000D)'));
  });

  it('follows the DicomVersion: 2008 keeps StudyDate and names its table', () => {
    const old = plan({ DicomVersion: '2008' }).apply(input);
    expect(value(old, '(0008,0020)')).toBe('20230315');
    expect(value(old, '(0012,0063)')).toBe('DeidFlow 0.1.0 - PS 3.15-2008 Table E.1-1');
  });

  it('runs the seed body: Replace by name and hex, Keep, "KeepPrivateTags": null', () => {
    const seed = plan(
      JSON.parse('{"Replace":{"PatientName":"hello","0010-0020":"world"},"Keep":["StudyDescription", "SeriesDescription"],"KeepPrivateTags": null}'),
    ).apply(input);
    expect(value(seed, '(0010,0010)')).toBe('hello');
    expect(value(seed, '(0010,0020)')).toBe('world');
    expect(value(seed, '(0008,1030)')).toBe('CT THORAX');
    expect(value(seed, '(0008,103E)')).toBe('AXIAL');
    expect(value(seed, '(0009,1001)')).toBe('private value');
    expect(value(seed, '(0009,1002)[0].(0009,1001)')).toBe('nested private');
    expect(value(seed, '(0012,0063)')).toBe('DeidFlow 0.1.0');
    expect(value(seed, '(0020,000D)')).toBe(mapUid(SECRET, 'Study', STUDY));
  });

  it('keeps one private tag (and its creator) with Keep', () => {
    const kept = elements(plan({ Keep: ['0009,1001'] }).apply(input));
    expect(text(kept.get('(0009,1001)')!.value)).toBe('private value');
    expect(text(kept.get('(0009,0010)')!.value)).toBe('ACME 1.0');
    expect(kept.has('(0009,1002)')).toBe(false);
  });

  it('keeps what is inside a kept sequence', () => {
    const kept = plan({ Keep: ['ReferencedImageSequence'] }).apply(input);
    expect(value(kept, '(0008,1140)[0].(0008,1155)')).toBe(OTHER_SOP);
  });

  it('inserts replaced tags that are absent, and private ones with their creator', () => {
    const replaced = plan({ Replace: { BodyPartExamined: 'CHEST', '0011,1010': 'added' }, PrivateCreator: 'Lunit', KeepPrivateTags: true }).apply(input);
    expect(value(replaced, '(0018,0015)')).toBe('CHEST');
    expect(value(replaced, '(0011,1010)')).toBe('added');
    expect(value(replaced, '(0011,0010)')).toBe('Lunit');
    expect(() => plan({ Replace: { '0011,1010': 'added' } }).apply(input)).toThrow(
      'Private tag (0011,1010) has no private creator (0011,0010): give one with the "PrivateCreator" option',
    );
  });

  it('gives nested PatientID and PatientName the values the user replaced them with', () => {
    const nested = { CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: 'DCM', PatientName: 'Doe^Jane', PatientID: 'PID-1' }] };
    const output = plan({ Replace: { PatientName: 'hello', '0010-0020': 'world' } }).apply(build(ct(nested)));
    expect(value(output, '(0008,0110)[0].(0010,0010)')).toBe('hello');
    expect(value(output, '(0008,0110)[0].(0010,0020)')).toBe('world');
  });

  it('replaces an existing private tag in place, with its VR', () => {
    const input = build(ct({ '0009,1003': '1.2.3' }), { vrs: { '0009,1003': 'UI' } });
    const output = elements(plan({ Replace: { '0009,1003': '1.2.3.4' } }).apply(input));
    expect(output.get('(0009,1003)')).toMatchObject({ vr: 'UI' });
    expect(text(output.get('(0009,1003)')!.value)).toBe('1.2.3.4');
    expect(text(output.get('(0009,0010)')!.value)).toBe('ACME 1.0');
    expect(output.has('(0009,1001)')).toBe(false);
  });

  it('follows a StudyInstanceUID forced by the user into the references of the file', () => {
    const forced = plan({ Replace: { StudyInstanceUID: '1.2.3.4' }, Force: true }).apply(
      build(ct({ ReferencedStudySequence: [{ ReferencedSOPInstanceUID: '1.2' }], StudiesContainingOtherReferencedInstancesSequence: [{ StudyInstanceUID: STUDY }] })),
    );
    expect(value(forced, '(0020,000D)')).toBe('1.2.3.4');
    expect(value(forced, '(0008,1200)[0].(0020,000D)')).toBe('1.2.3.4');
  });

  it('empties a top-level sequence marked D, and removes or empties the nested tags of the profile', () => {
    const sr = plan({}).apply(
      build(
        ct({
          ContentSequence: [{ ValueType: 'TEXT', TextValue: 'secret' }],
          CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: 'DCM', InstitutionName: 'x', StudyDate: '20200101', PatientName: 'Doe^Jane', PatientID: 'PID-1' }],
        }),
      ),
    );
    const flat = elements(sr);
    expect(flat.get('(0040,A730)')!.items).toBe(0);
    expect(flat.has('(0008,0110)[0].(0008,0080)')).toBe(false);
    expect(text(flat.get('(0008,0110)[0].(0008,0020)')!.value)).toBe('');
    expect(text(flat.get('(0008,0110)[0].(0008,0102)')!.value)).toBe('DCM');
    expect(text(flat.get('(0008,0110)[0].(0010,0010)')!.value)).toBe('Anonymized3');
    expect(text(flat.get('(0008,0110)[0].(0010,0020)')!.value)).toBe(mapPatientId(SECRET, 'PID-1'));
  });

  it('applies paths into sequences after the profile, in kept sequences too', () => {
    const spec = ct({
      ReferencedSeriesSequence: [
        { SeriesInstanceUID: SERIES, ReferencedInstanceSequence: [{ ReferencedSOPInstanceUID: '1.1' }, { ReferencedSOPInstanceUID: '1.2' }] },
        { SeriesInstanceUID: SERIES },
      ],
    });
    const edited = plan({
      Keep: ['ReferencedSeriesSequence'],
      Replace: { 'ReferencedSeriesSequence[*].ReferencedInstanceSequence[1].ReferencedSOPInstanceUID': '9.9' },
      Remove: ['ReferencedSeriesSequence[1].SeriesInstanceUID', 'ReferencedSeriesSequence[7].SeriesInstanceUID'],
    }).apply(build(spec));
    expect(value(edited, '(0008,1115)[0].(0020,000E)')).toBe(SERIES);
    expect(value(edited, '(0008,1115)[0].(0008,114A)[0].(0008,1155)')).toBe('1.1');
    expect(value(edited, '(0008,1115)[0].(0008,114A)[1].(0008,1155)')).toBe('9.9');
    expect(elements(edited).has('(0008,1115)[1].(0020,000E)')).toBe(false);
  });
});

describe('modify', () => {
  const input = build(ct());

  it('replaces a main identifier also named in Remove (Replace takes it out of the removals, as Orthanc)', () => {
    const output = modifyPlan({ Remove: ['PatientID', 'InstitutionName'], Replace: { PatientID: 'NEW-ID' }, Force: true }, 'Study').apply(input);
    expect(value(output, '(0010,0020)')).toBe('NEW-ID');
    expect(elements(output).has('(0008,0080)')).toBe(false);
  });

  it('instance: only SOPInstanceUID is new; the rest, nested references included, is untouched', () => {
    const output = modifyPlan({ Replace: { InstitutionName: 'X' } }, 'Instance').apply(input);
    expect(value(output, '(0008,0080)')).toBe('X');
    expect(value(output, '(0008,0018)')).toBe(mapUid(SECRET, 'Instance', SOP));
    expect(value(output, '(0020,000E)')).toBe(SERIES);
    expect(value(output, '(0020,000D)')).toBe(STUDY);
    expect(value(output, '(0008,1140)[0].(0008,1155)')).toBe(OTHER_SOP);
    expect(value(output, '(0009,1001)')).toBe('private value');
    expect(value(output, '(0010,0020)')).toBe('PID-1');
  });

  it('series: new SeriesInstanceUID and SOPInstanceUID; study: the StudyInstanceUID too', () => {
    const series = modifyPlan({}, 'Series').apply(input);
    expect([value(series, '(0020,000D)'), value(series, '(0020,000E)')]).toEqual([STUDY, mapUid(SECRET, 'Series', SERIES)]);
    const study = modifyPlan({}, 'Study').apply(input);
    expect([value(study, '(0020,000D)'), value(study, '(0020,000E)'), value(study, '(0008,0018)')]).toEqual([
      mapUid(SECRET, 'Study', STUDY),
      mapUid(SECRET, 'Series', SERIES),
      mapUid(SECRET, 'Instance', SOP),
    ]);
  });

  it('keeps a UID kept with Force, uses a UID replaced with Force', () => {
    const kept = modifyPlan({ Keep: ['SOPInstanceUID', 'SeriesInstanceUID'], Force: true }, 'Series').apply(input);
    expect([value(kept, '(0020,000E)'), value(kept, '(0008,0018)')]).toEqual([SERIES, SOP]);
    const replaced = modifyPlan({ Replace: { SeriesInstanceUID: '1.2.3' }, Force: true }, 'Study').apply(input);
    expect(value(replaced, '(0020,000E)')).toBe('1.2.3');
  });

  it('runs the seed body: PatientID without Force, Remove, "RemovePrivateTags": null', () => {
    const output = modifyPlan(JSON.parse('{"Replace":{"PatientName":"hello","PatientID":"world"},"Remove":["InstitutionName"],"RemovePrivateTags": null}'), 'Instance').apply(input);
    const flat = elements(output);
    expect(value(output, '(0010,0010)')).toBe('hello');
    expect(value(output, '(0010,0020)')).toBe('world');
    expect(flat.has('(0008,0080)')).toBe(false);
    expect([...flat.keys()].filter((key) => key.includes('(0009,'))).toEqual([]);
    // PatientID replaced: a patient-level modification, so the study gets new UIDs (Orthanc's DetectModifyLevel).
    expect(value(output, '(0020,000D)')).toBe(mapUid(SECRET, 'Study', STUDY));
  });

  it('replaces a sequence from JSON and adds private tags with PrivateCreator', () => {
    const output = modifyPlan(
      { Replace: { ReferencedStudySequence: [{ ReferencedSOPClassUID: '1.2', PatientName: 'Sébastien^' }, {}], '0019,1001': 'x' }, PrivateCreator: 'Lunit' },
      'Instance',
    ).apply(input);
    const flat = elements(output);
    expect(flat.get('(0008,1110)')!.items).toBe(2);
    expect(Buffer.from(flat.get('(0008,1110)[0].(0010,0010)')!.value)).toEqual(Buffer.from('Sébastien^', 'latin1'));
    expect(value(output, '(0019,0010)')).toBe('Lunit');
  });

  it('is deterministic per secret (a retried instance gets the same UIDs)', () => {
    expect(Buffer.from(modifyPlan({}, 'Study', 'job-1').apply(input))).toEqual(Buffer.from(modifyPlan({}, 'Study', 'job-1').apply(input)));
  });
});

describe('character sets', () => {
  it('encodes new values in the declared character set, leaves the others byte for byte', () => {
    const input = build(ct({ SpecificCharacterSet: 'ISO_IR 100', PatientComments: 'Müller' }));
    const output = modifyPlan({ Replace: { InstitutionName: 'Hôpital' } }, 'Instance').apply(input);
    expect(Buffer.from(elements(output).get('(0008,0080)')!.value)).toEqual(Buffer.from('Hôpital ', 'latin1'));
    expect(Buffer.from(elements(output).get('(0010,4000)')!.encoded)).toEqual(Buffer.from(elements(input).get('(0010,4000)')!.encoded));
    expect(value(output, '(0008,0005)')).toBe('ISO_IR 100');
  });

  it('writes UTF-8 in an ISO_IR 192 file', () => {
    const output = modifyPlan({ Replace: { InstitutionName: 'Hôpital œ' } }, 'Instance').apply(build(ct({ SpecificCharacterSet: 'ISO_IR 192' })));
    expect(Buffer.from(elements(output).get('(0008,0080)')!.value).toString('utf8').trim()).toBe('Hôpital œ');
  });

  it('declares ISO_IR 192 when a file without character set receives non-ASCII text', () => {
    const spec = ct();
    delete spec.SpecificCharacterSet;
    const output = modifyPlan({ Replace: { InstitutionName: 'Hôpital' } }, 'Instance').apply(build(spec));
    expect(value(output, '(0008,0005)')).toBe('ISO_IR 192');
    expect(Buffer.from(elements(output).get('(0008,0080)')!.value).toString('utf8').trim()).toBe('Hôpital');
  });

  it('indexes its output in the character set the output declares (derive)', () => {
    const spec = ct();
    delete spec.SpecificCharacterSet;
    const { file, parsed } = modifyPlan({ Replace: { InstitutionName: 'Hôpital', PatientName: 'Müller^Jürgen' } }, 'Study').derive(build(spec));
    expect(parsed.mainDicomTags.patient.PatientName).toBe('Müller^Jürgen');
    expect(parsed.mainDicomTags.study.InstitutionName).toBe('Hôpital');
    expect(parsed).toEqual(parseInstance(file));
  });

  it('refuses a value the declared character set cannot hold', () => {
    const error = (() => {
      try {
        modifyPlan({ Replace: { InstitutionName: '病院' } }, 'Instance').apply(build(ct()));
      } catch (caught) {
        return caught as OrthancError;
      }
    })();
    expect(error?.details).toBe(
      'Cannot cast the value of InstitutionName (0008,0080) to VR LO: some characters cannot be encoded in the character set of the instance (ISO_IR 100)',
    );
  });
});

describe('transfer syntaxes and layouts', () => {
  const anonymize = plan({});

  it.each([
    ['implicit VR little endian', TRANSFER_SYNTAX.ImplicitVRLittleEndian],
    ['explicit VR big endian', TRANSFER_SYNTAX.ExplicitVRBigEndian],
    ['deflated explicit VR little endian', TRANSFER_SYNTAX.DeflatedExplicitVRLittleEndian],
  ])('%s: same anonymization, same transfer syntax', (_name, uid) => {
    for (const undefinedLengths of [false, true]) {
      const input = build(ct(), { transferSyntax: uid, undefinedLengths });
      const output = anonymize.apply(input);
      expect(value(output, '(0002,0010)')).toBe(uid);
      expect(value(output, '(0010,0020)')).toBe(mapPatientId(SECRET, 'PID-1'));
      expect(value(output, '(0008,1140)[0].(0008,1155)')).toBe(mapUid(SECRET, 'Instance', OTHER_SOP));
      expect(elements(output).has('(0040,0275)')).toBe(false);
      expect(Buffer.from(elements(output).get('(7FE0,0010)')!.value)).toEqual(Buffer.from(elements(input).get('(7FE0,0010)')!.value));
    }
  });

  it('big endian: numbers are written big endian', () => {
    const output = modifyPlan({ Replace: { Rows: 256 } }, 'Instance').apply(build(ct(), { transferSyntax: TRANSFER_SYNTAX.ExplicitVRBigEndian }));
    expect([...elements(output).get('(0028,0010)')!.value]).toEqual([0x01, 0x00]);
  });

  it('deflated: the dataset stays a raw deflate stream', () => {
    const output = anonymize.apply(build(ct(), { transferSyntax: TRANSFER_SYNTAX.DeflatedExplicitVRLittleEndian }));
    const metaLength = Buffer.from(output).readUInt32LE(140);
    expect(() => inflateRawSync(output.subarray(144 + metaLength))).not.toThrow();
  });

  it('gives a file without meta header a proper one', () => {
    for (const uid of [TRANSFER_SYNTAX.ImplicitVRLittleEndian, TRANSFER_SYNTAX.ExplicitVRLittleEndian, TRANSFER_SYNTAX.ExplicitVRBigEndian]) {
      const output = anonymize.apply(build(ct(), { transferSyntax: uid, meta: false }));
      expect(Buffer.from(output.subarray(128, 132)).toString()).toBe('DICM');
      expect(value(output, '(0002,0010)')).toBe(uid);
      expect(value(output, '(0002,0002)')).toBe('1.2.840.10008.5.1.4.1.1.2');
      expect(value(output, '(0002,0003)')).toBe(value(output, '(0008,0018)'));
      expect(value(output, '(0002,0013)')).toBe('DEIDFLOW_010');
    }
  });

  it('copies encapsulated pixel data byte for byte', () => {
    const header = build(ct({ PixelData: null }), { transferSyntax: '1.2.840.10008.1.2.4.50' });
    const withoutPixels = header.subarray(0, header.length - 12);
    const fragments = Buffer.from('e07f1000' + '4f420000' + 'ffffffff' + 'feff00e0' + '00000000' + 'feff00e0' + '04000000' + 'ffd8ffd9' + 'feffdde0' + '00000000', 'hex');
    const output = anonymize.apply(Buffer.concat([withoutPixels, fragments]));
    expect(Buffer.from(output.subarray(output.length - fragments.length))).toEqual(fragments);
  });

  it('visits sequences encoded as UN with undefined length (implicit VR items)', () => {
    const header = build({ SOPClassUID: '1.2', SOPInstanceUID: SOP, PatientID: 'P' });
    const item = Buffer.from('08005511' + '04000000' + '312e3200', 'hex'); // ReferencedSOPInstanceUID "1.2"
    const unknown = Buffer.concat([
      Buffer.from('08004011' + '554e0000' + 'ffffffff', 'hex'), // (0008,1140) UN, undefined length
      Buffer.from('feff00e0' + 'ffffffff', 'hex'),
      item,
      Buffer.from('feff0de0' + '00000000' + 'feffdde0' + '00000000', 'hex'),
    ]);
    const at = indexOfTag(header, '10002000'); // before PatientID, to keep the tags in order
    const inserted = Buffer.concat([header.subarray(0, at), unknown, header.subarray(at)]);
    const output = anonymize.apply(inserted);
    expect(value(output, '(0008,1140)[0].(0008,1155)')).toBe(mapUid(SECRET, 'Instance', '1.2'));
  });

  it('visits a standard sequence encoded as UN with a defined length', () => {
    const header = build({ SOPClassUID: '1.2', SOPInstanceUID: SOP, PatientID: 'P' });
    const item = Buffer.from('feff00e0' + '0c000000' + '08005511' + '04000000' + '312e3200', 'hex');
    const unknown = Buffer.concat([Buffer.from('08004011' + '554e0000' + '14000000', 'hex'), item]);
    const at = indexOfTag(header, '10002000');
    const output = anonymize.apply(Buffer.concat([header.subarray(0, at), unknown, header.subarray(at)]));
    expect(value(output, '(0008,1140)[0].(0008,1155)')).toBe(mapUid(SECRET, 'Instance', '1.2'));
  });

  it('drops File Meta Information elements found in the dataset, which would be read as part of the new meta', () => {
    const input = Buffer.from(build(ct(), { transferSyntax: '1.2.840.10008.1.2.4.50' }));
    // The meta group cut short: its first element, (0002,0000), becomes a private tag, so the meta
    // elements after it are read as dataset, and the transfer syntax is guessed (explicit little endian).
    expect(input.readUInt32LE(132)).toBe(0x00000002);
    input.writeUInt32LE(0x10100009, 132);
    const { file, parsed } = anonymize.derive(input);
    expect(parseInstance(file).transferSyntaxUid).toBe(TRANSFER_SYNTAX.ExplicitVRLittleEndian);
    expect(parsed).toEqual(parseInstance(file));
    expect(flattenDicom(file).filter((element) => element.tag === TAGS.TransferSyntaxUID)).toHaveLength(1);
  });

  it('recomputes group lengths and drops the trailing padding', () => {
    const input = build({ '0008,0000': 0, SOPClassUID: '1.2', SOPInstanceUID: SOP, InstitutionName: 'Somewhere', 'FFFC,FFFC': 'data:;base64,AAAA' }, { vrs: { 'FFFC,FFFC': 'OB' } });
    const output = anonymize.apply(input);
    const flat = elements(output);
    const group8 = [...flat.values()].filter((element) => element.tag >>> 16 === 8 && element.tag !== 0x00080000 && element.parents.length === 0);
    expect(Buffer.from(flat.get('(0008,0000)')!.value).readUInt32LE(0)).toBe(group8.reduce((sum, element) => sum + element.encoded.length, 0));
    expect(flat.has('(FFFC,FFFC)')).toBe(false);
  });
});

describe('malformed input', () => {
  const anonymize = plan({});

  const failure = (bytes: Uint8Array): OrthancError => orthancErrorOf(() => anonymize.apply(bytes));

  it('refuses sequences nested 1,000 levels deep without overflowing the stack', () => {
    let nested: JsonValue = [{ PatientID: 'deep' }];
    for (let depth = 0; depth < 1000; depth++) nested = [{ ReferencedStudySequence: nested }];
    const error = failure(build({ SOPInstanceUID: SOP, ReferencedStudySequence: nested }, { undefinedLengths: true }));
    expect({ code: error.code, details: error.details }).toEqual({
      code: OrthancErrorCode.BadFileFormat,
      details: 'Malformed DICOM dataset: sequences nested deeper than 128 levels',
    });
  });

  it('refuses an element length beyond the end of the file', () => {
    const input = Buffer.from(build({ SOPInstanceUID: SOP, InstitutionName: 'x' }));
    const at = indexOfTag(input, '08008000');
    input.writeUInt16LE(0xfff0, at + 6);
    expect(failure(input).details).toMatch(/^Malformed DICOM dataset: truncated data: the value of \(0008,0080\) at offset \d+ needs 65520 bytes/);
    const long = Buffer.from(build({ SOPInstanceUID: SOP, PixelData: [1] }));
    long.writeUInt32LE(0xfffffff0, indexOfTag(long, 'e07f1000') + 8);
    expect(failure(long).details).toMatch(/needs 4294967280 bytes/);
  });

  it('refuses what is not DICOM', () => {
    expect(failure(Buffer.from('hello world, this is not a DICOM file at all')).details).toMatch(/^Not a DICOM file/);
  });
});

function indexOfTag(bytes: Uint8Array, hex: string): number {
  return Buffer.from(bytes).indexOf(Buffer.from(hex, 'hex'));
}

describe('output memory', () => {
  // A worker writes outputs into reused buffers that still hold an earlier file: every byte must be written.
  const dirty = (size: number) => new Uint8Array(size).fill(0xa5);
  const synthetic = generateSyntheticStudy({ instances: 1, imageSize: 16, seed: 5 })[0].bytes;

  it.each([
    ['anonymize {} of a built CT', () => plan({}), () => build(ct())],
    ['anonymize {} of a synthetic CT (private blocks, nested sequences)', () => plan({}), () => synthetic],
    ['modify Replace of a synthetic CT', () => modifyPlan({ Replace: { InstitutionName: 'X' } }, 'Study'), () => synthetic],
    ['anonymize {} in explicit big endian', () => plan({}), () => build(ct(), { transferSyntax: TRANSFER_SYNTAX.ExplicitVRBigEndian })],
  ])('is the same in a buffer holding other bytes: %s', (_name, makePlan, input) => {
    const modification = makePlan();
    expect(Buffer.from(modification.apply(input(), dirty))).toEqual(Buffer.from(modification.apply(input())));
  });
});
