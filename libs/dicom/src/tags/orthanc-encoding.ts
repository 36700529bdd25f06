import { TextDecoder } from 'node:util';

/**
 * Text decoding as Orthanc does it for its JSON (FromDcmtkBridge::DetectEncoding, Toolbox::ConvertToUtf8):
 * the first non-empty term of SpecificCharacterSet chooses the encoding of the whole file, nested items
 * included; no SpecificCharacterSet means the default encoding (Latin1); a term Orthanc does not know
 * means ASCII, whose conversion drops every non-printable or non-ASCII byte.
 */

/** Orthanc's encodings, as WHATWG labels; 'latin1' and 'ascii' are decoded by hand (see decodeText). */
const ENCODING_BY_TERM: Record<string, string> = {
  'ISO_IR 6': 'ascii',
  'ISO 2022 IR 6': 'ascii',
  'ISO_IR 192': 'utf-8',
  'ISO_IR 100': 'latin1',
  'ISO 2022 IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO 2022 IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO 2022 IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO 2022 IR 110': 'iso-8859-4',
  'ISO_IR 148': 'iso-8859-9',
  'ISO 2022 IR 148': 'iso-8859-9',
  'ISO_IR 144': 'iso-8859-5',
  'ISO 2022 IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO 2022 IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO 2022 IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO 2022 IR 138': 'iso-8859-8',
  'ISO_IR 166': 'tis-620',
  'ISO 2022 IR 166': 'tis-620',
  'ISO_IR 13': 'shift_jis',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr',
  'ISO 2022 IR 58': 'gb2312',
  GB18030: 'gb18030',
  GBK: 'gb18030',
};

const DEFAULT_ENCODING = 'latin1';

export interface OrthancEncoding {
  readonly label: string;
  /** SpecificCharacterSet has several terms: ISO 2022 escape sequences are removed after decoding. */
  readonly hasCodeExtensions: boolean;
}

/** Whether Orthanc knows this SpecificCharacterSet term (GetDicomEncoding). */
export function isKnownCharacterSet(term: string): boolean {
  return ENCODING_BY_TERM[term.trim().toUpperCase()] !== undefined;
}

/** From the raw value of (0008,0005), or undefined when the dataset has none. */
export function detectEncoding(specificCharacterSet: string | undefined): OrthancEncoding {
  if (specificCharacterSet === undefined) return { label: DEFAULT_ENCODING, hasCodeExtensions: false };
  const terms = specificCharacterSet.split('\\');
  const hasCodeExtensions = terms.length > 1;
  const first = terms.map((term) => term.trim()).find((term) => term !== '');
  if (first === undefined) return { label: DEFAULT_ENCODING, hasCodeExtensions };
  return { label: ENCODING_BY_TERM[first.toUpperCase()] ?? 'ascii', hasCodeExtensions };
}

const decoders = new Map<string, TextDecoder>();

export function decodeText(bytes: Uint8Array, encoding: OrthancEncoding): string {
  const text = decodeWith(bytes, encoding.label);
  // Toolbox::RemoveIso2022EscapeSequences: ESC, intermediate bytes, final byte.
  return encoding.hasCodeExtensions ? text.replace(/\x1b[\x20-\x2f]*[\x30-\x7e]/g, '') : text;
}

function decodeWith(bytes: Uint8Array, label: string): string {
  switch (label) {
    case 'ascii':
      return toAscii(bytes);
    case 'latin1':
      // True ISO 8859-1 (the WHATWG 'latin1' label is windows-1252).
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    default: {
      let decoder = decoders.get(label);
      if (!decoder) {
        decoder = new TextDecoder(label, { ignoreBOM: true });
        decoders.set(label, decoder);
      }
      // boost::locale skips what it cannot convert, where TextDecoder puts U+FFFD.
      return decoder.decode(bytes).replace(/\uFFFD/g, '');
    }
  }
}

/** Toolbox::ConvertToAscii: keeps printable ASCII only. */
function toAscii(bytes: Uint8Array): string {
  let text = '';
  for (const byte of bytes) {
    if (byte >= 0x20 && byte < 0x7f) text += String.fromCharCode(byte);
  }
  return text;
}
