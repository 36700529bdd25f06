import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { parseTag } from '../dictionary/dictionary';
import { formatTag, Tag, TAGS } from '../dictionary/tag';
import { DatasetLevel, itemsOf, readDataset, valueBytes } from './part10';

/** GET /instances/{id}/content/...: raw value bytes, or a JSON list (tags, item indexes, pixel blocks). */
export type ContentResult = { kind: 'value'; bytes: Buffer } | { kind: 'list'; items: string[] };

/** Sizes of the values DCMTK swaps to the host (little endian) order when the file is big endian. */
const WORD_SIZE: Record<string, number> = {
  ...Object.fromEntries(['US', 'SS', 'OW', 'AT'].map((vr) => [vr, 2])),
  ...Object.fromEntries(['UL', 'SL', 'FL', 'OF', 'OL'].map((vr) => [vr, 4])),
  ...Object.fromEntries(['FD', 'OD', 'SV', 'UV', 'OV'].map((vr) => [vr, 8])),
};

/**
 * ParsedDicomFile::SendPathValue. `path` alternates tags and item indexes; a tag is a keyword or
 * 'gggg-eeee' / 'gggg,eeee':
 * - [] or [..., Seq, index]: the tags of that dataset, as 'gggg-eeee';
 * - [..., Seq]: the indexes of its items, as strings;
 * - [..., Tag]: the raw value, DICOM padding kept;
 * - ['7fe0-0010'] / ['7fe0-0010', block]: the blocks of the pixel data (fragments when encapsulated,
 *   the basic offset table being block 0), or one of them.
 * Whatever does not exist is OrthancError(InexistentItem) (404); an unknown tag name is UnknownDicomTag.
 */
export function readContent(file: Uint8Array, path: string[]): ContentResult {
  const tags = path.map((segment, i) => (i % 2 === 0 ? parseTag(segment) : undefined));
  const root = readDataset(file);
  if ((path.length === 1 || path.length === 2) && tags[0] === TAGS.PixelData) {
    return pixelDataBlocks(root, path);
  }
  let level = root;
  for (let i = 0; i + 1 < path.length; i += 2) {
    const sequence = findElement(level, tags[i] as Tag);
    const index = /^\d+$/.test(path[i + 1]) ? Number(path[i + 1]) : -1;
    const items = sequence?.isSequence ? itemsOf(level, sequence) : [];
    if (index < 0 || index >= items.length) throw missing(path);
    level = items[index];
  }
  if (path.length % 2 === 0) {
    return { kind: 'list', items: level.elements.map((element) => dashedTag(element.tag)) };
  }
  const element = findElement(level, tags[path.length - 1] as Tag);
  if (!element) throw missing(path);
  if (element.isSequence) {
    return { kind: 'list', items: itemsOf(level, element).map((_, index) => String(index)) };
  }
  return { kind: 'value', bytes: hostOrder(level, element.vr, valueBytes(level, element)) };
}

function pixelDataBlocks(root: DatasetLevel, path: string[]): ContentResult {
  const element = findElement(root, TAGS.PixelData);
  if (!element || element.isSequence) throw missing(path);
  const fragments = element.valueLength === UNDEFINED_LENGTH ? fragmentsOf(root, element) : undefined;
  const count = fragments?.length ?? 1;
  if (path.length === 1) {
    return { kind: 'list', items: Array.from({ length: count }, (_, index) => String(index)) };
  }
  const block = path[1];
  if (!/^\d+$/.test(block) || Number(block) >= count) throw missing(path);
  if (fragments) return { kind: 'value', bytes: Buffer.from(fragments[Number(block)]) };
  return { kind: 'value', bytes: hostOrder(root, element.vr, valueBytes(root, element)) };
}

/** The items of encapsulated pixel data (PS3.5 A.4), basic offset table first. */
function fragmentsOf(level: DatasetLevel, element: RawElement): Uint8Array[] {
  const { reader } = level;
  const fragments: Uint8Array[] = [];
  let offset = element.valueStart;
  while (offset + 8 <= element.end && reader.tagAt(offset) === TAGS.Item) {
    const length = reader.uint32(offset + 4);
    fragments.push(reader.bytes.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return fragments;
}

/** DCMTK answers binary and numeric values in the host's byte order (little endian). */
function hostOrder(level: DatasetLevel, vr: string, bytes: Uint8Array): Buffer {
  const copy = Buffer.from(bytes);
  const size = WORD_SIZE[vr];
  if (level.reader.encoding.littleEndian || !size) return copy;
  for (let offset = 0; offset + size <= copy.length; offset += size) {
    copy.subarray(offset, offset + size).reverse();
  }
  return copy;
}

function findElement(level: DatasetLevel, tag: Tag): RawElement | undefined {
  return level.elements.find((element) => element.tag === tag);
}

/** 'gggg-eeee', lower case (the "%04x-%04x" of SendPathValueForDictionary). */
function dashedTag(tag: Tag): string {
  return formatTag(tag).slice(1, -1).replace(',', '-');
}

function missing(path: string[]): OrthancError {
  return new OrthancError(OrthancErrorCode.InexistentItem, `No such element in the DICOM file: /${path.join('/')}`);
}
