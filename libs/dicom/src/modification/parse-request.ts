import { z } from 'zod';
import { isOrthancId, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { DEFAULT_DICOM_VERSION, DICOM_VERSIONS, DicomVersion } from '../anonymization/profiles';
import { CharacterSet } from '../dictionary/charset';
import { Tag, tagFromKey, TAGS } from '../dictionary/tag';
import { EXPLICIT_LITTLE } from '../codec/transfer-syntax';
import { castReplacement, DatasetText, vrForNewElement } from './replace-values';
import type {
  JsonValue,
  Level,
  ModificationRequest,
  Operation,
  Replacement,
  RequestTarget,
  Scope,
  TagPath,
} from './request-types';
import { parseTagPath } from './tag-path';

export interface RequestContext {
  readonly operation: Operation;
  /** The route: a level for /{level}/{id}/{operation}, 'Bulk' for /tools/bulk-{operation}. */
  readonly level: RequestTarget;
  readonly scope: Scope;
}

const LEVELS: readonly Level[] = ['Patient', 'Study', 'Series', 'Instance'];

const booleanOption = (name: string) => z.boolean({ error: `Member "${name}" should be a Boolean value` }).optional();

/** The seed's flags: present with null or true means on, false or absent means off (issue 7). */
const presenceFlag = (name: string) =>
  z.union([z.boolean(), z.null()], { error: `Member "${name}" should be a Boolean value (or null, meaning true)` }).optional();

const tagList = (name: string) =>
  z
    .array(z.string({ error: `"${name}" should be a JSON array of strings (tag names, gggg,eeee or paths)` }), {
      error: `"${name}" should be a JSON array of strings (tag names, gggg,eeee or paths)`,
    })
    .optional();

const COMMON_OPTIONS = {
  Replace: z
    .record(z.string(), z.json(), { error: '"Replace" should be a JSON object that maps tags to their new values' })
    .optional(),
  Remove: tagList('Remove'),
  Keep: tagList('Keep'),
  Force: booleanOption('Force'),
  PrivateCreator: z.string({ error: '"PrivateCreator" should be a string' }).optional(),
  Permissive: booleanOption('Permissive'),
  KeepSource: booleanOption('KeepSource'),
  KeepLabels: booleanOption('KeepLabels'),
  Asynchronous: booleanOption('Asynchronous'),
  Synchronous: booleanOption('Synchronous'),
  Priority: z
    .number({ error: '"Priority" should be an integer' })
    .int({ error: '"Priority" should be an integer' })
    .min(-(2 ** 31), { error: '"Priority" is out of range' })
    .max(2 ** 31 - 1, { error: '"Priority" is out of range' })
    .optional(),
  UserData: z.json().optional(),
  // Accepted as names so that the answer says "not supported yet" rather than "unknown option".
  Transcode: z.unknown().optional(),
  LossyQuality: z.unknown().optional(),
};

const BULK_OPTIONS = {
  Resources: z.array(z.string({ error: '"Resources" should be a JSON array of Orthanc identifiers' }), {
    error: '"Resources" should be a JSON array of Orthanc identifiers',
  }),
};

function schemaFor(context: RequestContext) {
  const operationOptions =
    context.operation === 'anonymize'
      ? {
          KeepPrivateTags: presenceFlag('KeepPrivateTags'),
          DicomVersion: z.string({ error: 'DicomVersion should be a string' }).optional(),
        }
      : { RemovePrivateTags: presenceFlag('RemovePrivateTags') };
  const bulkOptions =
    context.level !== 'Bulk'
      ? {}
      : context.operation === 'modify'
        ? { ...BULK_OPTIONS, Level: z.string({ error: '"Level" should be a string' }).optional() }
        : BULK_OPTIONS;
  return z.strictObject({ ...COMMON_OPTIONS, ...operationOptions, ...bulkOptions });
}

type RequestBody = z.infer<ReturnType<typeof schemaFor>> & {
  KeepPrivateTags?: boolean | null;
  RemovePrivateTags?: boolean | null;
  DicomVersion?: string;
  Resources?: string[];
  Level?: string;
};

/** Orthanc answers a malformed Boolean member with BadFileFormat (DM GetBooleanValue), other shape errors with BadRequest. */
const BAD_FILE_FORMAT_MEMBERS = new Set([
  'Force',
  'Permissive',
  'KeepSource',
  'KeepLabels',
  'Asynchronous',
  'Synchronous',
  'KeepPrivateTags',
  'RemovePrivateTags',
  'DicomVersion',
]);

function validationError(error: z.ZodError, accepted: string[], context: RequestContext): OrthancError {
  const issue = error.issues[0];
  if (issue.code === 'unrecognized_keys') {
    const unknown = issue.keys.map((key) => JSON.stringify(key)).join(', ');
    const route = context.level === 'Bulk' ? `bulk-${context.operation}` : `${context.operation} (${context.level.toLowerCase()})`;
    return OrthancError.badRequest(`Unknown option${issue.keys.length > 1 ? 's' : ''} ${unknown} for ${route}; accepted options: ${accepted.join(', ')}`);
  }
  const member = String(issue.path[0] ?? '');
  const where = issue.path.length > 1 ? ` (at ${issue.path.join('.')})` : '';
  const code = BAD_FILE_FORMAT_MEMBERS.has(member) ? OrthancErrorCode.BadFileFormat : OrthancErrorCode.BadRequest;
  return new OrthancError(code, `${issue.message}${where}`);
}

/** The 4 tags that identify an instance in the index: touching them needs "Force" (DM IsDatabaseKey). */
function isDatabaseKey(tag: Tag): boolean {
  return tag === TAGS.PatientID || tag === TAGS.StudyInstanceUID || tag === TAGS.SeriesInstanceUID || tag === TAGS.SOPInstanceUID;
}

function forceError(name: string, verb: 'replaced' | 'removed' | 'kept'): OrthancError {
  return OrthancError.badRequest(`Marking tag "${name}" as to be ${verb} requires the "Force" option to be set to true`);
}

function parsePaths(names: readonly string[] | undefined, verb: 'removed' | 'kept', force: boolean): TagPath[] {
  return (names ?? []).map((name) => {
    const path = parseTagPath(name);
    const tag = tagFromKey(path.tag);
    rejectMetaTag(path, name);
    if (path.steps.length === 0 && isDatabaseKey(tag) && !force) throw forceError(name, verb);
    return path;
  });
}

/**
 * A main identifier may not be removed, even with Force (DM Apply). Replace and Keep of the same tag
 * take it out of the removals first (DM Replace/Keep erase it): that is no removal.
 */
function rejectIdentifierRemoval(remove: readonly TagPath[], replace: readonly Replacement[], keep: readonly TagPath[]): void {
  const topLevel = (paths: readonly TagPath[]) => paths.filter((path) => path.steps.length === 0).map((path) => tagFromKey(path.tag));
  const overridden = new Set([...topLevel(replace.map((entry) => entry.path)), ...topLevel(keep)]);
  if (topLevel(remove).some((tag) => isDatabaseKey(tag) && !overridden.has(tag))) {
    throw OrthancError.badRequest('It is forbidden to remove one of the main Dicom identifiers');
  }
}

function rejectMetaTag(path: TagPath, name: string): void {
  if (path.tag.startsWith('0002') || path.steps.some((step) => step.sequence.startsWith('0002'))) {
    throw OrthancError.badRequest(`Tag "${name}" belongs to the File Meta Information (group 0002), which DeidFlow rewrites itself`);
  }
}

/** Checks the value against the tag's dictionary VR now, so that a bad request creates no job. */
function checkReplacementValue(tag: Tag, value: JsonValue, privateCreator: string | undefined): void {
  const context = { text: new DatasetText(CharacterSet.fromDeclaration('ISO_IR 192')), encoding: EXPLICIT_LITTLE, privateCreator };
  castReplacement(tag, vrForNewElement(tag, value), value, context);
}

function parseReplacements(
  replace: Record<string, JsonValue> | undefined,
  force: boolean,
  context: RequestContext,
  modifyLevel: Level | undefined,
  privateCreator: string | undefined,
): Replacement[] {
  return Object.entries(replace ?? {}).map(([name, value]) => {
    const path = parseTagPath(name);
    const tag = tagFromKey(path.tag);
    rejectMetaTag(path, name);
    // Issue 7: the instance endpoints answer a file and store nothing, so PatientID needs no Force
    // there; and a patient modify must replace PatientID, so it needs no Force for it either (the
    // seed's and Orthanc book's `/patients/{id}/modify` call has none; bulk-modify with Level Patient too).
    const seedException = tag === TAGS.PatientID && (context.scope === 'download' || modifyLevel === 'Patient');
    if (path.steps.length === 0 && !force && isDatabaseKey(tag) && !seedException) throw forceError(name, 'replaced');
    checkReplacementValue(tag, value, privateCreator);
    return { name, path, value };
  });
}

function isReplacedAtTopLevel(replacements: readonly Replacement[], tag: Tag): boolean {
  return replacements.some((entry) => entry.path.steps.length === 0 && tagFromKey(entry.path.tag) === tag);
}

/** RAM DetectModifyLevel: the highest identifier replaced decides. */
function detectModifyLevel(replacements: readonly Replacement[]): Level {
  if (isReplacedAtTopLevel(replacements, TAGS.PatientID)) return 'Patient';
  if (isReplacedAtTopLevel(replacements, TAGS.StudyInstanceUID)) return 'Study';
  if (isReplacedAtTopLevel(replacements, TAGS.SeriesInstanceUID)) return 'Series';
  return 'Instance';
}

function parseLevel(text: string): Level {
  const level = LEVELS.find((candidate) => candidate.toLowerCase() === text.toLowerCase());
  if (!level) {
    throw new OrthancError(OrthancErrorCode.ParameterOutOfRange, `Unknown "Level" ${JSON.stringify(text)}; accepted: ${LEVELS.join(', ')}`);
  }
  return level;
}

/** The level a modification is asked at: the route's, or "Level" for bulk-modify (undefined: to be detected). */
function requestedModifyLevel(context: RequestContext, bulkLevel: string | undefined): Level | undefined {
  if (context.operation === 'anonymize') return undefined;
  if (context.level !== 'Bulk') return context.level;
  return bulkLevel !== undefined ? parseLevel(bulkLevel) : undefined;
}

/** DM ParseModifyRequest: without Force, identifiers above the modified level stay, and a patient needs a new PatientID. */
function checkModifyLevel(checkedLevel: Level, replacements: readonly Replacement[], context: RequestContext): void {
  const patientId = isReplacedAtTopLevel(replacements, TAGS.PatientID);
  const studyUid = isReplacedAtTopLevel(replacements, TAGS.StudyInstanceUID);
  const seriesUid = isReplacedAtTopLevel(replacements, TAGS.SeriesInstanceUID);
  const fail = (details: string) => OrthancError.badRequest(details);
  switch (checkedLevel) {
    case 'Patient':
      if (!patientId) throw fail('When modifying a patient, her PatientID is required to be modified.');
      return;
    case 'Study':
      if (patientId) throw fail('When modifying a study, the parent PatientID cannot be manually modified');
      return;
    case 'Series':
      if (patientId) throw fail('When modifying a series, the parent PatientID cannot be manually modified');
      if (studyUid) throw fail('When modifying a series, the parent StudyInstanceUID cannot be manually modified');
      return;
    case 'Instance':
      if (patientId && context.scope !== 'download') {
        throw fail('When modifying an instance, the parent PatientID cannot be manually modified');
      }
      if (studyUid) throw fail('When modifying an instance, the parent StudyInstanceUID cannot be manually modified');
      if (seriesUid) throw fail('When modifying an instance, the parent SeriesInstanceUID cannot be manually modified');
  }
}

function parseResources(resources: string[] | undefined): string[] {
  if (!resources || resources.length === 0) {
    throw OrthancError.badRequest('"Resources" should list the Orthanc identifiers of at least one resource');
  }
  resources.forEach((id, index) => {
    if (!isOrthancId(id)) throw OrthancError.badRequest(`"Resources" item ${index} is not an Orthanc identifier`);
  });
  return [...new Set(resources)];
}

function parseDicomVersion(text: string | undefined): DicomVersion {
  if (text === undefined) return DEFAULT_DICOM_VERSION;
  const version = DICOM_VERSIONS.find((candidate) => candidate === text);
  if (!version) {
    throw new OrthancError(
      OrthancErrorCode.ParameterOutOfRange,
      `Unknown DicomVersion ${JSON.stringify(text)}; accepted: ${DICOM_VERSIONS.join(', ')}`,
    );
  }
  return version;
}

/**
 * Validates and normalises the JSON body of an anonymize or modify call (Orthanc's options, plus the
 * seed's rules of issue 7). Throws OrthancError with a precise Details: BadFileFormat when the body
 * is not an object or a Boolean member has another type, UnknownDicomTag for an unknown tag name,
 * ParameterOutOfRange for a bad path, DicomVersion or Level, BadRequest for the rest.
 */
export function parseModificationRequest(body: unknown, context: RequestContext): ModificationRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw OrthancError.badFileFormat('The body of the request should be a JSON object');
  }
  const schema = schemaFor(context);
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw validationError(parsed.error, Object.keys(schema.shape), context);
  const options = parsed.data as RequestBody;

  if (options.Transcode !== undefined || options.LossyQuality !== undefined) {
    const option = options.Transcode !== undefined ? 'Transcode' : 'LossyQuality';
    throw OrthancError.badRequest(`The "${option}" option is not supported yet: DeidFlow keeps the transfer syntax of every instance`);
  }

  const force = options.Force ?? false;
  const routeLevel = requestedModifyLevel(context, options.Level);
  const remove = parsePaths(options.Remove, 'removed', force);
  const replace = parseReplacements(options.Replace as Record<string, JsonValue> | undefined, force, context, routeLevel, options.PrivateCreator);
  const keep = parsePaths(options.Keep, 'kept', force);
  rejectIdentifierRemoval(remove, replace, keep);

  let level: Level = 'Patient';
  let dicomVersion: DicomVersion | undefined;
  let removePrivateTags: boolean;
  if (context.operation === 'anonymize') {
    dicomVersion = parseDicomVersion(options.DicomVersion);
    removePrivateTags = options.KeepPrivateTags === undefined || options.KeepPrivateTags === false;
  } else {
    removePrivateTags = options.RemovePrivateTags !== undefined && options.RemovePrivateTags !== false;
    if (!force) checkModifyLevel(routeLevel ?? 'Instance', replace, context);
    level = routeLevel === undefined || context.level === 'Instance' ? detectModifyLevel(replace) : routeLevel;
  }

  return {
    operation: context.operation,
    target: context.level,
    level,
    scope: context.scope,
    ...(dicomVersion ? { dicomVersion } : {}),
    force,
    replace,
    remove,
    keep,
    removePrivateTags,
    ...(options.PrivateCreator !== undefined ? { privateCreator: options.PrivateCreator } : {}),
    keepLabels: options.KeepLabels ?? false,
    keepSource: options.KeepSource ?? true,
    permissive: options.Permissive ?? false,
    // ORA IsSynchronousJobRequest: "Synchronous" wins over "Asynchronous"; synchronous by default.
    synchronous: options.Synchronous ?? (options.Asynchronous !== undefined ? !options.Asynchronous : true),
    priority: options.Priority ?? 0,
    ...(options.UserData !== undefined ? { userData: options.UserData as JsonValue } : {}),
    ...(context.level === 'Bulk' ? { resources: parseResources(options.Resources) } : {}),
  };
}

/**
 * True when the caller must allocate Orthanc's "AnonymizedN": an anonymization that does not
 * replace, keep or remove PatientName itself (`patientNameOverridden` of Orthanc's C++ DicomModification).
 */
export function needsGeneratedPatientName(request: ModificationRequest): boolean {
  if (request.operation !== 'anonymize') return false;
  const mentions = (path: TagPath) => path.steps.length === 0 && tagFromKey(path.tag) === TAGS.PatientName;
  return !request.replace.some((entry) => mentions(entry.path)) && !request.keep.some(mentions) && !request.remove.some(mentions);
}
