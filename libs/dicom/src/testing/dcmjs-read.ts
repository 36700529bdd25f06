import * as dcmjs from 'dcmjs';
import { OrthancError } from '@deidflow/common';
import { silenceDcmjsLogs } from '../dictionary/dictionary';

/** An element as dcmjs returns it: `_rawValue` holds the decoded text before numbers are parsed. */
export interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  _rawValue?: unknown;
  InlineBinary?: string;
}
export type DcmjsDict = Record<string, DcmjsElement>;

export interface DcmjsFile {
  meta: DcmjsDict;
  dict: DcmjsDict;
}

const PIXEL_DATA = '7FE00010';

silenceDcmjsLogs();

/** Bytes as the ArrayBuffer dcmjs wants, without copying when the view covers its whole buffer. */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) {
    return bytes.buffer;
  }
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

/**
 * Reads a DICOM Part 10 file with dcmjs. `headerOnly` stops before Pixel Data, which is all the
 * index needs. Every failure becomes a BadFileFormat with the reason, never an untyped error.
 */
export function readDicomFile(bytes: Uint8Array, options: { headerOnly?: boolean } = {}): DcmjsFile {
  if (bytes.byteLength < 132) {
    throw OrthancError.badFileFormat(`Cannot parse an invalid DICOM file (size: ${bytes.byteLength} bytes)`);
  }
  const magic = bytes[128] === 0x44 && bytes[129] === 0x49 && bytes[130] === 0x43 && bytes[131] === 0x4d;
  if (!magic) {
    throw OrthancError.badFileFormat(
      `Cannot parse an invalid DICOM file (size: ${bytes.byteLength} bytes): no "DICM" prefix at offset 128 (not a DICOM Part 10 file)`,
    );
  }
  try {
    const parsed = dcmjs.data.DicomMessage.readFile(toArrayBuffer(bytes), {
      ignoreErrors: true,
      ...(options.headerOnly ? { untilTag: PIXEL_DATA, includeUntilTagValue: false } : {}),
    }) as unknown as DcmjsFile;
    return parsed;
  } catch (err) {
    throw OrthancError.badFileFormat(`Cannot parse the DICOM file (size: ${bytes.byteLength} bytes): ${describe(err)}`);
  }
}

function describe(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // dcmjs messages describe structure (offsets, VRs), never values; cap their length anyway.
  return message.length > 200 ? `${message.slice(0, 200)}...` : message;
}

/** The value of an element as Orthanc's DicomMap holds it: text, multi-values joined by '\', padding stripped. */
export function elementToString(element: DcmjsElement | undefined): string | undefined {
  if (!element) return undefined;
  const raw = element._rawValue ?? element.Value;
  if (raw === undefined || raw === null) return '';
  const parts = Array.isArray(raw) ? raw : [raw];
  if (parts.some((p) => p !== null && typeof p === 'object')) {
    // Person names parsed into components, or binary values: fall back to the parsed form.
    if (element.vr === 'PN' && Array.isArray(element.Value)) {
      return element.Value.map((v) => personNameToString(v)).join('\\');
    }
    return undefined;
  }
  return parts
    .map((p) => (p === null || p === undefined ? '' : String(p)))
    .join('\\')
    .replace(/[\s\0]+$/, '');
}

function personNameToString(value: unknown): string {
  if (typeof value === 'string') return value;
  const pn = value as { Alphabetic?: string; Ideographic?: string; Phonetic?: string };
  const groups = [pn.Alphabetic ?? '', pn.Ideographic ?? '', pn.Phonetic ?? ''];
  while (groups.length > 1 && groups[groups.length - 1] === '') groups.pop();
  return groups.join('=');
}
