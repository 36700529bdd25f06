import { RawElement, UNDEFINED_LENGTH } from '../codec/dataset-reader';
import { lookupTag } from '../dictionary/dictionary';
import { formatTag, isPrivateTag, privateCreatorOf, Tag, TAGS } from '../dictionary/tag';
import { isStringVr, leafValue, LeafValue, unknownVrAsString } from './leaf-value';
import { detectEncoding, OrthancEncoding } from './orthanc-encoding';
import { DatasetLevel, itemsOf, readDataset, valueBytes } from './part10';
import { lookupPrivateTag, tagName } from './tag-names';

/** The three JSON forms of GET /instances/{id}/tags: default, `?short`, `?simplify`. */
export type TagsFormat = 'full' | 'short' | 'simplify';

export interface FullLeaf {
  Name: string;
  PrivateCreator?: string;
  Type: 'String' | 'Null' | 'TooLong';
  Value: string | null;
}
export interface FullSequence {
  Name: string;
  Type: 'Sequence';
  Value: FullDataset[];
}
/** Orthanc's "full" form: keys 'gggg,eeee' (lower case), sorted. */
export type FullDataset = Record<string, FullLeaf | FullSequence>;

/** ORTHANC_MAXIMUM_TAG_LENGTH: longer values are "TooLong" with a null Value. */
const MAXIMUM_TAG_LENGTH = 256;

/**
 * Orthanc 1.10's JSON of a dataset (ServerContext::ReadDicomAsJson, then Toolbox::SimplifyDicomAsJson):
 * - 'full': { "0010,0010": { "Name": "PatientName", "Type": "String", "Value": "KNIX" }, ... }, with
 *   "PrivateCreator" on private leaves, Type "Sequence" whose Value is a list of such objects, and
 *   Type "Null" (binary values: OB, OW, UN..., pixel data included) or "TooLong" (over 256 bytes);
 * - 'short': { "0010,0010": "KNIX", ... }, null for Null and TooLong, lists for sequences;
 * - 'simplify': the same keyed by tag name. As in Orthanc, tags without a name share the key
 *   "Unknown Tag & Data" (the last one wins).
 * Only the dataset is shown (no File Meta Information), and top-level tags after PixelData are skipped.
 */
export function datasetToOrthancJson(file: Uint8Array, format: TagsFormat): Record<string, unknown> {
  const root = readDataset(file);
  const full = levelToFull(root, encodingOf(root));
  return format === 'full' ? full : simplify(full, format === 'short' ? 'tag' : 'name');
}

function encodingOf(root: DatasetLevel): OrthancEncoding {
  const element = root.elements.find((e) => e.tag === TAGS.SpecificCharacterSet);
  if (!element) return detectEncoding(undefined);
  return detectEncoding(Buffer.from(valueBytes(root, element)).toString('latin1'));
}

function levelToFull(level: DatasetLevel, encoding: OrthancEncoding): FullDataset {
  const nodes: [string, FullLeaf | FullSequence][] = [];
  for (const element of level.elements) {
    // DicomToJsonFlags_StopAfterPixelData (Orthanc >= 1.9.1)
    if (level.depth === 0 && element.tag > TAGS.PixelData) continue;
    const creator = isPrivateTag(element.tag) ? privateCreator(level, element.tag, encoding) : undefined;
    const name = tagName(element.tag, creator);
    if (element.isSequence) {
      const items = itemsOf(level, element).map((item) => levelToFull(item, encoding));
      nodes.push([formatKey(element.tag), { Name: name, Type: 'Sequence', Value: items }]);
    } else {
      nodes.push([formatKey(element.tag), leafNode(name, creator, leafOf(level, element, creator, encoding))]);
    }
  }
  return sortedObject(nodes);
}

function leafNode(name: string, creator: string | undefined, value: LeafValue): FullLeaf {
  const { Type, Value } = typedValue(value);
  // Orthanc's (alphabetical) key order: Name, PrivateCreator, Type, Value.
  return creator === undefined ? { Name: name, Type, Value } : { Name: name, PrivateCreator: creator, Type, Value };
}

function typedValue(value: LeafValue): Pick<FullLeaf, 'Type' | 'Value'> {
  if (value === null) return { Type: 'Null', Value: null };
  if (Buffer.byteLength(value, 'utf8') > MAXIMUM_TAG_LENGTH) return { Type: 'TooLong', Value: null };
  return { Type: 'String', Value: value };
}

function leafOf(level: DatasetLevel, element: RawElement, creator: string | undefined, encoding: OrthancEncoding): LeafValue {
  if (element.valueLength === UNDEFINED_LENGTH) return null; // encapsulated pixel data
  const bytes = valueBytes(level, element);
  const { littleEndian, explicitVr } = level.reader.encoding;
  if (element.vr !== 'UN') return leafValue(element.vr, bytes, littleEndian, encoding);
  const dictionaryVr = isPrivateTag(element.tag)
    ? creator === undefined
      ? undefined
      : lookupPrivateTag(element.tag, creator)?.vr
    : lookupTag(element.tag)?.vr;
  if (dictionaryVr === undefined) return null;
  // In implicit VR, DCMTK gives the element its dictionary VR; an explicit UN stays UN (text only if ASCII).
  if (!explicitVr) return leafValue(dictionaryVr, bytes, littleEndian, encoding);
  return isStringVr(dictionaryVr) ? unknownVrAsString(bytes) : null;
}

/** The creator reserving the block of a private tag in this item (DCMTK's private creator cache). */
function privateCreator(level: DatasetLevel, tag: Tag, encoding: OrthancEncoding): string | undefined {
  const creatorTag = privateCreatorOf(tag);
  if (creatorTag === undefined) return undefined;
  const element = level.elements.find((e) => e.tag === creatorTag);
  if (!element || element.isSequence || element.valueLength === UNDEFINED_LENGTH) return undefined;
  const value = leafValue('LO', valueBytes(level, element), level.reader.encoding.littleEndian, encoding);
  return value ?? undefined;
}

/** 'gggg,eeee', lower case. */
function formatKey(tag: Tag): string {
  return formatTag(tag).slice(1, -1);
}

/** Toolbox::SimplifyDicomAsJson, keyed by tag ('short') or by name ('simplify'). */
function simplify(full: FullDataset, key: 'tag' | 'name'): Record<string, unknown> {
  const entries: [string, unknown][] = Object.entries(full).map(([tag, node]) => [
    key === 'tag' ? tag : node.Name,
    node.Type === 'Sequence' ? node.Value.map((item) => simplify(item, key)) : node.Type === 'String' ? node.Value : null,
  ]);
  return sortedObject(entries);
}

/** A JSON object with sorted keys (jsoncpp's order); a repeated key keeps its last value. */
function sortedObject<T>(entries: [string, T][]): Record<string, T> {
  const byKey = new Map(entries);
  const result: Record<string, T> = {};
  for (const key of [...byKey.keys()].sort()) result[key] = byKey.get(key) as T;
  return result;
}
