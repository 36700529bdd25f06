import { OrthancErrorCode } from '@deidflow/common';
import { readDicomFile } from '../testing/dcmjs-read';
import { createDicom } from './create-dicom';
import { datasetToOrthancJson } from './dataset-to-json';
import { readContent } from './read-content';
import { orthancErrorOf } from '../testing/orthanc-error-of';

const NOW = new Date('2024-02-03T04:05:06Z');

function short(file: Uint8Array): Record<string, unknown> {
  return datasetToOrthancJson(file, 'short');
}

describe('createDicom, legacy form {"PatientName": ..., "Modality": ...}', () => {
  const tags = short(createDicom({ PatientName: 'Hello^World', Modality: 'CT' }));

  it('sets the given tags and generates the identifiers, SOP class Secondary Capture', () => {
    expect(tags['0010,0010']).toBe('Hello^World');
    expect(tags['0008,0060']).toBe('CT');
    expect(tags['0010,0020']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    for (const uid of ['0020,000d', '0020,000e', '0008,0018']) expect(tags[uid]).toMatch(/^2\.25\.\d+$/);
    expect(tags['0008,0016']).toBe('1.2.840.10008.5.1.4.1.1.7');
  });

  it('declares no character set for ASCII text, and no creation dates (Orthanc sets none in this form)', () => {
    expect(tags['0008,0005']).toBeUndefined();
    expect(tags['0008,0012']).toBeUndefined();
  });

  it('declares ISO_IR 192 when the text is not ASCII', () => {
    const utf8 = short(createDicom({ PatientName: 'Jérôme^Ж' }));
    expect(utf8['0008,0005']).toBe('ISO_IR 192');
    expect(utf8['0010,0010']).toBe('Jérôme^Ж');
  });

  it('accepts string values only, and no pixel data', () => {
    expect(orthancErrorOf(() => createDicom({ Rows: 512 })).httpStatus).toBe(400);
    expect(orthancErrorOf(() => createDicom({ PixelData: 'data:image/png;base64,AAAA' })).details).toMatch(/Content/);
    expect(orthancErrorOf(() => createDicom({ NoSuchTag: 'x' })).code).toBe(OrthancErrorCode.UnknownDicomTag);
  });
});

describe('createDicom, form with "Tags"', () => {
  it('builds nested sequences; private tags take "PrivateCreator" for their VR and get no creator element', () => {
    // The body of test_anonymize_nested in Orthanc's integration tests.
    const file = createDicom(
      {
        Tags: {
          MappingResourceIdentificationSequence: [
            {
              '0009,1002': 'ABCD',
              '0016,0071': '-12',
              '0034,0005': '13',
              StudyDescription: 'Hello',
              StudyDate: '20210705',
              '0009,1001': '-1234',
              ReferencedStudySequence: [{ PatientID: 'HELLO' }],
              CodeMeaning: 'MEANING1',
              EquivalentCodeSequence: [{ CodeMeaning: 'MEANING2' }],
            },
          ],
        },
        PrivateCreator: 'Lunit',
      },
      { now: NOW },
    );
    const item = (short(file)['0008,0124'] as Record<string, unknown>[])[0];
    expect(Object.keys(item)).toHaveLength(9);
    expect(item['0008,1110']).toEqual([{ '0010,0020': 'HELLO' }]);
    expect(item['0008,0121']).toEqual([{ '0008,0104': 'MEANING2' }]);
    expect(item['0009,1001']).toBeNull(); // UN: "Lunit" is not in the private dictionary
    expect(readContent(file, ['0008,0124', '0', '0009,1001'])).toEqual({ kind: 'value', bytes: Buffer.from('-1234\0') });
  });

  it('types a private tag from the private dictionary of its creator', () => {
    const file = createDicom({ Tags: { '0009,1001': 'CT_LIGHTSPEED' }, PrivateCreator: 'GEMS_IDEN_01' });
    expect(short(file)['0009,1001']).toBe('CT_LIGHTSPEED'); // LO, not UN
  });

  it('stamps the acquisition, content, creation, series and study dates and times (UTC)', () => {
    const tags = short(createDicom({ Tags: {} }, { now: NOW }));
    for (const date of ['0008,0012', '0008,0020', '0008,0021', '0008,0022', '0008,0023']) expect(tags[date]).toBe('20240203');
    for (const time of ['0008,0013', '0008,0030', '0008,0031', '0008,0032', '0008,0033']) expect(tags[time]).toBe('040506.000000');
    expect(short(createDicom({ Tags: { StudyDate: '19990101' } }, { now: NOW }))['0008,0020']).toBe('19990101');
  });

  it('writes Latin-1 under ISO_IR 100 as Orthanc does, UTF-8 under ISO_IR 192 beyond Latin-1', () => {
    const latin1 = createDicom({ Tags: { PatientName: 'Jérôme' } });
    expect(short(latin1)['0008,0005']).toBe('ISO_IR 100');
    expect(readContent(latin1, ['PatientName'])).toEqual({ kind: 'value', bytes: Buffer.from('J\xe9r\xf4me', 'latin1') });
    const utf8 = short(createDicom({ Tags: { PatientName: 'Sébastien^Ж' } }));
    expect(utf8['0008,0005']).toBe('ISO_IR 192');
    expect(utf8['0010,0010']).toBe('Sébastien^Ж');
    expect(short(createDicom({ Tags: { SpecificCharacterSet: 'ISO_IR 192', PatientName: 'A' } }))['0008,0005']).toBe('ISO_IR 192');
    expect(orthancErrorOf(() => createDicom({ Tags: { SpecificCharacterSet: 'KLINGON' } })).code).toBe(OrthancErrorCode.ParameterOutOfRange);
  });

  it('inherits the tags of the parent, and refuses to override them (or an identifier) without "Force"', () => {
    const parentTags = { PatientID: 'P1', PatientName: 'Parent^Name', StudyInstanceUID: '1.2.3', StudyDate: '20000101' };
    const tags = short(createDicom({ Tags: { Modality: 'OT' }, Parent: 'some-study' }, { parentTags, now: NOW }));
    expect(tags).toMatchObject({ '0010,0020': 'P1', '0010,0010': 'Parent^Name', '0020,000d': '1.2.3', '0008,0020': '20000101' });
    expect(tags['0008,0021']).toBe('20240203'); // a new series: its date is stamped
    expect(tags['0020,000e']).toMatch(/^2\.25\./);

    const override = { Tags: { PatientName: 'Other' }, Parent: 'some-study' };
    expect(orthancErrorOf(() => createDicom(override, { parentTags })).details).toMatch(/override.*PatientName/);
    expect(short(createDicom({ ...override, Force: true }, { parentTags }))['0010,0010']).toBe('Other');
    expect(short(createDicom({ Tags: { PatientID: 'P2' }, Parent: 'x' }, { parentTags }))['0010,0020']).toBe('P2');
    expect(orthancErrorOf(() => createDicom({ Tags: { StudyInstanceUID: '1.2.4' } })).httpStatus).toBe(400);
  });

  it('honours forced identifiers in the File Meta Information, written in Explicit VR Little Endian', () => {
    const file = createDicom({ Tags: { SOPInstanceUID: '1.2.3.4', SOPClassUID: '1.2.840.10008.5.1.4.1.1.2' }, Force: true });
    const { meta, dict } = readDicomFile(file);
    expect(meta['00020010'].Value).toEqual(['1.2.840.10008.1.2.1']);
    expect(meta['00020003'].Value).toEqual(['1.2.3.4']);
    expect(meta['00020002'].Value).toEqual(['1.2.840.10008.5.1.4.1.1.2']);
    expect(dict['00080018'].Value).toEqual(['1.2.3.4']);
  });

  it('refuses "Content" (not supported yet), bad field types and non-sequence arrays with 400', () => {
    const content = orthancErrorOf(() => createDicom({ Tags: {}, Content: 'data:image/png;base64,AAAA' }));
    expect(content.httpStatus).toBe(400);
    expect(content.details).toMatch(/"Content"/);
    expect(short(createDicom({ Tags: {}, Content: [] }))['0008,0016']).toBeDefined();
    expect(orthancErrorOf(() => createDicom({ Tags: [] })).httpStatus).toBe(400);
    expect(orthancErrorOf(() => createDicom({ Tags: {}, Force: 'yes' })).httpStatus).toBe(400);
    expect(orthancErrorOf(() => createDicom({ Tags: { PatientName: ['A'] } })).code).toBe(OrthancErrorCode.BadParameterType);
    expect(orthancErrorOf(() => createDicom({ Tags: { '0009,1010': [{}] }, PrivateCreator: 'Lunit' })).code).toBe(
      OrthancErrorCode.BadParameterType,
    );
    expect(orthancErrorOf(() => createDicom('not an object')).httpStatus).toBe(400);
  });

  it('keeps empty items', () => {
    const tags = short(createDicom({ Tags: { ReferencedImageSequence: [[], { ReferencedSOPInstanceUID: '1.2' }] } }));
    expect(tags['0008,1140']).toEqual([{}, { '0008,1155': '1.2' }]);
  });
});
