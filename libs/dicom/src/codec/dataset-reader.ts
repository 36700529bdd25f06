import { OrthancError } from '@deidflow/common';
import { dictionaryVr } from '../dictionary/dictionary';
import { formatTag, Tag, TAGS } from '../dictionary/tag';
import { Encoding, hasLongHeader, IMPLICIT_LITTLE } from './transfer-syntax';

export const UNDEFINED_LENGTH = 0xffffffff;

/** Deeper nesting than this is refused: real data stays under ten levels; the bound keeps the stack safe. */
export const MAX_SEQUENCE_DEPTH = 128;

/**
 * One element located in the source bytes, value not decoded. Untouched elements are copied from
 * `start` to `end` verbatim; only the elements the plan changes are ever decoded or re-encoded.
 */
export interface RawElement {
  readonly tag: Tag;
  /** From the header in explicit VR, from the dictionary in implicit VR ('UN' when unknown). */
  readonly vr: string;
  readonly start: number;
  readonly valueStart: number;
  /** UNDEFINED_LENGTH for sequences and encapsulated pixel data with delimiters. */
  readonly valueLength: number;
  /** Offset just after the element, delimiter included. */
  readonly end: number;
  /** The element holds items of datasets (SQ, or UN of undefined length, which holds implicit VR items). */
  readonly isSequence: boolean;
}

export interface RawItem {
  readonly start: number;
  readonly contentStart: number;
  readonly contentEnd: number;
  readonly end: number;
  readonly undefinedLength: boolean;
}

/** Every two-letter VR as one shared string: reading a header allocates none (a dataset has hundreds). */
const VR_STRINGS: readonly string[] = Array.from({ length: 26 * 26 }, (_, i) => String.fromCharCode(0x41 + Math.floor(i / 26), 0x41 + (i % 26)));

export function malformed(details: string): OrthancError {
  return OrthancError.badFileFormat(`Malformed DICOM dataset: ${details}`);
}

/**
 * Element-level tokenizer of a DICOM dataset (PS3.5 chapter 7): explicit and implicit VR, little and
 * big endian, defined and undefined lengths, items and delimiters, encapsulated pixel data. Every
 * length is checked against the bytes that remain, and nesting is bounded, so that malformed input
 * ends in OrthancError(BadFileFormat), never in a hang, an out-of-range read or a stack overflow.
 */
export class DatasetReader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly encoding: Encoding,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** The reader for the items of `element`: a UN sequence holds implicit VR little endian items. */
  forItemsOf(element: RawElement): DatasetReader {
    if (element.vr === 'UN' && this.encoding.explicitVr) {
      return new DatasetReader(this.bytes, IMPLICIT_LITTLE);
    }
    return this;
  }

  /** Every element between `start` and `end` (a whole dataset, or the content of a defined-length item). */
  readElements(start: number, end: number, depth: number): RawElement[] {
    const elements: RawElement[] = [];
    let offset = start;
    while (offset < end) {
      const element = this.readElement(offset, end, depth);
      elements.push(element);
      offset = element.end;
    }
    return elements;
  }

  /** The elements of an undefined-length item, up to its delimiter; `end` is just after the delimiter. */
  readUntilItemDelimiter(start: number, limit: number, depth: number): { elements: RawElement[]; end: number } {
    const elements: RawElement[] = [];
    let offset = start;
    for (;;) {
      this.need(offset, 8, limit, 'an item delimiter');
      if (this.tagAt(offset) === TAGS.ItemDelimitationItem) {
        return { elements, end: offset + 8 };
      }
      const element = this.readElement(offset, limit, depth);
      elements.push(element);
      offset = element.end;
    }
  }

  /** The items of a sequence element, located but not parsed; `outerLimit` bounds an undefined length. */
  readItems(element: RawElement, depth: number, outerLimit = this.bytes.length): RawItem[] {
    if (depth > MAX_SEQUENCE_DEPTH) {
      throw malformed(`sequences nested deeper than ${MAX_SEQUENCE_DEPTH} levels`);
    }
    const items: RawItem[] = [];
    const undefinedLength = element.valueLength === UNDEFINED_LENGTH;
    const limit = undefinedLength ? outerLimit : element.valueStart + element.valueLength;
    let offset = element.valueStart;
    for (;;) {
      if (!undefinedLength && offset >= limit) return items;
      this.need(offset, 8, limit, 'an item of', element.tag);
      const tag = this.tagAt(offset);
      if (tag === TAGS.SequenceDelimitationItem && undefinedLength) return items;
      if (tag !== TAGS.Item) {
        throw malformed(`expected an item in sequence ${formatTag(element.tag)} at offset ${offset}, found ${formatTag(tag)}`);
      }
      items.push(this.readItem(offset, limit, depth));
      offset = items[items.length - 1].end;
    }
  }

  /** The content bounds of the item whose header is at `offset`. */
  private readItem(offset: number, limit: number, depth: number): RawItem {
    const length = this.uint32(offset + 4);
    const contentStart = offset + 8;
    if (length === UNDEFINED_LENGTH) {
      // The item's elements are at its sequence's depth: one nesting level counts once, whatever the lengths.
      const { end } = this.readUntilItemDelimiter(contentStart, limit, depth);
      return { start: offset, contentStart, contentEnd: end - 8, end, undefinedLength: true };
    }
    this.need(contentStart, length, limit, 'an item');
    return { start: offset, contentStart, contentEnd: contentStart + length, end: contentStart + length, undefinedLength: false };
  }

  readElement(offset: number, limit: number, depth: number): RawElement {
    this.need(offset, 8, limit, 'an element header');
    const tag = this.tagAt(offset);
    if (tag >>> 16 === 0xfffe) {
      throw malformed(`unexpected ${formatTag(tag)} delimiter at offset ${offset}`);
    }
    let vr: string;
    let valueStart: number;
    let valueLength: number;
    if (this.encoding.explicitVr) {
      const c0 = this.bytes[offset + 4];
      const c1 = this.bytes[offset + 5];
      if (c0 < 0x41 || c0 > 0x5a || c1 < 0x41 || c1 > 0x5a) {
        throw malformed(`invalid VR bytes 0x${hex2(c0)}${hex2(c1)} for element ${formatTag(tag)} at offset ${offset}`);
      }
      vr = VR_STRINGS[(c0 - 0x41) * 26 + (c1 - 0x41)];
      if (hasLongHeader(vr)) {
        this.need(offset, 12, limit, 'the header of', tag);
        valueLength = this.uint32(offset + 8);
        valueStart = offset + 12;
      } else {
        valueLength = this.uint16(offset + 6);
        valueStart = offset + 8;
      }
    } else {
      vr = (tag & 0xffff) === 0 ? 'UL' : dictionaryVr(tag);
      valueLength = this.uint32(offset + 4);
      valueStart = offset + 8;
    }

    if (valueLength !== UNDEFINED_LENGTH) {
      this.need(valueStart, valueLength, limit, 'the value of', tag);
      // A standard sequence that went through a system that did not know it arrives as UN (implicit VR items, PS3.5 6.2.2).
      const isSequence = vr === 'SQ' || (vr === 'UN' && this.encoding.explicitVr && dictionaryVr(tag) === 'SQ');
      return { tag, vr, start: offset, valueStart, valueLength, end: valueStart + valueLength, isSequence };
    }

    // Undefined length: a sequence (SQ, UN, or anything in implicit VR), or encapsulated pixel data.
    const encapsulated = this.encoding.explicitVr ? vr !== 'SQ' && vr !== 'UN' : tag === TAGS.PixelData;
    if (encapsulated) {
      const end = this.skipFragments(tag, valueStart, limit);
      return { tag, vr, start: offset, valueStart, valueLength, end, isSequence: false };
    }
    const partial: RawElement = { tag, vr, start: offset, valueStart, valueLength, end: valueStart, isSequence: true };
    const items = this.forItemsOf(partial).readItems(partial, depth + 1, limit);
    const afterItems = items.length > 0 ? items[items.length - 1].end : valueStart;
    return { ...partial, end: afterItems + 8 };
  }

  /** Encapsulated pixel data: fragments (items of raw bytes) up to the sequence delimiter. */
  private skipFragments(tag: Tag, start: number, limit: number): number {
    let offset = start;
    for (;;) {
      this.need(offset, 8, limit, 'a fragment of', tag);
      const itemTag = this.tagAt(offset);
      const length = this.uint32(offset + 4);
      if (itemTag === TAGS.SequenceDelimitationItem) return offset + 8;
      if (itemTag !== TAGS.Item || length === UNDEFINED_LENGTH) {
        throw malformed(`bad fragment ${formatTag(itemTag)} in encapsulated ${formatTag(tag)} at offset ${offset}`);
      }
      this.need(offset + 8, length, limit, 'a fragment of', tag);
      offset += 8 + length;
    }
  }

  /** The value bytes of a defined-length element (a view, not a copy). */
  valueOf(element: RawElement): Uint8Array {
    if (element.valueLength === UNDEFINED_LENGTH) return this.bytes.subarray(element.valueStart, element.valueStart);
    return this.bytes.subarray(element.valueStart, element.valueStart + element.valueLength);
  }

  /** The value of a text element in the default repertoire (UIDs, code strings), padding stripped. */
  asciiOf(element: RawElement): string {
    const value = this.valueOf(element);
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('latin1').replace(/[\s\0]+$/, '');
  }

  tagAt(offset: number): Tag {
    return ((this.uint16(offset) << 16) | this.uint16(offset + 2)) >>> 0;
  }

  uint16(offset: number): number {
    return this.view.getUint16(offset, this.encoding.littleEndian);
  }

  uint32(offset: number): number {
    return this.view.getUint32(offset, this.encoding.littleEndian);
  }

  /** Checks that `length` bytes from `offset` lie within `limit`; the message is only built on failure. */
  private need(offset: number, length: number, limit: number, what: string, tag?: Tag): void {
    if (offset + length > limit) {
      const subject = tag === undefined ? what : `${what} ${formatTag(tag)}`;
      throw malformed(`truncated data: ${subject} at offset ${offset} needs ${length} bytes, only ${Math.max(0, limit - offset)} remain`);
    }
  }
}

function hex2(byte: number): string {
  return byte.toString(16).padStart(2, '0');
}
