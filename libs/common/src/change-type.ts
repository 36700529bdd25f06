import type { ResourceLevel } from './resource-level';

/**
 * Orthanc's change types (ServerEnumerations.h), numbered as Orthanc stores them. DeidFlow logs
 * CompletedSeries, New*, Stable* and UpdatedMetadata (user-defined metadata set or deleted). Orthanc
 * defines the others too, and GET /changes?type= accepts their names: it never logs Anonymized* /
 * Modified* (a modification's outputs appear as New*), Deleted and NewChildInstance are only
 * signalled to plugins, and DeidFlow has no user-defined attachments (UpdatedAttachment).
 */
export enum ChangeType {
  CompletedSeries = 1,
  NewInstance = 2,
  NewPatient = 3,
  NewSeries = 4,
  NewStudy = 5,
  AnonymizedStudy = 6,
  AnonymizedSeries = 7,
  ModifiedStudy = 8,
  ModifiedSeries = 9,
  AnonymizedPatient = 10,
  ModifiedPatient = 11,
  StablePatient = 12,
  StableStudy = 13,
  StableSeries = 14,
  UpdatedAttachment = 15,
  UpdatedMetadata = 16,
  Deleted = 4096,
  NewChildInstance = 4097,
}

/** The change type of an Orthanc name (exact spelling, as Orthanc's StringToChangeType), if any. */
export function changeTypeOfName(name: string): ChangeType | undefined {
  const value = (ChangeType as unknown as Record<string, ChangeType | string>)[name];
  return typeof value === 'number' ? value : undefined;
}

/** Orthanc's resource types as its core stores them (ResourceType_Patient = 1 ... Instance = 4). */
export const RESOURCE_TYPE: Record<ResourceLevel, number> = { Patient: 1, Study: 2, Series: 3, Instance: 4 };

export const LEVEL_OF_RESOURCE_TYPE: Record<number, ResourceLevel> = { 1: 'Patient', 2: 'Study', 3: 'Series', 4: 'Instance' };
