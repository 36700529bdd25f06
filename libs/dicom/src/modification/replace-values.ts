import { OrthancError } from '@deidflow/common';
import { CharacterSet } from '../dictionary/charset';
import { describeTag, lookupTag, parseTag } from '../dictionary/dictionary';
import { formatTag, privateCreatorOf, Tag } from '../dictionary/tag';
import { OutItem, OutNode, upsertNode, ValueNode } from '../codec/out-tree';
import { Encoding, isStringVr, usesCharacterSet } from '../codec/transfer-syntax';
import type { JsonValue } from './request-types';

/**
 * Casting the JSON values of "Replace" to DICOM values ("The value is dynamically cast to the proper
 * DICOM data type (an HTTP error will occur if the cast fails)", Orthanc book). Strings are encoded in
 * the character set the instance declares; a value nobody can cast is a 400 that names the tag and
 * the VR (never the value: it may be patient data).
 */

/** The text encoding of the dataset being written, upgraded to UTF-8 when a file without any declared
 * character set (so, pure ASCII) receives a non-ASCII value. */
export class DatasetText {
  upgradedToUtf8 = false;

  constructor(private charset: CharacterSet) {}

  get characterSet(): CharacterSet {
    return this.charset;
  }

  encode(text: string): Uint8Array | undefined {
    const bytes = this.charset.encode(text);
    if (bytes !== undefined || this.charset !== CharacterSet.DEFAULT) return bytes;
    this.charset = CharacterSet.fromDeclaration('ISO_IR 192');
    this.upgradedToUtf8 = true;
    return this.charset.encode(text);
  }
}

export interface CastContext {
  readonly text: DatasetText;
  readonly encoding: Encoding;
  readonly privateCreator?: string;
}

const NUMBER_LAYOUT: Record<string, { size: number; write: (view: DataView, offset: number, value: number, little: boolean) => void; integer?: [number, number] }> = {
  US: { size: 2, write: (v, o, n, l) => v.setUint16(o, n, l), integer: [0, 0xffff] },
  SS: { size: 2, write: (v, o, n, l) => v.setInt16(o, n, l), integer: [-0x8000, 0x7fff] },
  UL: { size: 4, write: (v, o, n, l) => v.setUint32(o, n, l), integer: [0, 0xffffffff] },
  OL: { size: 4, write: (v, o, n, l) => v.setUint32(o, n, l), integer: [0, 0xffffffff] },
  SL: { size: 4, write: (v, o, n, l) => v.setInt32(o, n, l), integer: [-0x80000000, 0x7fffffff] },
  UV: { size: 8, write: (v, o, n, l) => v.setBigUint64(o, BigInt(n), l), integer: [0, Number.MAX_SAFE_INTEGER] },
  OV: { size: 8, write: (v, o, n, l) => v.setBigUint64(o, BigInt(n), l), integer: [0, Number.MAX_SAFE_INTEGER] },
  SV: { size: 8, write: (v, o, n, l) => v.setBigInt64(o, BigInt(n), l), integer: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER] },
  FL: { size: 4, write: (v, o, n, l) => v.setFloat32(o, n, l) },
  OF: { size: 4, write: (v, o, n, l) => v.setFloat32(o, n, l) },
  FD: { size: 8, write: (v, o, n, l) => v.setFloat64(o, n, l) },
  OD: { size: 8, write: (v, o, n, l) => v.setFloat64(o, n, l) },
};

const STRING_FORMATS: Record<string, { pattern: RegExp; expected: string }> = {
  UI: { pattern: /^(|[0-9]+(\.[0-9]+)*)$/, expected: 'a UID (digits and dots, at most 64 characters)' },
  DA: { pattern: /^(|\d{8})$/, expected: 'a date YYYYMMDD' },
  TM: { pattern: /^(|\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)$/, expected: 'a time HHMMSS.FFFFFF' },
  DT: { pattern: /^(|\d{4}(\d{2}(\d{2}(\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?)?)?)?([+-]\d{4})?)$/, expected: 'a date-time YYYYMMDDHHMMSS.FFFFFF&ZZXX' },
  IS: { pattern: /^ *([+-]?\d{1,10})? *$/, expected: 'an integer string' },
  DS: { pattern: /^ *([+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?)? *$/, expected: 'a decimal string of at most 16 characters' },
  AS: { pattern: /^(|\d{3}[DWMY])$/, expected: 'an age string nnnD, nnnW, nnnM or nnnY' },
};

const DATA_URI = /^data:[^,]*;base64,([A-Za-z0-9+/=\s]*)$/;

function castError(tag: Tag, vr: string, reason: string): OrthancError {
  return OrthancError.badRequest(`Cannot cast the value of ${describeTag(tag)} ${formatTag(tag)} to VR ${vr}: ${reason}`);
}

/** The VR a new element gets: the dictionary's for standard tags, a guess from the value for the others. */
export function vrForNewElement(tag: Tag, value: JsonValue): string {
  const known = lookupTag(tag)?.vr;
  if (known && known !== 'UN') return known;
  if (Array.isArray(value) && value.some((part) => typeof part === 'object' && part !== null)) return 'SQ';
  if (typeof value === 'string' && DATA_URI.test(value)) return 'OB';
  if (typeof value === 'string' && Buffer.byteLength(value) > 64) return 'UT';
  return 'LO';
}

/** The element `tag` holding `value`, cast to `vr`. */
export function castReplacement(tag: Tag, vr: string, value: JsonValue, context: CastContext): OutNode {
  if (vr === 'SQ') return castSequence(tag, value, context);
  if (Array.isArray(value) && value.some((part) => typeof part === 'object' && part !== null)) {
    throw castError(tag, vr, 'a JSON array of objects can only replace a sequence (VR SQ)');
  }
  const node: ValueNode = { kind: 'value', tag, vr, value: castValue(tag, vr, value, context) };
  return node;
}

function castSequence(tag: Tag, value: JsonValue, context: CastContext): OutNode {
  if (value === null || (typeof value === 'string' && value === '')) {
    return { kind: 'sequence', tag, vr: 'SQ', undefinedLength: false, items: [], itemEncoding: context.encoding };
  }
  if (!Array.isArray(value) || value.some((item) => typeof item !== 'object' || item === null || Array.isArray(item))) {
    throw castError(tag, 'SQ', 'a sequence is replaced by a JSON array of objects (one object per item)');
  }
  const items: OutItem[] = value.map((item) => ({
    elements: castItem(item as { [key: string]: JsonValue }, context),
    undefinedLength: false,
  }));
  return { kind: 'sequence', tag, vr: 'SQ', undefinedLength: false, items, itemEncoding: context.encoding };
}

function castItem(item: { [key: string]: JsonValue }, context: CastContext): OutNode[] {
  const elements: OutNode[] = [];
  for (const [name, value] of Object.entries(item)) {
    const tag = parseTag(name);
    elements.push(castReplacement(tag, vrForNewElement(tag, value), value, context));
  }
  elements.sort((a, b) => a.tag - b.tag);
  for (const element of [...elements]) {
    const creator = privateCreatorOf(element.tag);
    if (creator !== undefined && !elements.some((other) => other.tag === creator)) {
      upsertNode(elements, privateCreatorNode(creator, element.tag, context));
    }
  }
  return elements;
}

/** The private creator element reserving the block of `privateTag`, from the "PrivateCreator" option. */
export function privateCreatorNode(creator: Tag, privateTag: Tag, context: CastContext): ValueNode {
  if (!context.privateCreator) {
    throw OrthancError.badRequest(
      `Private tag ${formatTag(privateTag)} has no private creator ${formatTag(creator)}: give one with the "PrivateCreator" option`,
    );
  }
  return { kind: 'value', tag: creator, vr: 'LO', value: castValue(creator, 'LO', context.privateCreator, context) };
}

/** The encoded, even-length value of a non-sequence element. */
export function castValue(tag: Tag, vr: string, value: JsonValue, context: CastContext): Uint8Array {
  if (typeof value === 'boolean' || (typeof value === 'object' && value !== null && !Array.isArray(value))) {
    throw castError(tag, vr, `a JSON ${typeof value === 'boolean' ? 'Boolean' : 'object'} is not a DICOM value`);
  }
  if (typeof value === 'string') {
    const dataUri = DATA_URI.exec(value);
    if (dataUri) return pad(Buffer.from(dataUri[1], 'base64'), vr);
  }
  const parts = value === null ? [] : Array.isArray(value) ? value : [value];
  if (parts.some((part) => part !== null && typeof part !== 'string' && typeof part !== 'number')) {
    throw castError(tag, vr, 'the values of a multi-valued element are strings or numbers');
  }
  const scalars = parts as (string | number | null)[];
  if (vr === 'AT') return castTags(tag, scalars, context.encoding);
  const layout = NUMBER_LAYOUT[vr];
  if (layout) return castNumbers(tag, vr, scalars, layout, context.encoding);
  if (vr === 'OB' || vr === 'UN' || vr === 'OW') return castBytes(tag, vr, scalars, context.encoding);
  return castText(tag, isStringVr(vr) ? vr : 'UT', scalars, context);
}

/** Multi-valued strings are joined with '\' (a string may carry its own '\' separators too). */
function castText(tag: Tag, vr: string, parts: (string | number | null)[], context: CastContext): Uint8Array {
  const components = parts
    .map((part) => (part === null ? '' : typeof part === 'number' ? numberToText(tag, vr, part) : part))
    .join('\\');
  const format = STRING_FORMATS[vr];
  if (format) {
    for (const component of components.split('\\')) {
      const valid = format.pattern.test(component) && (vr !== 'UI' || component.length <= 64) && (vr !== 'DS' || component.length <= 16);
      if (!valid || (vr === 'IS' && !isInt32(component))) throw castError(tag, vr, `expected ${format.expected}`);
    }
  }
  let bytes: Uint8Array | undefined;
  if (usesCharacterSet(vr)) {
    bytes = context.text.encode(components);
    if (!bytes) {
      const declared = context.text.characterSet.declared || 'the default repertoire';
      throw castError(tag, vr, `some characters cannot be encoded in the character set of the instance (${declared})`);
    }
  } else {
    if (!/^[\x00-\x7f]*$/.test(components)) throw castError(tag, vr, 'only the default character repertoire (ASCII) is allowed');
    bytes = Buffer.from(components, 'latin1');
  }
  return pad(bytes, vr);
}

function numberToText(tag: Tag, vr: string, value: number): string {
  if (!Number.isFinite(value)) throw castError(tag, vr, 'not a finite number');
  if (vr === 'IS' && !Number.isInteger(value)) throw castError(tag, vr, 'expected an integer');
  if (vr !== 'DS') return String(value);
  const text = String(value);
  return text.length <= 16 ? text : value.toPrecision(10).replace(/\.?0+(e|$)/, '$1');
}

function isInt32(component: string): boolean {
  const trimmed = component.trim();
  if (trimmed === '') return true;
  const value = Number(trimmed);
  return value >= -0x80000000 && value <= 0x7fffffff;
}

function castNumbers(
  tag: Tag,
  vr: string,
  parts: (string | number | null)[],
  layout: (typeof NUMBER_LAYOUT)[string],
  encoding: Encoding,
): Uint8Array {
  const numbers = parts
    .flatMap((part): (string | number | null)[] => (typeof part === 'string' ? part.split('\\') : [part]))
    .filter((part) => part !== null && part !== '')
    .map((part) => (typeof part === 'number' ? part : Number((part as string).trim())));
  const out = new Uint8Array(numbers.length * layout.size);
  const view = new DataView(out.buffer);
  numbers.forEach((number, index) => {
    const [min, max] = layout.integer ?? [-Infinity, Infinity];
    if (!Number.isFinite(number) || (layout.integer && (!Number.isInteger(number) || number < min || number > max))) {
      throw castError(tag, vr, layout.integer ? `expected integers from ${min} to ${max}` : 'expected numbers');
    }
    layout.write(view, index * layout.size, number, encoding.littleEndian);
  });
  return out;
}

function castTags(tag: Tag, parts: (string | number | null)[], encoding: Encoding): Uint8Array {
  const names = parts.flatMap((part) => (typeof part === 'string' ? part.split('\\') : part === null ? [] : [String(part)]));
  const out = new Uint8Array(names.length * 4);
  const view = new DataView(out.buffer);
  names.forEach((name, index) => {
    let value: Tag;
    try {
      value = parseTag(name);
    } catch {
      throw castError(tag, 'AT', 'expected tags such as "0010,0020" or keywords');
    }
    view.setUint16(index * 4, value >>> 16, encoding.littleEndian);
    view.setUint16(index * 4 + 2, value & 0xffff, encoding.littleEndian);
  });
  return out;
}

/** OB/UN: the bytes of the string, or byte values; OW: 16-bit words. Binary data usually comes as a data: URI. */
function castBytes(tag: Tag, vr: string, parts: (string | number | null)[], encoding: Encoding): Uint8Array {
  if (parts.every((part) => typeof part === 'string' || part === null)) {
    return pad(Buffer.from(parts.map((part) => part ?? '').join('\\'), 'utf8'), vr);
  }
  const wordSize = vr === 'OW' ? 2 : 1;
  const out = new Uint8Array(parts.length * wordSize);
  const view = new DataView(out.buffer);
  parts.forEach((part, index) => {
    const number = typeof part === 'number' ? part : Number.NaN;
    if (!Number.isInteger(number) || number < 0 || number >= 2 ** (8 * wordSize)) {
      throw castError(tag, vr, `expected a data: URI, a string or ${wordSize === 2 ? '16-bit words' : 'bytes'}`);
    }
    if (wordSize === 2) view.setUint16(index * 2, number, encoding.littleEndian);
    else out[index] = number;
  });
  return pad(out, vr);
}

/** Even length (PS3.5 7.1.1): UIDs and binary values are padded with NUL, text with a space. */
function pad(bytes: Uint8Array, vr: string): Uint8Array {
  if (bytes.length % 2 === 0) return bytes;
  const padded = new Uint8Array(bytes.length + 1);
  padded.set(bytes);
  padded[bytes.length] = vr === 'UI' || !isStringVr(vr) ? 0x00 : 0x20;
  return padded;
}
