import { UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { Tag, TAGS } from '../dictionary/tag';
import { SeededRandom } from '../synthetic/random';
import { Site } from './structure';

/** A mutated copy of a file, with what was done to it (enough to reproduce and to read a failure). */
export interface Mutant {
  readonly bytes: Uint8Array;
  readonly mutations: readonly string[];
}

/** VRs that change how a header is read: short/long headers, sequences, binary, text, nonsense. */
const VRS = ['SQ', 'UN', 'OB', 'OW', 'UT', 'UC', 'US', 'UL', 'FD', 'AT', 'PN', 'UI', 'DS', 'LO', 'XX', 'ob', '\0\0', '  '];

/** Tags that steer a reader into its special cases. */
const TAG_CHOICES: readonly Tag[] = [
  TAGS.PixelData,
  TAGS.Item,
  TAGS.ItemDelimitationItem,
  TAGS.SequenceDelimitationItem,
  TAGS.TransferSyntaxUID,
  TAGS.SpecificCharacterSet,
  TAGS.PatientName,
  TAGS.SOPInstanceUID,
  0x00081140, // ReferencedImageSequence (SQ)
  0x00091010, // private, no creator
  0x00090010, // private creator
  0x00080000, // group length
  0x00000000,
  0xffffffff,
  TAGS.DataSetTrailingPadding,
];

type Operator = (file: Uint8Array, sites: readonly Site[], random: SeededRandom) => { bytes: Uint8Array; what: string };

/** Mutations that keep the size: lengths, VRs, tags, delimiters, random bytes. */
const IN_PLACE: Record<string, Operator> = {
  length: (file, sites, random) => {
    const site = random.pick(sites);
    const value = random.pick(interestingLengths(site, file.length, random));
    const bytes = Uint8Array.from(file);
    const view = new DataView(bytes.buffer);
    if (site.lengthOffset + site.lengthSize > bytes.length) return { bytes, what: 'length (no room)' };
    if (site.lengthSize === 2) view.setUint16(site.lengthOffset, value & 0xffff, site.littleEndian);
    else view.setUint32(site.lengthOffset, value >>> 0, site.littleEndian);
    return { bytes, what: `length@${site.lengthOffset}=0x${(value >>> 0).toString(16)}` };
  },
  vr: (file, sites, random) => {
    const explicit = sites.filter((site) => site.vrOffset !== undefined);
    const bytes = Uint8Array.from(file);
    if (explicit.length === 0) return { bytes, what: 'vr (implicit file)' };
    const site = random.pick(explicit);
    const vr = random.next() < 0.85 ? random.pick(VRS) : String.fromCharCode(random.int(0, 255), random.int(0, 255));
    bytes[site.vrOffset as number] = vr.charCodeAt(0);
    bytes[(site.vrOffset as number) + 1] = vr.charCodeAt(1);
    return { bytes, what: `vr@${site.vrOffset}=${JSON.stringify(vr)}` };
  },
  tag: (file, sites, random) => {
    const site = random.pick(sites);
    const tag = random.next() < 0.8 ? random.pick(TAG_CHOICES) : random.nextUint32();
    const bytes = Uint8Array.from(file);
    writeTag(bytes, site.offset, tag, site.littleEndian);
    return { bytes, what: `tag@${site.offset}=${tag.toString(16).padStart(8, '0')}` };
  },
  delimiter: (file, sites, random) => {
    const structural = sites.filter((site) => site.kind !== 'element');
    const site = structural.length > 0 && random.next() < 0.8 ? random.pick(structural) : random.pick(sites);
    const bytes = Uint8Array.from(file);
    const tag = random.pick([TAGS.Item, TAGS.ItemDelimitationItem, TAGS.SequenceDelimitationItem]);
    writeTag(bytes, site.offset, tag, site.littleEndian);
    const length = random.pick([0, 8, UNDEFINED_LENGTH, random.nextUint32()]);
    if (site.offset + 8 <= bytes.length) new DataView(bytes.buffer).setUint32(site.offset + 4, length, site.littleEndian);
    return { bytes, what: `delimiter@${site.offset}=${tag.toString(16)}/len 0x${length.toString(16)}` };
  },
  bytes: (file, _sites, random) => {
    const bytes = Uint8Array.from(file);
    const count = random.int(1, 8);
    const positions: number[] = [];
    for (let i = 0; i < count; i++) {
      const position = random.int(0, bytes.length - 1);
      bytes[position] = random.int(0, 255);
      positions.push(position);
    }
    return { bytes, what: `bytes@${positions.join(',')}` };
  },
};

/** Mutations that change the size: truncation, removed, duplicated or inserted structures. */
const RESIZING: Record<string, Operator> = {
  truncate: (file, sites, random) => {
    const site = random.pick(sites);
    const cut = random.next() < 0.5 ? random.int(0, file.length - 1) : Math.min(file.length - 1, site.offset + random.int(0, 12));
    return { bytes: file.slice(0, cut), what: `truncate@${cut}` };
  },
  remove: (file, sites, random) => {
    const site = random.pick(sites);
    const end = site.kind === 'element' && random.next() < 0.5 ? site.end : site.offset + 8;
    return { bytes: concat(file.subarray(0, site.offset), file.subarray(Math.min(end, file.length))), what: `remove@${site.offset}..${end}` };
  },
  duplicate: (file, sites, random) => {
    const site = random.pick(sites);
    const end = Math.min(site.kind === 'element' ? site.end : site.offset + 8, file.length);
    const copy = file.subarray(site.offset, end);
    return { bytes: concat(file.subarray(0, end), copy, file.subarray(end)), what: `duplicate@${site.offset}..${end}` };
  },
  insert: (file, sites, random) => {
    const site = random.pick(sites);
    const header = new Uint8Array(8);
    writeTag(header, 0, random.pick([TAGS.Item, TAGS.ItemDelimitationItem, TAGS.SequenceDelimitationItem]), site.littleEndian);
    new DataView(header.buffer).setUint32(4, random.pick([0, UNDEFINED_LENGTH, 16]), site.littleEndian);
    return { bytes: concat(file.subarray(0, site.offset), header, file.subarray(site.offset)), what: `insert@${site.offset}` };
  },
};

const IN_PLACE_NAMES = Object.keys(IN_PLACE);
const RESIZING_NAMES = Object.keys(RESIZING);

/**
 * One seeded mutant of `file`: one to three in-place mutations aimed at the sites (lengths, VRs,
 * tags, delimiters, bytes), then, half of the time, one that changes the size. Site offsets stay
 * valid because the size changes last.
 */
export function mutate(file: Uint8Array, sites: readonly Site[], random: SeededRandom): Mutant {
  const targets = sites.length > 0 ? sites : [fallbackSite(file)];
  let bytes = file;
  const mutations: string[] = [];
  const count = random.int(1, 3);
  for (let i = 0; i < count; i++) {
    const result = IN_PLACE[random.pick(IN_PLACE_NAMES)](bytes, targets, random);
    bytes = result.bytes;
    mutations.push(result.what);
  }
  if (random.next() < 0.5) {
    const result = RESIZING[random.pick(RESIZING_NAMES)](bytes, targets, random);
    bytes = result.bytes;
    mutations.push(result.what);
  }
  return { bytes, mutations };
}

function interestingLengths(site: Site, fileLength: number, random: SeededRandom): number[] {
  const remaining = Math.max(0, fileLength - site.lengthOffset - site.lengthSize);
  const current = site.length === UNDEFINED_LENGTH ? 0 : site.length;
  if (site.lengthSize === 2) return [0, 1, current + 1, Math.max(0, current - 1), 0xfffe, 0xffff, random.int(0, 0xffff)];
  return [
    0,
    1,
    current + 1,
    Math.max(0, current - 1),
    current * 2,
    remaining,
    remaining + 1,
    UNDEFINED_LENGTH,
    0xfffffff0,
    0x7fffffff,
    0x80000000,
    random.nextUint32(),
  ];
}

function writeTag(bytes: Uint8Array, offset: number, tag: Tag, littleEndian: boolean): void {
  if (offset + 4 > bytes.length) return;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint16(offset, tag >>> 16, littleEndian);
  view.setUint16(offset + 2, tag & 0xffff, littleEndian);
}

/** For files the codec cannot map at all: aim at the start of the dataset as if an element were there. */
function fallbackSite(file: Uint8Array): Site {
  const offset = file.length > 132 ? 132 : 0;
  return { kind: 'element', offset, lengthOffset: offset + 4, lengthSize: 4, littleEndian: true, tag: 0, length: 0, end: file.length };
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((size, part) => size + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
