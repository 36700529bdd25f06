import { assertValidLabel, OrthancError, OrthancErrorCode, RESOURCE_LEVELS, ResourceLevel } from '@deidflow/common';
import { dictionaryVr, parseTag } from '../dictionary/dictionary';
import { tagKey } from '../dictionary/tag';
import {
  INSTANCE_MAIN_DICOM_TAGS,
  PATIENT_MAIN_DICOM_TAGS,
  SERIES_MAIN_DICOM_TAGS,
  STUDY_MAIN_DICOM_TAGS,
} from '../parse/main-dicom-tags';

/**
 * How one main DICOM tag is matched (DICOM PS3.4 C.2.2.2, as Orthanc's LookupResource applies it):
 * single value, wildcard (`*`, `?`), range (dates and times, `from-to` with either end open), or a
 * list of values (`a\b`). The value is the stored main tag, a string.
 */
export type FindMatcher =
  | { kind: 'equal'; value: string; caseSensitive: boolean }
  | { kind: 'wildcard'; likePattern: string; caseSensitive: boolean }
  | { kind: 'range'; from?: string; to?: string }
  | { kind: 'list'; values: string[]; caseSensitive: boolean };

export interface FindConstraint {
  /** The level whose main tags hold the tag: the requested one or an ancestor. */
  level: ResourceLevel;
  /** The tag's keyword: its key in the stored main DICOM tags. */
  name: string;
  matcher: FindMatcher;
  /**
   * ModalitiesInStudy (a Study-level query): the constraint holds when some series of the study
   * matches on its Modality.
   */
  anySeriesOfStudy?: true;
}

/** A validated POST /tools/find. */
export interface FindRequest {
  level: ResourceLevel;
  constraints: FindConstraint[];
  expand: boolean;
  limit?: number;
  since?: number;
  /** Orthanc's Labels and LabelsConstraint (1.12.0); absent when no label is asked for. */
  labels?: { names: string[]; constraint: LabelsConstraint };
}

/** All: every label named; Any: one of them at least; None: none of them. */
export type LabelsConstraint = 'All' | 'Any' | 'None';
const LABELS_CONSTRAINTS: readonly LabelsConstraint[] = ['All', 'Any', 'None'];

const MAIN_TAGS: Record<ResourceLevel, Record<string, string>> = {
  Patient: PATIENT_MAIN_DICOM_TAGS,
  Study: STUDY_MAIN_DICOM_TAGS,
  Series: SERIES_MAIN_DICOM_TAGS,
  Instance: INSTANCE_MAIN_DICOM_TAGS,
};
const RANGE_VRS = new Set(['DA', 'TM', 'DT']);
const MODALITIES_IN_STUDY = '00080061';

function badRequest(details: string): OrthancError {
  return new OrthancError(OrthancErrorCode.BadRequest, details);
}

/**
 * Parses Orthanc's `/tools/find` body: `Level`, `Query` (tag → pattern), `Expand`, `Limit`, `Since`,
 * `CaseSensitive`, `Labels` and `LabelsConstraint`. Person names match case-insensitively, as with Orthanc's default
 * `CaseSensitivePN: false`. At the Study level, ModalitiesInStudy selects the studies with a series
 * of one of the modalities, as in Orthanc. Otherwise only the main DICOM tags of the level and of
 * its ancestors are searched (they are in the index); another tag is a 400 naming the searchable
 * ones, where Orthanc would read every candidate file.
 */
export function parseFindRequest(body: unknown): FindRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw badRequest('The body must be a JSON object');
  const request = body as Record<string, unknown>;
  for (const key of Object.keys(request)) {
    if (!['Level', 'Query', 'Expand', 'Limit', 'Since', 'CaseSensitive', 'Labels', 'LabelsConstraint'].includes(key)) {
      throw badRequest(`Unknown field in a find request: "${key}"`);
    }
  }
  const level = parseLevel(request.Level);
  if (typeof request.Query !== 'object' || request.Query === null || Array.isArray(request.Query)) {
    throw badRequest('"Query" must be a JSON object (tag → pattern)');
  }
  const caseSensitive = optionalBoolean(request, 'CaseSensitive') ?? true;
  const constraints: FindConstraint[] = [];
  for (const [key, pattern] of Object.entries(request.Query as Record<string, unknown>)) {
    if (typeof pattern !== 'string') throw badRequest(`The pattern of "${key}" must be a string`);
    if (level === 'Study' && tagKey(parseTag(key)).toUpperCase() === MODALITIES_IN_STUDY) {
      const matcher = parseMatcher(pattern, 'CS', caseSensitive);
      if (matcher) constraints.push({ level: 'Series', name: 'Modality', matcher, anySeriesOfStudy: true });
      continue;
    }
    const { name, owner, vr } = searchableTag(key, level);
    const matcher = parseMatcher(pattern, vr, vr === 'PN' ? false : caseSensitive);
    if (matcher) constraints.push({ level: owner, name, matcher });
  }
  const labels = parseLabels(request);
  return {
    level,
    constraints,
    expand: optionalBoolean(request, 'Expand') ?? false,
    limit: optionalCount(request, 'Limit'),
    since: optionalCount(request, 'Since'),
    ...(labels ? { labels } : {}),
  };
}

/** `Labels` (names, each valid) and `LabelsConstraint` (default All); an empty list asks for nothing, as in Orthanc 1.12. */
function parseLabels(request: Record<string, unknown>): FindRequest['labels'] {
  const names = request.Labels ?? [];
  if (!Array.isArray(names) || names.some((name) => typeof name !== 'string')) throw badRequest('Field "Labels" must contain strings');
  const constraint = request.LabelsConstraint ?? 'All';
  if (!LABELS_CONSTRAINTS.includes(constraint as LabelsConstraint)) throw badRequest('Field "LabelsConstraint" must be "All", "Any", or "None"');
  for (const name of names as string[]) assertValidLabel(name);
  return names.length > 0 ? { names: [...new Set(names as string[])], constraint: constraint as LabelsConstraint } : undefined;
}

function parseLevel(value: unknown): ResourceLevel {
  const level = typeof value === 'string' ? RESOURCE_LEVELS.find((l) => l.toLowerCase() === value.toLowerCase()) : undefined;
  if (!level) throw badRequest(`"Level" must be one of ${RESOURCE_LEVELS.join(', ')}`);
  return level;
}

/** The tag as the level or one of its ancestors indexes it. */
function searchableTag(key: string, level: ResourceLevel): { name: string; owner: ResourceLevel; vr: string } {
  const tag = parseTag(key);
  const hex = tagKey(tag).toUpperCase();
  const candidates = RESOURCE_LEVELS.slice(0, RESOURCE_LEVELS.indexOf(level) + 1).reverse();
  const owner = candidates.find((l) => MAIN_TAGS[l][hex] !== undefined);
  if (!owner) {
    const searchable = [...candidates.flatMap((l) => Object.values(MAIN_TAGS[l])), ...(level === 'Study' ? ['ModalitiesInStudy'] : [])];
    throw badRequest(`"${key}" cannot be searched at the ${level} level; these can: ${[...new Set(searchable)].join(', ')}`);
  }
  return { name: MAIN_TAGS[owner][hex], owner, vr: dictionaryVr(tag) };
}

/** Null for a universal match (empty, or `*`), which constrains nothing. */
function parseMatcher(pattern: string, vr: string, caseSensitive: boolean): FindMatcher | null {
  if (pattern === '' || pattern === '*') return null;
  if (RANGE_VRS.has(vr) && pattern.includes('-')) {
    const [from, to, ...rest] = pattern.split('-');
    if (rest.length > 0 || (from === '' && to === '')) throw badRequest(`Not a range: ${JSON.stringify(pattern)}`);
    return { kind: 'range', ...(from ? { from } : {}), ...(to ? { to } : {}) };
  }
  if (pattern.includes('\\')) return { kind: 'list', values: pattern.split('\\'), caseSensitive };
  if (/[*?]/.test(pattern)) return { kind: 'wildcard', likePattern: toLikePattern(pattern), caseSensitive };
  return { kind: 'equal', value: pattern, caseSensitive };
}

/** DICOM wildcards as an SQL LIKE pattern with `\` as its escape character. */
export function toLikePattern(pattern: string): string {
  return pattern.replace(/[\\%_]/g, (c) => `\\${c}`).replace(/\*/g, '%').replace(/\?/g, '_');
}

function optionalBoolean(request: Record<string, unknown>, field: string): boolean | undefined {
  const value = request[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw badRequest(`"${field}" must be true or false`);
  return value;
}

/** Orthanc: `Limit: 0` means no limit. */
function optionalCount(request: Record<string, unknown>, field: string): number | undefined {
  const value = request[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw badRequest(`"${field}" must be a non-negative integer`);
  return field === 'Limit' && value === 0 ? undefined : value;
}
