import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OrthancError } from '@deidflow/common';
import { readPart10 } from '../codec/part10';
import { TAGS } from '../dictionary/tag';
import { DicomModification, parseModificationRequest } from '../modification';
import { IMPLEMENTATION_CLASS_UID } from '../modification/product';
import { normalizeToPart10 } from './normalize-part10';
import { parseInstance } from './parse-instance';

const SAMPLES = join(__dirname, '../../../../../shared/dicom-samples');
const sample = (name: string) => new Uint8Array(readFileSync(join(SAMPLES, name)));

function metaText(file: Uint8Array, tag: number): string | undefined {
  const { meta, metaReader } = readPart10(file);
  const element = meta.get(tag);
  return element ? metaReader.asciiOf(element) : undefined;
}

describe('normalizeToPart10', () => {
  it('gives back a Part 10 file unchanged (the same bytes)', () => {
    const file = sample('orthanc-tests/DummyCT.dcm');
    expect(normalizeToPart10(file)).toBe(file);
  });

  it.each([
    ['orthanc-tests/PrivateMDNTags.dcm', '1.2.840.10008.1.2'],
    ['pydicom/test_files/rtstruct.dcm', '1.2.840.10008.1.2'],
    ['pydicom/test_files/ExplVR_LitEndNoMeta.dcm', '1.2.840.10008.1.2.1'],
    ['pydicom/test_files/ExplVR_BigEndNoMeta.dcm', '1.2.840.10008.1.2.2'],
  ])('puts a preamble and a File Meta Information before the bare dataset of %s', (name, transferSyntax) => {
    const raw = sample(name);
    const file = normalizeToPart10(raw);
    expect(Buffer.from(file.subarray(128, 132)).toString('latin1')).toBe('DICM');
    expect(metaText(file, TAGS.TransferSyntaxUID)).toBe(transferSyntax);
    expect(metaText(file, TAGS.ImplementationClassUID)).toBe(IMPLEMENTATION_CLASS_UID);
    const parsed = parseInstance(file);
    expect(metaText(file, TAGS.MediaStorageSOPInstanceUID)).toBe(parsed.identifiers.sopInstanceUid);
    expect(metaText(file, TAGS.MediaStorageSOPClassUID)).toBe(parsed.sopClassUid);
    // The dataset is copied verbatim, so the instance keeps its identity.
    const { dataset } = readPart10(file);
    expect(Buffer.from(dataset).equals(Buffer.from(raw))).toBe(true);
    expect(parsed.ids).toEqual(parseInstance(raw).ids);
    expect(normalizeToPart10(file)).toBe(file);
  });

  it('rebuilds a meta that lacks the transfer syntax (meta_missing_tsyntax.dcm)', () => {
    const file = normalizeToPart10(sample('pydicom/test_files/meta_missing_tsyntax.dcm'));
    expect(metaText(file, TAGS.TransferSyntaxUID)).toBe('1.2.840.10008.1.2');
  });

  it('makes files the engine can anonymize', () => {
    const anonymize = DicomModification.fromRequest(parseModificationRequest({}, { operation: 'anonymize', level: 'Study', scope: 'store' }), {
      secret: 'normalize',
      patientName: 'Anonymized1',
    });
    const output = anonymize.apply(normalizeToPart10(sample('orthanc-tests/PrivateMDNTags.dcm')));
    expect(parseInstance(output).mainDicomTags.patient.PatientName).toBe('Anonymized1');
  });

  it.each([
    ['pydicom/test_files/MR_truncated.dcm', 'the value of (7fe0,0010) at offset 1166 needs 8192 bytes, only 8130 remain'],
    ['pydicom/test_files/rtplan_truncated.dcm', 'the value of (300a,00b0) at offset 1118 needs 976 bytes, only 711 remain'],
  ])('refuses a truncated file (%s), as DCMTK does', (name, reason) => {
    expect(() => normalizeToPart10(sample(name))).toThrow(OrthancError);
    expect(() => normalizeToPart10(sample(name))).toThrow(`Malformed DICOM dataset: truncated data: ${reason}`);
  });
});
