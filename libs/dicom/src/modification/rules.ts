import { CompiledProfile, compileProfile, DEFAULT_DICOM_VERSION, TagRange } from '../anonymization/profiles';
import { isPrivateTag, privateCreatorOf, Tag, tagFromKey, TAGS } from '../dictionary/tag';
import { PRODUCT_NAME, PRODUCT_VERSION } from './product';
import type { JsonValue, Level, ModificationRequest, Operation } from './request-types';
import { CompiledPath, compilePath } from './tag-path';

export interface PathReplacement {
  readonly name: string;
  readonly path: CompiledPath;
  readonly value: JsonValue;
}

/**
 * The sets of Orthanc's DicomModification once the request is parsed (removals_, clearings_, uids_,
 * replacements_, keep flags, private tags to keep, paths), with numeric tags.
 */
export interface ModificationRules {
  readonly operation: Operation;
  readonly level: Level;
  readonly removePrivateTags: boolean;
  readonly privateTagsToKeep: ReadonlySet<Tag>;
  /** The creator elements of the kept private tags: a kept private tag must keep its block reserved. */
  readonly keptPrivateCreators: ReadonlySet<Tag>;
  readonly removals: ReadonlySet<Tag>;
  readonly removedRanges: readonly TagRange[];
  readonly clearings: ReadonlySet<Tag>;
  /** Tags whose values are remapped through the UID map (PatientID through the patient map). */
  readonly uids: ReadonlySet<Tag>;
  /** Top-level replacements, inserted when absent. */
  readonly replacements: ReadonlyMap<Tag, PathReplacement>;
  readonly keepStudyInstanceUid: boolean;
  readonly keepSeriesInstanceUid: boolean;
  readonly keepSopInstanceUid: boolean;
  /** Orthanc's keepSequences_: what Keep protects inside sequences. */
  readonly keepPaths: readonly CompiledPath[];
  /** Orthanc's removeSequences_ and sequenceReplacements_: paths with at least one sequence step. */
  readonly removePaths: readonly CompiledPath[];
  readonly replacePaths: readonly PathReplacement[];
  readonly privateCreator?: string;
}

/** DeidentificationMethod when the anonymization is exactly the profile (Orthanc's ORTHANC_DEIDENTIFICATION_METHOD_*). */
export function profileDeidentificationMethod(profileMethod: string): string {
  return `${PRODUCT_NAME} ${PRODUCT_VERSION} - ${profileMethod}`;
}

/** DeidentificationMethod once the user tuned the anonymization (Orthanc >= 1.12.7: plain "Orthanc <version>"). */
export const TUNED_DEIDENTIFICATION_METHOD = `${PRODUCT_NAME} ${PRODUCT_VERSION}`;

class RuleSets {
  removePrivateTags = false;
  readonly privateTagsToKeep = new Set<Tag>();
  readonly removals = new Set<Tag>();
  readonly clearings = new Set<Tag>();
  readonly uids = new Set<Tag>();
  readonly replacements = new Map<Tag, PathReplacement>();
  readonly keepPaths: CompiledPath[] = [];
  readonly removePaths: CompiledPath[] = [];
  readonly replacePaths: PathReplacement[] = [];
  keepStudyInstanceUid = false;
  keepSeriesInstanceUid = false;
  keepSopInstanceUid = false;
  /** MarkNotOrthancAnonymization was called: the result is not the plain profile any more. */
  tuned = false;

  // DicomModification::Keep(const DicomTag&)
  keep(tag: Tag): void {
    this.removals.delete(tag);
    this.clearings.delete(tag);
    this.uids.delete(tag);
    this.replacements.delete(tag);
    if (tag === TAGS.StudyInstanceUID) this.keepStudyInstanceUid = true;
    else if (tag === TAGS.SeriesInstanceUID) this.keepSeriesInstanceUid = true;
    else if (tag === TAGS.SOPInstanceUID) this.keepSopInstanceUid = true;
    else if (isPrivateTag(tag)) this.privateTagsToKeep.add(tag);
    this.tuned = true;
  }

  // DicomModification::Remove(const DicomTag&)
  remove(tag: Tag): void {
    this.removals.add(tag);
    this.clearings.delete(tag);
    this.uids.delete(tag);
    this.replacements.delete(tag);
    this.privateTagsToKeep.delete(tag);
    this.tuned = true;
  }

  // DicomModification::Replace(const DicomTag&, value, safeForAnonymization)
  replace(tag: Tag, replacement: PathReplacement, safeForAnonymization: boolean): void {
    this.clearings.delete(tag);
    this.removals.delete(tag);
    this.uids.delete(tag);
    this.privateTagsToKeep.delete(tag);
    this.replacements.set(tag, replacement);
    if (!safeForAnonymization) this.tuned = true;
  }
}

function internalReplacement(tag: Tag, name: string, value: string): PathReplacement {
  return { name, path: { steps: [], tag }, value };
}

const profileTagsCache = new Map<CompiledProfile, { removals: Tag[]; clearings: Tag[]; uids: Tag[] }>();

/** The profile's tags by action, parsed once per profile: instance-level calls compile rules per call. */
function profileTags(profile: CompiledProfile): { removals: Tag[]; clearings: Tag[]; uids: Tag[] } {
  let tags = profileTagsCache.get(profile);
  if (!tags) {
    tags = { removals: [], clearings: [], uids: [] };
    for (const [key, action] of profile.actions) {
      if (action === 'remove') tags.removals.push(tagFromKey(key));
      else if (action === 'clear') tags.clearings.push(tagFromKey(key));
      else if (action === 'remapUid') tags.uids.push(tagFromKey(key));
    }
    profileTagsCache.set(profile, tags);
  }
  return tags;
}

/**
 * Builds the rule sets the way DicomModification::ParseAnonymizationRequest / ParseModifyRequest
 * and the REST layer do: profile first (anonymization), then Remove, Replace and Keep in that
 * order, each cancelling what the previous ones said about the same tag.
 */
export function compileRules(request: ModificationRequest, patientName: string): ModificationRules {
  const sets = new RuleSets();
  let removedRanges: readonly TagRange[] = [];
  let profileMethod: string | undefined;

  if (request.operation === 'anonymize') {
    const profile = compileProfile(request.dicomVersion ?? DEFAULT_DICOM_VERSION);
    const tags = profileTags(profile);
    for (const tag of tags.removals) sets.removals.add(tag);
    for (const tag of tags.clearings) sets.clearings.add(tag);
    for (const tag of tags.uids) sets.uids.add(tag);
    removedRanges = profile.ranges;
    profileMethod = profileDeidentificationMethod(profile.deidentificationMethod);
    sets.replacements.set(TAGS.DeidentificationMethod, internalReplacement(TAGS.DeidentificationMethod, 'DeidentificationMethod', profileMethod));
    sets.replacements.set(TAGS.PatientIdentityRemoved, internalReplacement(TAGS.PatientIdentityRemoved, 'PatientIdentityRemoved', 'YES'));
    sets.uids.add(TAGS.PatientID);
    sets.uids.add(TAGS.PatientName);
    sets.removePrivateTags = request.removePrivateTags;
    if (!request.removePrivateTags) sets.tuned = true;
  } else {
    sets.removePrivateTags = request.removePrivateTags;
  }

  for (const path of request.remove) {
    const compiled = compilePath(path);
    if (compiled.steps.length === 0) sets.remove(compiled.tag);
    else {
      sets.removePaths.push(compiled);
      sets.tuned = true;
    }
  }
  for (const entry of request.replace) {
    const compiled = compilePath(entry.path);
    const replacement: PathReplacement = { name: entry.name, path: compiled, value: entry.value };
    if (compiled.steps.length === 0) sets.replace(compiled.tag, replacement, false);
    else {
      sets.replacePaths.push(replacement);
      sets.tuned = true;
    }
  }
  for (const path of request.keep) {
    const compiled = compilePath(path);
    if (compiled.steps.length === 0) sets.keep(compiled.tag);
    sets.keepPaths.push(compiled);
    sets.tuned = true;
  }

  if (request.operation === 'anonymize') {
    // RAM ParseAnonymizationRequest: "AnonymizedN" unless the user replaced, kept or removed PatientName.
    if (sets.uids.delete(TAGS.PatientName)) {
      sets.replacements.set(TAGS.PatientName, internalReplacement(TAGS.PatientName, 'PatientName', patientName));
    }
    if (sets.tuned && sets.replacements.get(TAGS.DeidentificationMethod)?.value === profileMethod) {
      sets.replacements.set(
        TAGS.DeidentificationMethod,
        internalReplacement(TAGS.DeidentificationMethod, 'DeidentificationMethod', TUNED_DEIDENTIFICATION_METHOD),
      );
    }
  }

  const keptPrivateCreators = new Set<Tag>();
  for (const tag of sets.privateTagsToKeep) {
    const creator = privateCreatorOf(tag);
    if (creator !== undefined) keptPrivateCreators.add(creator);
  }

  return {
    operation: request.operation,
    level: request.level,
    removePrivateTags: sets.removePrivateTags,
    privateTagsToKeep: sets.privateTagsToKeep,
    keptPrivateCreators,
    removals: sets.removals,
    removedRanges,
    clearings: sets.clearings,
    uids: sets.uids,
    replacements: sets.replacements,
    keepStudyInstanceUid: sets.keepStudyInstanceUid,
    keepSeriesInstanceUid: sets.keepSeriesInstanceUid,
    keepSopInstanceUid: sets.keepSopInstanceUid,
    keepPaths: sets.keepPaths,
    removePaths: sets.removePaths,
    replacePaths: sets.replacePaths,
    privateCreator: request.privateCreator,
  };
}

/** DicomModification::IsRemoved: listed, or in one of the profile's group ranges. */
export function isRemoved(rules: ModificationRules, tag: Tag): boolean {
  if (rules.removals.has(tag)) return true;
  for (const range of rules.removedRanges) {
    if ((tag & range.mask) >>> 0 === range.value) return true;
  }
  return false;
}
