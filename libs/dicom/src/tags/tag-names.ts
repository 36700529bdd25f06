import * as dcmjs from 'dcmjs';
import { lookupTag } from '../dictionary/dictionary';
import { isPrivateTag, Tag } from '../dictionary/tag';

/** DCMTK's name for a tag its dictionary does not know (DcmTag_ERROR_TagName). */
const UNKNOWN_TAG_NAME = 'Unknown Tag & Data';

export interface PrivateEntry {
  readonly name: string;
  readonly vr: string;
}

const privateCache = new Map<string, PrivateEntry | null>();

/**
 * A private tag in DCMTK's private dictionary (which dcmjs ships): keyed by group, creator and the low
 * byte of the element, as private.dic writes it. The dictionary mixes upper- and lower-case hex digits.
 */
export function lookupPrivateTag(tag: Tag, creator: string): PrivateEntry | undefined {
  const cacheKey = `${tag}|${creator}`;
  if (!privateCache.has(cacheKey)) privateCache.set(cacheKey, findPrivateEntry(tag, creator));
  return privateCache.get(cacheKey) ?? undefined;
}

function findPrivateEntry(tag: Tag, creator: string): PrivateEntry | null {
  const group = (tag >>> 16).toString(16).padStart(4, '0');
  const element = (tag & 0xff).toString(16).padStart(2, '0');
  for (const g of [group.toUpperCase(), group]) {
    for (const e of [element, element.toUpperCase()]) {
      const entry = dcmjs.data.DicomMetaDictionary.dictionary[`(${g},"${creator}",${e})`];
      // private.dic writes 'ox' (OB or OW) for some binary entries, and no VR for a few.
      if (entry) return { name: entry.name, vr: entry.vr === 'ox' ? 'OB' : entry.vr || 'UN' };
    }
  }
  return null;
}

/**
 * The name DCMTK gives a tag (FromDcmtkBridge::GetTagName): the dictionary keyword, the generic names
 * of group lengths and private creators, the private dictionary entry for the creator of a private
 * block, else "Unknown Tag & Data".
 */
export function tagName(tag: Tag, privateCreator?: string): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  const illegal = group === 0x0001 || group === 0x0003 || group === 0x0005 || group === 0x0007;
  if (element === 0x0000) {
    if (illegal) return 'IllegalGroupLength';
    return isPrivateTag(tag) ? 'PrivateGroupLength' : lookupTag(tag)?.keyword ?? 'GenericGroupLength';
  }
  if (isPrivateTag(tag)) {
    if (element >= 0x0010 && element <= 0x00ff) return illegal ? 'IllegalPrivateCreator' : 'PrivateCreator';
    const entry = privateCreator === undefined ? undefined : lookupPrivateTag(tag, privateCreator);
    return entry?.name ?? UNKNOWN_TAG_NAME;
  }
  return lookupTag(tag)?.keyword ?? UNKNOWN_TAG_NAME;
}
