import { createHash } from 'node:crypto';

/** The DICOM identifiers from which Orthanc derives its public IDs. */
export interface DicomIdentifiers {
  patientId: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
}

export interface OrthancIds {
  patient: string;
  study: string;
  series: string;
  instance: string;
}

/** SHA-1 printed as Orthanc does: 40 lowercase hex digits in five dash-separated groups of 8. */
export function orthancHash(value: string): string {
  const hex = createHash('sha1').update(value, 'utf8').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 16)}-${hex.slice(16, 24)}-${hex.slice(24, 32)}-${hex.slice(32, 40)}`;
}

/** Orthanc's DicomInstanceHasher: each level hashes the identifiers of its ancestors joined by '|'. */
export function computeOrthancIds(ids: DicomIdentifiers): OrthancIds {
  const study = `${ids.patientId}|${ids.studyInstanceUid}`;
  const series = `${study}|${ids.seriesInstanceUid}`;
  return {
    patient: orthancHash(ids.patientId),
    study: orthancHash(study),
    series: orthancHash(series),
    instance: orthancHash(`${series}|${ids.sopInstanceUid}`),
  };
}
