import { OrthancError } from '@deidflow/common';
import { formatTag, Tag, TAGS } from '../dictionary/tag';
import { DatasetReader, RawElement, UNDEFINED_LENGTH } from './dataset-reader';
import { Encoding, hasLongHeader } from './transfer-syntax';

/**
 * The dataset being written: untouched elements point at their source bytes, only changed ones
 * carry new bytes. Serialising copies the untouched bytes verbatim (pixel data included).
 */
export type OutNode = CopyNode | ValueNode | SequenceNode | GroupLengthNode;

export interface CopyNode {
  readonly kind: 'copy';
  readonly tag: Tag;
  readonly raw: RawElement;
  readonly reader: DatasetReader;
}

/** A new or changed element; `value` is already encoded (character set, endianness) and padded to even length. */
export interface ValueNode {
  readonly kind: 'value';
  readonly tag: Tag;
  readonly vr: string;
  readonly value: Uint8Array;
}

export interface SequenceNode {
  readonly kind: 'sequence';
  readonly tag: Tag;
  /** 'SQ', or 'UN' for a sequence whose items are implicit VR little endian. */
  readonly vr: string;
  readonly undefinedLength: boolean;
  readonly items: OutItem[];
  /** The encoding of the items (implicit little endian inside a UN sequence). */
  readonly itemEncoding: Encoding;
}

export interface OutItem {
  readonly elements: OutNode[];
  readonly undefinedLength: boolean;
}

/** (gggg,0000): its value is recomputed from the elements that follow it in its group. */
export interface GroupLengthNode {
  readonly kind: 'groupLength';
  readonly tag: Tag;
}

export function copyNode(raw: RawElement, reader: DatasetReader): CopyNode {
  return { kind: 'copy', tag: raw.tag, raw, reader };
}

/** Inserts `node` in tag order, replacing an element with the same tag. */
export function upsertNode(nodes: OutNode[], node: OutNode): void {
  let low = 0;
  let high = nodes.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (nodes[middle].tag < node.tag) low = middle + 1;
    else high = middle;
  }
  if (low < nodes.length && nodes[low].tag === node.tag) nodes[low] = node;
  else nodes.splice(low, 0, node);
}

export function findNode(nodes: readonly OutNode[], tag: Tag): OutNode | undefined {
  return nodes.find((node) => node.tag === tag);
}

function headerSize(vr: string, encoding: Encoding): number {
  return encoding.explicitVr && hasLongHeader(vr) ? 12 : 8;
}

/** The byte size of the nodes of one dataset or item, in `encoding`. */
export function datasetSize(nodes: readonly OutNode[], encoding: Encoding): number {
  let size = 0;
  for (const node of nodes) size += nodeSize(node, encoding);
  return size;
}

function nodeSize(node: OutNode, encoding: Encoding): number {
  switch (node.kind) {
    case 'copy':
      return node.raw.end - node.raw.start;
    case 'value':
      return headerSize(node.vr, encoding) + node.value.length;
    case 'groupLength':
      return headerSize('UL', encoding) + 4;
    case 'sequence':
      return headerSize(node.vr, encoding) + sequenceContentSize(node) + (node.undefinedLength ? 8 : 0);
  }
}

function sequenceContentSize(node: SequenceNode): number {
  let size = 0;
  for (const item of node.items) size += 8 + datasetSize(item.elements, node.itemEncoding) + (item.undefinedLength ? 8 : 0);
  return size;
}

/** Writes nodes into a buffer sized by `datasetSize`. */
export class DatasetWriter {
  private readonly view: DataView;
  offset = 0;

  constructor(readonly target: Uint8Array) {
    this.view = new DataView(target.buffer, target.byteOffset, target.byteLength);
  }

  writeDataset(nodes: readonly OutNode[], encoding: Encoding): void {
    for (let i = 0; i < nodes.length; i++) {
      const node = nodes[i];
      switch (node.kind) {
        case 'copy': {
          // Untouched elements that follow each other in the source are copied as one run.
          const source = node.reader.bytes;
          let end = node.raw.end;
          for (let next = nodes[i + 1]; next?.kind === 'copy' && next.reader.bytes === source && next.raw.start === end; next = nodes[i + 1]) {
            end = next.raw.end;
            i++;
          }
          this.target.set(source.subarray(node.raw.start, end), this.offset);
          this.offset += end - node.raw.start;
          break;
        }
        case 'value':
          this.writeHeader(node.tag, node.vr, node.value.length, encoding);
          this.target.set(node.value, this.offset);
          this.offset += node.value.length;
          break;
        case 'groupLength':
          this.writeHeader(node.tag, 'UL', 4, encoding);
          this.uint32(groupLengthAfter(nodes, i, encoding), encoding);
          break;
        case 'sequence':
          this.writeSequence(node, encoding);
          break;
      }
    }
  }

  private writeSequence(node: SequenceNode, encoding: Encoding): void {
    this.writeHeader(node.tag, node.vr, node.undefinedLength ? UNDEFINED_LENGTH : sequenceContentSize(node), encoding);
    const itemEncoding = node.itemEncoding;
    for (const item of node.items) {
      const length = item.undefinedLength ? UNDEFINED_LENGTH : datasetSize(item.elements, itemEncoding);
      this.writeTagAndLength(TAGS.Item, length, itemEncoding);
      this.writeDataset(item.elements, itemEncoding);
      if (item.undefinedLength) this.writeTagAndLength(TAGS.ItemDelimitationItem, 0, itemEncoding);
    }
    if (node.undefinedLength) this.writeTagAndLength(TAGS.SequenceDelimitationItem, 0, itemEncoding);
  }

  private writeHeader(tag: Tag, vr: string, length: number, encoding: Encoding): void {
    if (!encoding.explicitVr) {
      this.writeTagAndLength(tag, length, encoding);
      return;
    }
    this.uint16(tag >>> 16, encoding);
    this.uint16(tag & 0xffff, encoding);
    this.target[this.offset++] = vr.charCodeAt(0);
    this.target[this.offset++] = vr.charCodeAt(1);
    if (hasLongHeader(vr)) {
      this.uint16(0, encoding);
      this.uint32(length, encoding);
    } else {
      if (length > 0xffff) {
        throw OrthancError.badRequest(`The value of ${formatTag(tag)} is too long for VR ${vr} (${length} bytes, at most 65534)`);
      }
      this.uint16(length, encoding);
    }
  }

  private writeTagAndLength(tag: Tag, length: number, encoding: Encoding): void {
    this.uint16(tag >>> 16, encoding);
    this.uint16(tag & 0xffff, encoding);
    this.uint32(length, encoding);
  }

  private uint16(value: number, encoding: Encoding): void {
    this.view.setUint16(this.offset, value, encoding.littleEndian);
    this.offset += 2;
  }

  private uint32(value: number, encoding: Encoding): void {
    this.view.setUint32(this.offset, value, encoding.littleEndian);
    this.offset += 4;
  }
}

/** The byte length of the elements after nodes[index] in the same group (PS3.5 7.2). */
function groupLengthAfter(nodes: readonly OutNode[], index: number, encoding: Encoding): number {
  const group = nodes[index].tag >>> 16;
  let length = 0;
  for (let i = index + 1; i < nodes.length && nodes[i].tag >>> 16 === group; i++) {
    length += nodeSize(nodes[i], encoding);
  }
  return length;
}

