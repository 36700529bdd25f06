import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { DicomModification } from './dicom-modification';
import { parseModificationRequest } from './parse-request';

/** DCMTK reads our outputs without errors (skipped where dcmtk is not installed). */
const hasDcmdump = spawnSync('dcmdump', ['--version']).status === 0;
const SAMPLES = path.join(__dirname, '../../../../../shared/dicom-samples');
const FILES = [
  'orthanc-tests/DummyCT.dcm',
  'orthanc-tests/PrivateMDNTags.dcm',
  'orthanc-tests/PrivateTags.dcm',
  'orthanc-tests/MarekLatin2.dcm',
  'orthanc-tests/LenaTwiceWithFragments.dcm',
  'orthanc-tests/DicomSeg.dcm',
  'orthanc-tests/2020-09-12-ELSCINT1-PMSCT_RLE1.dcm',
  'orthanc-tests/HierarchicalAnonymization/RTH/RT.dcm',
  'orthanc-tests/HierarchicalAnonymization/StructuredReports/IM0',
  'pydicom/test_files/CT_small.dcm',
  'pydicom/test_files/MR_small_bigendian.dcm',
  'pydicom/test_files/ExplVR_BigEndNoMeta.dcm',
  'pydicom/test_files/image_dfl.dcm',
  'pydicom/test_files/UN_sequence.dcm',
  'pydicom/test_files/nested_priv_SQ.dcm',
  'pydicom/test_files/rtplan.dcm',
  'pydicom/test_files/JPEG2000.dcm',
  'pydicom/charset_files/chrH31.dcm',
];

function dcmdump(file: string): { status: number | null; errors: string[] } {
  const result = spawnSync('dcmdump', ['-q', file], { encoding: 'latin1' });
  return { status: result.status, errors: `${result.stdout}${result.stderr}`.split('\n').filter((line) => line.startsWith('E:')) };
}

(hasDcmdump ? describe : describe.skip)('dcmdump', () => {
  // Made in beforeAll, not while collecting: a skipped describe (no dcmdump) runs no afterAll to remove it.
  let directory: string;
  beforeAll(() => {
    directory = fs.mkdtempSync(path.join(os.tmpdir(), 'deidflow-dcmdump-'));
  });
  afterAll(() => fs.rmSync(directory, { recursive: true, force: true }));

  it.each(FILES)('reads the anonymized and the modified %s', (file) => {
    const input = path.join(SAMPLES, file);
    const outputs = [
      parseModificationRequest({}, { operation: 'anonymize', level: 'Instance', scope: 'download' }),
      parseModificationRequest({ Replace: { InstitutionName: 'X', 'ReferencedImageSequence[*].ReferencedSOPClassUID': '1.2' } }, { operation: 'modify', level: 'Study', scope: 'store' }),
    ].map((request) => DicomModification.fromRequest(request, { secret: 'dcmdump', patientName: 'Anonymized1' }).apply(fs.readFileSync(input)));
    outputs.forEach((output, index) => {
      const written = path.join(directory, `${index}-${path.basename(file)}`);
      fs.writeFileSync(written, output);
      expect({ file, index, ...dcmdump(written) }).toEqual({ file, index, status: 0, errors: [] });
    });
  });
});
