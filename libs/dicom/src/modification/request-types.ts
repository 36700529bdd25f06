import type { DicomVersion } from '../anonymization/profiles';

export type Operation = 'anonymize' | 'modify';
export type Level = 'Patient' | 'Study' | 'Series' | 'Instance';

/** The route that received the request: one resource of a level, or /tools/bulk-{anonymize,modify}. */
export type RequestTarget = Level | 'Bulk';

/**
 * Where the result goes. 'download': the instance endpoints, whose answer is a file and which store
 * nothing, so the seed's rule (issue 7) lets PatientID be replaced without Force there. 'store':
 * series/study/patient/bulk jobs, with Orthanc's Force rules.
 */
export type Scope = 'download' | 'store';

/** One step into a sequence: item `index` (0-based, as dcmodify and Orthanc count), or every item ('*'). */
export interface PathStep {
  readonly sequence: string;
  readonly index: number | '*';
}

/** A tag, possibly inside sequences (Orthanc's DicomPath). Tags are 'GGGGEEEE'. */
export interface TagPath {
  readonly steps: readonly PathStep[];
  readonly tag: string;
}

export interface Replacement {
  /** The key as the user wrote it, for messages (Orthanc quotes it). */
  readonly name: string;
  readonly path: TagPath;
  /** The JSON value as given; it is cast to the VR of the tag when applied. */
  readonly value: JsonValue;
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/**
 * A validated, normalised request: JSON-serialisable, stored once with its job and rebuilt into a
 * DicomModification by every worker.
 */
export interface ModificationRequest {
  readonly operation: Operation;
  readonly target: RequestTarget;
  /**
   * The level of the modification (Orthanc's DicomModification level): new UIDs are generated at and
   * below it. Anonymization is always 'Patient'; modify takes the level of the route, or for
   * instances and bulk without "Level", the level detected from the replaced identifiers.
   */
  readonly level: Level;
  readonly scope: Scope;
  /** Anonymization only. */
  readonly dicomVersion?: DicomVersion;
  readonly force: boolean;
  readonly replace: readonly Replacement[];
  readonly remove: readonly TagPath[];
  readonly keep: readonly TagPath[];
  /** Anonymize: not KeepPrivateTags. Modify: RemovePrivateTags. */
  readonly removePrivateTags: boolean;
  readonly privateCreator?: string;
  readonly keepLabels: boolean;
  readonly keepSource: boolean;
  readonly permissive: boolean;
  readonly synchronous: boolean;
  readonly priority: number;
  readonly userData?: JsonValue;
  /** Bulk routes only: Orthanc IDs of resources of any level. */
  readonly resources?: readonly string[];
}
