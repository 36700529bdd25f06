/**
 * Text in the dataset's own character set (0008,0005). DeidFlow never re-encodes the values it does
 * not touch; it only needs to decode a few values (PatientID for the pseudonym) and to encode the
 * values it writes in the character set the file already declares.
 */

/** Single-byte character sets of PS3.3 C.12.1.1.2 and the WHATWG labels of their tables. */
const SINGLE_BYTE_LABELS: Record<string, string> = {
  'ISO_IR 100': 'latin1',
  'ISO_IR 101': 'iso-8859-2',
  'ISO_IR 109': 'iso-8859-3',
  'ISO_IR 110': 'iso-8859-4',
  'ISO_IR 144': 'iso-8859-5',
  'ISO_IR 127': 'iso-8859-6',
  'ISO_IR 126': 'iso-8859-7',
  'ISO_IR 138': 'iso-8859-8',
  'ISO_IR 148': 'iso-8859-9',
  'ISO_IR 203': 'iso-8859-15',
  'ISO_IR 166': 'windows-874',
};

const MULTI_BYTE_LABELS: Record<string, string> = {
  'ISO_IR 192': 'utf-8',
  GB18030: 'gb18030',
  GBK: 'gbk',
  'ISO_IR 13': 'shift_jis',
  'ISO 2022 IR 13': 'shift_jis',
  'ISO 2022 IR 87': 'iso-2022-jp',
  'ISO 2022 IR 149': 'euc-kr',
};

export class CharacterSet {
  private encodeTable?: Map<string, number>;

  private constructor(
    /** The value of (0008,0005) as found, '' when absent (default repertoire). */
    readonly declared: string,
    /** The term in force at the start of a value: the first of a multi-valued ISO 2022 declaration. */
    private readonly initialTerm: string,
  ) {}

  static readonly DEFAULT = new CharacterSet('', '');

  /** From the raw value of SpecificCharacterSet ('ISO_IR 100', '\\ISO 2022 IR 87', 'ISO 2022 IR 100\\ISO 2022 IR 126'). */
  static fromDeclaration(declared: string): CharacterSet {
    const trimmed = declared.trim();
    if (trimmed === '') return CharacterSet.DEFAULT;
    const first = trimmed.split('\\')[0].trim().replace(/^ISO 2022 IR /, 'ISO_IR ');
    return new CharacterSet(trimmed, first);
  }

  get isUtf8(): boolean {
    return this.initialTerm === 'ISO_IR 192';
  }

  decode(bytes: Uint8Array): string {
    if (isAscii(bytes)) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const label = SINGLE_BYTE_LABELS[this.initialTerm] ?? MULTI_BYTE_LABELS[this.initialTerm];
    if (label === undefined || label === 'latin1') {
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    }
    return new TextDecoder(label).decode(bytes);
  }

  /** The bytes of `text` in this character set, or undefined when a character has no code in it. */
  encode(text: string): Uint8Array | undefined {
    if (/^[\x00-\x7f]*$/.test(text)) return Buffer.from(text, 'latin1');
    if (this.isUtf8) return Buffer.from(text, 'utf8');
    const label = SINGLE_BYTE_LABELS[this.initialTerm];
    if (label === undefined) return undefined;
    const table = this.singleByteTable(label);
    const out = new Uint8Array(text.length);
    let length = 0;
    for (const char of text) {
      const code = char.charCodeAt(0) < 0x80 && char.length === 1 ? char.charCodeAt(0) : table.get(char);
      if (code === undefined) return undefined;
      out[length++] = code;
    }
    return out.subarray(0, length);
  }

  private singleByteTable(label: string): Map<string, number> {
    if (this.encodeTable) return this.encodeTable;
    const table = new Map<string, number>();
    // latin1: code points 0xA0-0xFF are the bytes themselves (the WHATWG 'latin1' label is windows-1252).
    const decoder = label === 'latin1' ? undefined : new TextDecoder(label);
    for (let byte = 0xa0; byte <= 0xff; byte++) {
      const char = decoder ? decoder.decode(Uint8Array.of(byte)) : String.fromCharCode(byte);
      if (char !== '\ufffd' && !table.has(char)) table.set(char, byte);
    }
    this.encodeTable = table;
    return table;
  }
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) return false;
  }
  return true;
}
