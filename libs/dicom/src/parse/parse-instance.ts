import { OrthancError } from '@deidflow/common';
import { computeOrthancIds, DicomIdentifiers, OrthancIds } from '../orthanc-id';
import { DcmjsDict, elementToString, readDicomFile } from './dcmjs-read';
import {
  INSTANCE_MAIN_DICOM_TAGS,
  PATIENT_MAIN_DICOM_TAGS,
  SERIES_MAIN_DICOM_TAGS,
  STUDY_MAIN_DICOM_TAGS,
} from './main-dicom-tags';

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

const IMPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2';

function pick(dict: DcmjsDict, tags: Record<string, string>): MainDicomTags {
  const out: MainDicomTags = {};
  for (const [tag, keyword] of Object.entries(tags)) {
    const value = elementToString(dict[tag]);
    if (value !== undefined) out[keyword] = value;
  }
  return out;
}

function requiredUid(dict: DcmjsDict, tag: string, keyword: string): string {
  const value = elementToString(dict[tag]);
  if (!value) {
    throw OrthancError.badFileFormat(`Missing ${keyword} (${tag.slice(0, 4)},${tag.slice(4)}): not a storable DICOM instance`);
  }
  return value;
}

/** Parses the header of a DICOM file for ingest. Throws OrthancError(BadFileFormat) with a precise reason. */
export function parseInstance(bytes: Uint8Array): ParsedInstance {
  const { meta, dict } = readDicomFile(bytes, { headerOnly: true });
  const identifiers: DicomIdentifiers = {
    // Orthanc: a missing PatientID counts as "" (see SEMANTICS.md A.5).
    patientId: elementToString(dict['00100020']) ?? '',
    studyInstanceUid: requiredUid(dict, '0020000D', 'StudyInstanceUID'),
    seriesInstanceUid: requiredUid(dict, '0020000E', 'SeriesInstanceUID'),
    sopInstanceUid: requiredUid(dict, '00080018', 'SOPInstanceUID'),
  };
  const sopClassUid = elementToString(dict['00080016']) || elementToString(meta['00020002']) || '';
  const instanceNumber = Number.parseInt(elementToString(dict['00200013']) ?? '', 10);
  return {
    identifiers,
    ids: computeOrthancIds(identifiers),
    sopClassUid,
    transferSyntaxUid: elementToString(meta['00020010']) || IMPLICIT_VR_LITTLE_ENDIAN,
    mainDicomTags: {
      patient: pick(dict, PATIENT_MAIN_DICOM_TAGS),
      study: pick(dict, STUDY_MAIN_DICOM_TAGS),
      series: pick(dict, SERIES_MAIN_DICOM_TAGS),
      instance: pick(dict, INSTANCE_MAIN_DICOM_TAGS),
    },
    indexInSeries: Number.isFinite(instanceNumber) ? instanceNumber : undefined,
  };
}
