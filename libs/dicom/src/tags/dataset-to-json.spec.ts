import { readdirSync, readFileSync } from 'fs';
import { join } from 'path';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { datasetToOrthancJson } from './dataset-to-json';

const SAMPLES = join(__dirname, '../../../../../shared/dicom-samples');
const REFERENCE = join(__dirname, '../../../../../shared/orthanc-reference/browse');

function sample(name: string): Uint8Array {
  return readFileSync(join(SAMPLES, 'orthanc-tests', name));
}

/** The JSON body of a captured HTTP answer. */
function body(file: string): string {
  const text = readFileSync(join(REFERENCE, file), 'utf8');
  return text.slice(text.indexOf('\n{') + 1);
}

describe('datasetToOrthancJson on DummyCT.dcm (Orthanc 1.10.1 answers)', () => {
  const file = sample('DummyCT.dcm');

  it('gives /tags?simplify exactly, key order included', () => {
    const expected = JSON.parse(body('06-instance-simplified-tags.txt'));
    expect(JSON.stringify(datasetToOrthancJson(file, 'simplify'))).toBe(JSON.stringify(expected));
  });

  it('gives the default /tags exactly, as far as the captured (truncated) answer goes', () => {
    const truncated = body('05-instance-tags.txt');
    const complete = `${truncated.slice(0, truncated.lastIndexOf('\n   },'))}\n   }\n}`;
    const expected = JSON.parse(complete) as Record<string, unknown>;
    const actual = datasetToOrthancJson(file, 'full');
    const keys = Object.keys(expected);
    expect(keys.length).toBeGreaterThan(30);
    expect(Object.keys(actual).slice(0, keys.length)).toEqual(keys);
    expect(JSON.stringify(Object.fromEntries(keys.map((k) => [k, actual[k]])))).toBe(JSON.stringify(expected));
  });

  it('gives ?short keyed by lower-case tags, sequences as lists', () => {
    const short = datasetToOrthancJson(file, 'short');
    expect(short['0008,0005']).toBe('ISO_IR 100');
    expect(short['0008,103e']).toBe('AX.  FSE PD');
    expect(short['0008,1140']).toEqual([
      { '0008,1150': '1.2.840.10008.5.1.4.1.1.4', '0008,1155': '1.2.840.113619.2.176.2025.1499492.7040.1171286241.719' },
      { '0008,1150': '1.2.840.10008.5.1.4.1.1.4', '0008,1155': '1.2.840.113619.2.176.2025.1499492.7040.1171286241.726' },
    ]);
    expect(Object.keys(short).every((k) => /^[0-9a-f]{4},[0-9a-f]{4}$/.test(k))).toBe(true);
    expect(Object.keys(short).some((k) => k.startsWith('0002,'))).toBe(false);
  });
});

describe('datasetToOrthancJson: Orthanc 1.10 conversion rules', () => {
  it('shows pixel data as a Null leaf and skips the File Meta Information', () => {
    const full = datasetToOrthancJson(sample('SignedCT.dcm'), 'full');
    expect(full['7fe0,0010']).toEqual({ Name: 'PixelData', Type: 'Null', Value: null });
    expect(Object.keys(full).some((k) => k.startsWith('0002,'))).toBe(false);
    expect(datasetToOrthancJson(sample('SignedCT.dcm'), 'simplify').PixelData).toBeNull();
  });

  it('names private tags from the private dictionary of their creator, with "PrivateCreator"', () => {
    const full = datasetToOrthancJson(sample('2019-06-17-VedranZdesic.dcm'), 'full');
    expect(full['0009,0010']).toEqual({ Name: 'PrivateCreator', Type: 'String', Value: 'GEMS_IDEN_01' });
    expect(full['0009,1027']).toEqual({ Name: 'ImageActualDate', PrivateCreator: 'GEMS_IDEN_01', Type: 'String', Value: '1468831631' });
  });

  it('prints FD values as boost::lexical_cast does (17 significant digits)', () => {
    expect(datasetToOrthancJson(sample('2019-06-17-VedranZdesic.dcm'), 'short')['0018,9305']).toBe('0.80000000000000004');
  });

  it('reports values over 256 bytes as TooLong', () => {
    const full = datasetToOrthancJson(sample('DummyCTWithLongTag.dcm'), 'full');
    expect(full['0018,1020']).toEqual({ Name: 'SoftwareVersions', Type: 'TooLong', Value: null });
    expect(datasetToOrthancJson(sample('DummyCTWithLongTag.dcm'), 'short')['0018,1020']).toBeNull();
  });

  it('decodes text in the character set of the file, and reports that character set as written', () => {
    const charset = (name: string) => readFileSync(join(SAMPLES, 'pydicom', 'charset_files', name));
    const japanese = datasetToOrthancJson(charset('chrH31.dcm'), 'simplify');
    expect(japanese.SpecificCharacterSet).toBe('\\ISO 2022 IR 87');
    expect(japanese.PatientName).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    expect(datasetToOrthancJson(charset('chrRuss.dcm'), 'simplify').PatientName).toBe('Люкceмбypг');
    expect(datasetToOrthancJson(charset('chrFren.dcm'), 'simplify').PatientName).toBe('Buc^Jérôme');
  });

  it('keys nameless tags "Unknown Tag & Data" in the simplified form, as Orthanc does', () => {
    const simplified = datasetToOrthancJson(sample('PrivateTags.dcm'), 'simplify');
    expect(simplified).toHaveProperty(['Unknown Tag & Data']);
    expect(Object.keys(simplified)).toEqual([...Object.keys(simplified)].sort());
  });

  it('refuses a file that is not DICOM with BadFileFormat', () => {
    const notDicom = Buffer.from('{"not": "dicom"}'.padEnd(300, ' '));
    expect(() => datasetToOrthancJson(notDicom, 'full')).toThrow(OrthancError);
    try {
      datasetToOrthancJson(notDicom, 'full');
    } catch (error) {
      expect((error as OrthancError).code).toBe(OrthancErrorCode.BadFileFormat);
    }
  });

  it('converts every sample file in the three forms, or refuses it with an OrthancError', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : [join(dir, entry.name)],
      );
    const unexpected: string[] = [];
    let converted = 0;
    for (const path of files(SAMPLES)) {
      const bytes = readFileSync(path);
      try {
        for (const format of ['full', 'short', 'simplify'] as const) datasetToOrthancJson(bytes, format);
        converted++;
      } catch (error) {
        if (!(error instanceof OrthancError)) unexpected.push(`${path}: ${String(error)}`);
      }
    }
    expect(unexpected).toEqual([]);
    expect(converted).toBeGreaterThan(300);
  });
});
