import * as dcmjs from 'dcmjs';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { formatTag, makeTag, Tag } from './tag';

/**
 * dcmjs logs oddities of what it reads or writes to the console, sometimes with element values:
 * never in DeidFlow's logs. Its named loggers ("validation.dcmjs"...) took their level when dcmjs
 * loaded and do not follow the root's, so each is silenced too.
 */
export function silenceDcmjsLogs(): void {
  const log = dcmjs.log as unknown as { setLevel(level: string): void; getLoggers(): Record<string, { setLevel(level: string): void }> };
  log.setLevel('silent');
  for (const logger of Object.values(log.getLoggers())) logger.setLevel('silent');
}
// This module is loaded by everything that uses dcmjs.
silenceDcmjsLogs();

export interface DictionaryEntry {
  readonly tag: Tag;
  readonly keyword: string;
  /** A concrete VR: dcmjs's ambiguous ones (US or SS, OB or OW...) are resolved to the usual choice. */
  readonly vr: string;
  /** Value multiplicity as the standard writes it ('1', '1-n', '3'...). */
  readonly vm: string;
}

// dcmjs spells the VRs of ambiguous attributes with lower-case pseudo VRs.
const AMBIGUOUS_VR: Record<string, string> = { ox: 'OW', xs: 'US', lt: 'OW', up: 'UL', na: 'UN' };

interface Dictionary {
  byTag: Map<Tag, DictionaryEntry>;
  byKeyword: Map<string, DictionaryEntry>;
}

let dictionary: Dictionary | undefined;

/** The standard data dictionary (dcmjs's copy of PS3.6), indexed once, on first use. */
function load(): Dictionary {
  if (dictionary) return dictionary;
  const byTag = new Map<Tag, DictionaryEntry>();
  const byKeyword = new Map<string, DictionaryEntry>();
  for (const raw of Object.values(dcmjs.data.DicomMetaDictionary.nameMap)) {
    const match = /^\(([0-9A-Fa-f]{4}),([0-9A-Fa-f]{4})\)$/.exec(raw.tag);
    if (!match) continue;
    const tag = makeTag(Number.parseInt(match[1], 16), Number.parseInt(match[2], 16));
    const entry: DictionaryEntry = { tag, keyword: raw.name, vr: AMBIGUOUS_VR[raw.vr] ?? raw.vr, vm: raw.vm };
    byTag.set(tag, entry);
    byKeyword.set(raw.name, entry);
  }
  dictionary = { byTag, byKeyword };
  return dictionary;
}

/** Repeating groups (50xx curves, 60xx overlays) are listed once, under their first group. */
function repeatingGroupBase(tag: Tag): Tag {
  const group = tag >>> 16;
  if ((group & 0xff00) === 0x5000 || (group & 0xff00) === 0x6000) {
    return makeTag(group & 0xff00, tag & 0xffff);
  }
  return tag;
}

export function lookupTag(tag: Tag): DictionaryEntry | undefined {
  const { byTag } = load();
  return byTag.get(tag) ?? byTag.get(repeatingGroupBase(tag));
}

export function lookupKeyword(keyword: string): DictionaryEntry | undefined {
  return load().byKeyword.get(keyword);
}

/** The VR of a standard tag, 'UN' for private or unknown ones. */
export function dictionaryVr(tag: Tag): string {
  return lookupTag(tag)?.vr ?? 'UN';
}

/** The keyword of a tag for messages: 'PatientName', or '(0009,1001)' for private and unknown tags. */
export function describeTag(tag: Tag): string {
  return lookupTag(tag)?.keyword ?? formatTag(tag);
}

const HEX_TAG = /^\(?\s*([0-9A-Fa-f]{4})\s*[,-]?\s*([0-9A-Fa-f]{4})\s*\)?$/;

/**
 * One tag as a user writes it (FromDcmtkBridge::ParseTag, plus the parenthesised form of DicomPath):
 * a keyword (`PatientName`), `0010-0020`, `0010,0020`, `00100020` or `(0010,0020)`.
 * An unknown name is OrthancError(UnknownDicomTag), which DeidFlow answers with 400 (Orthanc: 500).
 */
export function parseTag(text: string): Tag {
  const trimmed = text.trim();
  const hex = HEX_TAG.exec(trimmed);
  const parenthesised = trimmed.startsWith('(') || trimmed.endsWith(')');
  if (hex && (!parenthesised || (trimmed.startsWith('(') && trimmed.endsWith(')')))) {
    return makeTag(Number.parseInt(hex[1], 16), Number.parseInt(hex[2], 16));
  }
  const entry = /^[A-Za-z][A-Za-z0-9]*$/.test(trimmed) ? lookupKeyword(trimmed) : undefined;
  if (!entry) {
    throw new OrthancError(OrthancErrorCode.UnknownDicomTag, `Unknown DICOM tag: ${JSON.stringify(text)}`);
  }
  return entry.tag;
}
