/** The values of Orthanc's "DicomVersion" anonymization option. */
export type DicomVersion = '2008' | '2017c' | '2021b' | '2023b';

export const DICOM_VERSIONS: readonly DicomVersion[] = ['2008', '2017c', '2021b', '2023b'];

/** What Orthanc uses when the request gives no DicomVersion (current Orthanc, SEMANTICS.md A.2). */
export const DEFAULT_DICOM_VERSION: DicomVersion = '2023b';

/**
 * One row of Table E.1-1, Basic Profile column: tag as 8 uppercase hex digits 'GGGGEEEE',
 * keyword, action code as printed in the standard ('X', 'Z', 'D', 'U', 'X/Z', 'X/D', 'X/Z/D',
 * 'Z/D', 'X/Z/U*', 'K', 'C', ...).
 */
export interface ProfileEntry {
  tag: string;
  keyword: string;
  action: string;
}

/**
 * Group ranges: tag (as the 32-bit number 0xGGGGEEEE) matches when (tag & mask) === value,
 * e.g. curves 50xx,xxxx; overlay data 60xx,3000; overlay comments 60xx,4000.
 */
export interface TagRange {
  description: string;
  mask: number;
  value: number;
  action: 'X';
}

export interface AnonymizationProfile {
  version: DicomVersion;
  /** The edition of PS3.15 the table comes from, and the Orthanc file it was read from. */
  source: string;
  entries: readonly ProfileEntry[];
  ranges: readonly TagRange[];
  /**
   * Suffix of DeidentificationMethod (0012,0063) after "<product> - ",
   * e.g. 'PS 3.15-2023b Table E.1-1 Basic Profile'; 2008: 'PS 3.15-2008 Table E.1-1'.
   */
  deidentificationMethod: string;
}

/**
 * How Orthanc acts on each code: 'remove' (X, X/Z, X/D, X/Z/D), 'clear' (Z, D, Z/D: emptied,
 * D gets NO dummy), 'remapUid' (U), 'relationship' (X/Z/U*: handled by the relationships
 * visitor), 'keep' (K/C or anything else Orthanc ignores).
 */
export type ProfileAction = 'remove' | 'clear' | 'remapUid' | 'relationship' | 'keep';

/** Compiled form for the hot path: Map from tag (uppercase hex) to action, plus the ranges. */
export interface CompiledProfile {
  version: DicomVersion;
  actions: ReadonlyMap<string, ProfileAction>;
  ranges: readonly TagRange[];
  deidentificationMethod: string;
}
