import { OrthancError } from '@deidflow/common';
import { formatTag, Tag, TAGS } from '../dictionary/tag';
import { computeOrthancIds, DicomIdentifiers, OrthancIds } from '../orthanc-id';
import {
  INSTANCE_MAIN_DICOM_TAGS,
  PATIENT_MAIN_DICOM_TAGS,
  SERIES_MAIN_DICOM_TAGS,
  STUDY_MAIN_DICOM_TAGS,
} from './main-dicom-tags';
import { readTopLevel, topLevelText } from './top-level';

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

type TextOf = (tag: Tag) => string | undefined;

const INSTANCE_NUMBER: Tag = 0x00200013;

function pick(text: TextOf, tags: Record<string, string>): MainDicomTags {
  const out: MainDicomTags = {};
  for (const [tag, keyword] of Object.entries(tags)) {
    const value = text(Number.parseInt(tag, 16));
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
  const text = topLevelText(topLevel);
  const identifiers: DicomIdentifiers = {
    // Orthanc: a missing PatientID counts as "" (see SEMANTICS.md A.5).
    patientId: text(TAGS.PatientID) ?? '',
    studyInstanceUid: requiredUid(text, TAGS.StudyInstanceUID, 'StudyInstanceUID'),
    seriesInstanceUid: requiredUid(text, TAGS.SeriesInstanceUID, 'SeriesInstanceUID'),
    sopInstanceUid: requiredUid(text, TAGS.SOPInstanceUID, 'SOPInstanceUID'),
  };
  const { meta, metaReader, transferSyntax } = topLevel.source;
  const metaSopClass = meta.get(TAGS.MediaStorageSOPClassUID);
  const sopClassUid = text(TAGS.SOPClassUID) || (metaSopClass ? metaReader.asciiOf(metaSopClass) : '');
  const instanceNumber = Number.parseInt(text(INSTANCE_NUMBER) ?? '', 10);
  return {
    identifiers,
    ids: computeOrthancIds(identifiers),
    sopClassUid,
    transferSyntaxUid: transferSyntax.uid,
    mainDicomTags: {
      patient: pick(text, PATIENT_MAIN_DICOM_TAGS),
      study: pick(text, STUDY_MAIN_DICOM_TAGS),
      series: pick(text, SERIES_MAIN_DICOM_TAGS),
      instance: pick(text, INSTANCE_MAIN_DICOM_TAGS),
    },
    indexInSeries: Number.isFinite(instanceNumber) ? instanceNumber : undefined,
  };
}
