/**
 * A DICOM tag as one unsigned 32-bit number, group in the high 16 bits (0x00100020 = PatientID):
 * cheap to compare and to use as a Map key on the hot path. `TagKey` is its 'GGGGEEEE' text form,
 * the one that goes into JSON (requests, profiles).
 */
export type Tag = number;
export type TagKey = string;

export const TAGS = {
  FileMetaInformationGroupLength: 0x00020000,
  FileMetaInformationVersion: 0x00020001,
  MediaStorageSOPClassUID: 0x00020002,
  MediaStorageSOPInstanceUID: 0x00020003,
  TransferSyntaxUID: 0x00020010,
  ImplementationClassUID: 0x00020012,
  ImplementationVersionName: 0x00020013,
  SourceApplicationEntityTitle: 0x00020016,
  SpecificCharacterSet: 0x00080005,
  SOPClassUID: 0x00080016,
  SOPInstanceUID: 0x00080018,
  ReferencedSOPInstanceUID: 0x00081155,
  PatientName: 0x00100010,
  PatientID: 0x00100020,
  PatientIdentityRemoved: 0x00120062,
  DeidentificationMethod: 0x00120063,
  StudyInstanceUID: 0x0020000d,
  SeriesInstanceUID: 0x0020000e,
  ReferencedFrameOfReferenceSequence: 0x30060010,
  RTReferencedStudySequence: 0x30060012,
  PixelData: 0x7fe00010,
  DataSetTrailingPadding: 0xfffcfffc,
  Item: 0xfffee000,
  ItemDelimitationItem: 0xfffee00d,
  SequenceDelimitationItem: 0xfffee0dd,
} as const;

export function makeTag(group: number, element: number): Tag {
  return ((group << 16) | element) >>> 0;
}

/**
 * Odd groups are private (PS3.5 7.8.1). The illegal odd groups 0001-0007 count as private too: they
 * are not standard attributes either, and anonymization must not let them through.
 */
export function isPrivateTag(tag: Tag): boolean {
  const group = tag >>> 16;
  return (group & 1) === 1 && group !== 0xffff;
}

/** (gggg,0010-00FF): the element that reserves a block of a private group for a creator. */
export function isPrivateCreatorTag(tag: Tag): boolean {
  const element = tag & 0xffff;
  return isPrivateTag(tag) && element >= 0x0010 && element <= 0x00ff;
}

/** The private creator element reserving the block of a private tag: (gggg,10xx) -> (gggg,0010). */
export function privateCreatorOf(tag: Tag): Tag | undefined {
  const element = tag & 0xffff;
  if (!isPrivateTag(tag) || element < 0x1000) return undefined;
  return makeTag(tag >>> 16, element >>> 8);
}

export function isGroupLengthTag(tag: Tag): boolean {
  return (tag & 0xffff) === 0;
}

/** 'GGGGEEEE', upper case: the key used in JSON. */
export function tagKey(tag: Tag): TagKey {
  return (tag >>> 0).toString(16).toUpperCase().padStart(8, '0');
}

/** '(gggg,eeee)', lower case: how Orthanc prints tags in messages. */
export function formatTag(tag: Tag): string {
  const hex = (tag >>> 0).toString(16).padStart(8, '0');
  return `(${hex.slice(0, 4)},${hex.slice(4)})`;
}

export function tagFromKey(key: TagKey): Tag {
  if (!/^[0-9A-Fa-f]{8}$/.test(key)) {
    throw new RangeError(`Not a tag key: ${key}`);
  }
  return Number.parseInt(key, 16) >>> 0;
}
