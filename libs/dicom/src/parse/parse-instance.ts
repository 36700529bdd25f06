import { OrthancError } from '@deidflow/common';
import { formatTag, Tag, TAGS } from '../dictionary/tag';
import { computeOrthancIds, DicomIdentifiers, OrthancIds } from '../orthanc-id';
import {
  INSTANCE_MAIN_DICOM_TAGS,
  PATIENT_MAIN_DICOM_TAGS,
  SERIES_MAIN_DICOM_TAGS,
  STUDY_MAIN_DICOM_TAGS,
} from './main-dicom-tags';
import { readTopLevel, TextOf, topLevelText } from './top-level';

export type MainDicomTags = Record<string, string>;

/** What the index needs of one instance: identifiers, Orthanc IDs and main DICOM tags per level. */
export interface ParsedInstance {
  identifiers: DicomIdentifiers;
  ids: OrthancIds;
  sopClassUid: string;
  transferSyntaxUid: string;
  mainDicomTags: {
    patient: MainDicomTags;
    study: MainDicomTags;
    series: MainDicomTags;
    instance: MainDicomTags;
  };
  /** InstanceNumber (or ImageIndex) as Orthanc's IndexInSeries; undefined when absent or not a number. */
  indexInSeries?: number;
}

const INSTANCE_NUMBER: Tag = 0x00200013;
const IMAGE_INDEX: Tag = 0x00541330;

/** The main DICOM tags of one level as [tag, keyword] pairs, decoded once (every instance goes through pick()). */
type MainTagList = readonly (readonly [Tag, string])[];

function mainTagList(tags: Record<string, string>): MainTagList {
  return Object.entries(tags).map(([tag, keyword]) => [Number.parseInt(tag, 16), keyword] as const);
}

const MAIN_TAGS = {
  patient: mainTagList(PATIENT_MAIN_DICOM_TAGS),
  study: mainTagList(STUDY_MAIN_DICOM_TAGS),
  series: mainTagList(SERIES_MAIN_DICOM_TAGS),
  instance: mainTagList(INSTANCE_MAIN_DICOM_TAGS),
};

function pick(text: TextOf, tags: MainTagList): MainDicomTags {
  const out: MainDicomTags = {};
  for (const [tag, keyword] of tags) {
    const value = text(tag);
    if (value !== undefined) out[keyword] = value;
  }
  return out;
}

function requiredUid(text: TextOf, tag: Tag, keyword: string): string {
  const value = text(tag);
  if (!value) {
    throw OrthancError.badFileFormat(`Missing ${keyword} ${formatTag(tag).toUpperCase()}: not a storable DICOM instance`);
  }
  return value;
}

/**
 * Parses the header of a DICOM file for ingest with the engine's bounded codec (values decoded as
 * Orthanc decodes them). Throws OrthancError(BadFileFormat) with a precise reason.
 */
export function parseInstance(bytes: Uint8Array): ParsedInstance {
  const topLevel = readTopLevel(bytes, true);
  const { meta, metaReader, transferSyntax } = topLevel.source;
  const metaSopClass = meta.get(TAGS.MediaStorageSOPClassUID);
  return indexRecord(topLevelText(topLevel), transferSyntax.uid, metaSopClass ? metaReader.asciiOf(metaSopClass) : '');
}

/**
 * What the index holds of an instance, from the values of its dataset's top level. `metaSopClassUid`
 * (the File Meta Information's) stands in for a dataset without SOPClassUID.
 */
export function indexRecord(text: TextOf, transferSyntaxUid: string, metaSopClassUid: string): ParsedInstance {
  const identifiers: DicomIdentifiers = {
    // Orthanc: a missing PatientID counts as "" (see SEMANTICS.md A.5).
    patientId: text(TAGS.PatientID) ?? '',
    studyInstanceUid: requiredUid(text, TAGS.StudyInstanceUID, 'StudyInstanceUID'),
    seriesInstanceUid: requiredUid(text, TAGS.SeriesInstanceUID, 'SeriesInstanceUID'),
    sopInstanceUid: requiredUid(text, TAGS.SOPInstanceUID, 'SOPInstanceUID'),
  };
  // Orthanc (ServerIndex::Store): InstanceNumber, else ImageIndex; an integer, or nothing ("1.0" is not one).
  const index = (text(INSTANCE_NUMBER) ?? text(IMAGE_INDEX))?.trim();
  const indexInSeries = index !== undefined && /^[+-]?\d{1,9}$/.test(index) ? Number(index) : undefined;
  return {
    identifiers,
    ids: computeOrthancIds(identifiers),
    sopClassUid: text(TAGS.SOPClassUID) || metaSopClassUid,
    transferSyntaxUid,
    mainDicomTags: {
      patient: pick(text, MAIN_TAGS.patient),
      study: pick(text, MAIN_TAGS.study),
      series: pick(text, MAIN_TAGS.series),
      instance: pick(text, MAIN_TAGS.instance),
    },
    indexInSeries,
  };
}
