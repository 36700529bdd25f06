import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrthancError } from '@deidflow/common';
import { encodedDatasetOf, part10HeaderLength, readPart10 } from '../codec/part10';
import { TAGS } from '../dictionary/tag';
import { parseInstance } from '../parse/parse-instance';
import { isStorageSopClass, negotiateStorage, VERIFICATION_SOP_CLASS } from './negotiation';
import { assertAnnouncedInstance, DatasetMismatchError, StoreCommand, storedFileHeader } from './received-dataset';

/** The file the SCP stores: the header it makes from the request, then the dataset as received. */
function fileOfStoredDataset(dataset: Uint8Array, command: StoreCommand): Uint8Array {
  const file = Buffer.concat([storedFileHeader(command), dataset]);
  assertAnnouncedInstance(file, command);
  return file;
}

const SAMPLES = join(__dirname, '../../../../../shared/dicom-samples');
const sample = (name: string) => new Uint8Array(readFileSync(join(SAMPLES, name)));

const CT = '1.2.840.10008.5.1.4.1.1.2';
const EXPLICIT = '1.2.840.10008.1.2.1';
const IMPLICIT = '1.2.840.10008.1.2';
const BIG_ENDIAN = '1.2.840.10008.1.2.2';
const JPEG_LS = '1.2.840.10008.1.2.4.80';

function metaText(file: Uint8Array, tag: number): string | undefined {
  const { meta, metaReader } = readPart10(file);
  const element = meta.get(tag);
  return element ? metaReader.asciiOf(element) : undefined;
}

/** What a C-STORE carries for a stored file: the dataset as encoded, its UIDs and transfer syntax. */
function asReceived(name: string) {
  const file = sample(name);
  const parsed = parseInstance(file);
  return {
    // As encoded (a deflated one deflated): every byte after the meta.
    dataset: file.subarray(132 + metaLength(file)),
    command: { sopClassUid: parsed.sopClassUid, sopInstanceUid: parsed.identifiers.sopInstanceUid, transferSyntaxUid: parsed.transferSyntaxUid, callingAeTitle: 'MODALITY ' },
    parsed,
  };
}

/** The meta group's size: its group length element (12 bytes) and the value that element gives. */
function metaLength(file: Uint8Array): number {
  return 12 + new DataView(file.buffer, file.byteOffset).getUint32(140, true);
}

describe('storedFileHeader and assertAnnouncedInstance', () => {
  it.each(['orthanc-tests/DummyCT.dcm', 'pydicom/test_files/MR_small_jpeg_ls_lossless.dcm', 'pydicom/test_files/image_dfl.dcm', 'pydicom/test_files/MR_small_bigendian.dcm'])(
    'makes the Part 10 file of a dataset received as %s travels: the same instance, its bytes verbatim',
    (name) => {
      const { dataset, command, parsed } = asReceived(name);
      const file = fileOfStoredDataset(dataset, command);
      expect(Buffer.from(file.subarray(file.length - dataset.length)).equals(Buffer.from(dataset))).toBe(true);
      expect(metaText(file, TAGS.TransferSyntaxUID)).toBe(command.transferSyntaxUid);
      expect(metaText(file, TAGS.MediaStorageSOPInstanceUID)).toBe(command.sopInstanceUid);
      expect(metaText(file, TAGS.SourceApplicationEntityTitle)).toBe('MODALITY');
      expect(parseInstance(file).ids).toEqual(parsed.ids);
    },
  );

  it('refuses a dataset that is not the instance its request announced (A900), and one that is not DICOM', () => {
    const { dataset, command } = asReceived('orthanc-tests/DummyCT.dcm');
    expect(() => fileOfStoredDataset(dataset, { ...command, sopInstanceUid: '1.2.3' })).toThrow(DatasetMismatchError);
    expect(() => fileOfStoredDataset(dataset, { ...command, sopClassUid: '1.2.840.10008.5.1.4.1.1.7' })).toThrow(DatasetMismatchError);
    expect(() => fileOfStoredDataset(Buffer.from('not a dataset at all'), command)).toThrow(OrthancError);
    // (0010,0010) PatientName alone, implicit VR: a dataset, but no instance (C000 rather than A900).
    const nameOnly = Buffer.from([0x10, 0x00, 0x10, 0x00, 4, 0, 0, 0, 0x41, 0x5e, 0x42, 0x20]);
    expect(() => fileOfStoredDataset(nameOnly, { ...command, transferSyntaxUid: IMPLICIT })).toThrow(OrthancError);
    expect(() => fileOfStoredDataset(dataset.subarray(0, 200), command)).toThrow(OrthancError);
  });
});

describe('negotiateStorage', () => {
  it('accepts Verification and storage classes, an uncompressed syntax first, else a known encapsulated one', () => {
    expect(
      negotiateStorage([
        { id: 1, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: [IMPLICIT] },
        { id: 3, abstractSyntaxUid: CT, transferSyntaxUids: [JPEG_LS, IMPLICIT, EXPLICIT] },
        { id: 5, abstractSyntaxUid: CT, transferSyntaxUids: [JPEG_LS] },
        { id: 7, abstractSyntaxUid: CT, transferSyntaxUids: ['1.2.3.4.private'] },
        { id: 9, abstractSyntaxUid: '1.2.840.10008.5.1.4.1.2.2.1', transferSyntaxUids: [EXPLICIT] }, // study root C-FIND
        { id: 11, abstractSyntaxUid: VERIFICATION_SOP_CLASS, transferSyntaxUids: [JPEG_LS] },
        { id: 13, abstractSyntaxUid: CT, transferSyntaxUids: [IMPLICIT, BIG_ENDIAN] },
      ]),
    ).toEqual([
      { id: 1, transferSyntaxUid: IMPLICIT },
      { id: 3, transferSyntaxUid: EXPLICIT },
      { id: 5, transferSyntaxUid: JPEG_LS },
      { id: 7, rejected: 'transfer-syntaxes-not-supported' },
      { id: 9, rejected: 'abstract-syntax-not-supported' },
      { id: 11, rejected: 'transfer-syntaxes-not-supported' },
      { id: 13, transferSyntaxUid: BIG_ENDIAN }, // as DCMTK's storescp: explicit VR first, whatever the byte order
    ]);
  });

  it('knows storage SOP classes from queries and private classes', () => {
    expect(isStorageSopClass('1.2.840.10008.5.1.4.1.1.88.22')).toBe(true); // Enhanced SR
    expect(isStorageSopClass('1.2.840.10008.5.1.4.38.1')).toBe(true); // Hanging Protocol
    expect(isStorageSopClass('1.2.840.10008.5.1.4.1.2.1.1')).toBe(false); // Patient Root Q/R Find
    expect(isStorageSopClass('1.2.840.10008.5.1.4.38.2')).toBe(false); // Hanging Protocol Find
    expect(isStorageSopClass('1.2.840.10008.5.1.4.34.6.1')).toBe(false); // UPS Push
    expect(isStorageSopClass('1.3.46.670589.11.0.0.12.1')).toBe(false); // private
  });
});

describe('part10HeaderLength', () => {
  it('tells where the dataset starts from the first 144 bytes of a file, and nothing when they cannot tell', () => {
    const file = Buffer.from(sample('orthanc-tests/DummyCT.dcm'));
    const length = part10HeaderLength(file.subarray(0, 144));
    expect(length).toBe(132 + 12 + file.readUInt32LE(140));
    expect(encodedDatasetOf(file).dataset.length).toBe(file.length - length!);
    expect(part10HeaderLength(file.subarray(0, 143))).toBeUndefined();
    expect(part10HeaderLength(Buffer.alloc(200))).toBeUndefined();
  });
});
