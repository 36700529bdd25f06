/** The four levels of the DICOM hierarchy, spelled as Orthanc spells them in `Type`. */
export type ResourceLevel = 'Patient' | 'Study' | 'Series' | 'Instance';

/** The levels from the top of the hierarchy down. */
export const RESOURCE_LEVELS: readonly ResourceLevel[] = ['Patient', 'Study', 'Series', 'Instance'];

/** URL segment (`/patients`, `/studies`, ...) of each level. */
export const LEVEL_PATH: Record<ResourceLevel, string> = {
  Patient: 'patients',
  Study: 'studies',
  Series: 'series',
  Instance: 'instances',
};

export const PATH_LEVEL: Record<string, ResourceLevel> = {
  patients: 'Patient',
  studies: 'Study',
  series: 'Series',
  instances: 'Instance',
};

/** The level below each level (none below an instance). */
export const CHILD_LEVEL: Record<ResourceLevel, ResourceLevel | null> = {
  Patient: 'Study',
  Study: 'Series',
  Series: 'Instance',
  Instance: null,
};

/** The level above each level (none above a patient). */
export const PARENT_LEVEL: Record<ResourceLevel, ResourceLevel | null> = {
  Patient: null,
  Study: 'Patient',
  Series: 'Study',
  Instance: 'Series',
};

/** An Orthanc public ID: SHA-1 as five dash-separated groups of 8 lowercase hex digits. */
export const ORTHANC_ID_PATTERN = /^[0-9a-f]{8}(-[0-9a-f]{8}){4}$/;

export function isOrthancId(value: string): boolean {
  return ORTHANC_ID_PATTERN.test(value);
}
