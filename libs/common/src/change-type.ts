import type { ResourceLevel } from './resource-level';

/**
 * Orthanc's change types (ServerEnumerations.h), numbered as Orthanc stores them. Only those that
 * DeidFlow logs: Orthanc defines Anonymized* / Modified* too but never logs them (a modification's
 * outputs appear as New*), and Deleted is only signalled to plugins, never logged.
 */
export enum ChangeType {
  CompletedSeries = 1,
  NewInstance = 2,
  NewPatient = 3,
  NewSeries = 4,
  NewStudy = 5,
  StablePatient = 12,
  StableStudy = 13,
  StableSeries = 14,
}

/** Orthanc's resource types as its core stores them (ResourceType_Patient = 1 ... Instance = 4). */
export const RESOURCE_TYPE: Record<ResourceLevel, number> = { Patient: 1, Study: 2, Series: 3, Instance: 4 };

export const LEVEL_OF_RESOURCE_TYPE: Record<number, ResourceLevel> = { 1: 'Patient', 2: 'Study', 3: 'Series', 4: 'Instance' };
