import * as dcmjs from 'dcmjs';

/** A DICOM file as dcmjs's naturalized dataset (keywords as keys), meta header separate. */
export function readDataset(bytes: Buffer): { meta: Record<string, any>; dataset: Record<string, any>; raw: Record<string, any> } {
  const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const file = dcmjs.data.DicomMessage.readFile(ab, { ignoreErrors: true });
  return {
    meta: dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.meta),
    dataset: dcmjs.data.DicomMetaDictionary.naturalizeDataset(file.dict),
    raw: file.dict,
  };
}

/** Tags of odd groups (private), top level. */
export function privateTags(raw: Record<string, unknown>): string[] {
  return Object.keys(raw).filter((tag) => parseInt(tag.slice(0, 4), 16) % 2 === 1);
}
