/**
 * Where each instance goes in a ZIP archive of resources, as Orthanc 1.10 lays it out
 * (ArchiveJob's ArchiveIndexVisitor and HierarchicalZipWriter): one folder per patient
 * ("PatientID PatientName"), study ("AccessionNumber StudyDescription") and series ("Modality
 * SeriesDescription"), resources in the order of their Orthanc IDs, and files numbered from 0 in
 * each series, prefixed by the first two letters of the modality ("CT000000.dcm").
 */

export interface ArchiveSeries {
  id: string;
  mainDicomTags: Record<string, string>;
  /** In the series' order (GET /series/{id}/instances). */
  instanceIds: string[];
}

export interface ArchiveStudy {
  id: string;
  mainDicomTags: Record<string, string>;
  series: ArchiveSeries[];
}

export interface ArchivePatient {
  id: string;
  mainDicomTags: Record<string, string>;
  studies: ArchiveStudy[];
}

export interface ArchiveEntry {
  path: string;
  instanceId: string;
}

export function archiveEntries(patients: readonly ArchivePatient[]): ArchiveEntry[] {
  const entries: ArchiveEntry[] = [];
  const root = new UniqueNames();
  for (const patient of byId(patients)) {
    const patientDir = root.take(folderName('Patient', patient.mainDicomTags, 'PatientID', 'PatientName'));
    const inPatient = new UniqueNames();
    for (const study of byId(patient.studies)) {
      const studyDir = inPatient.take(folderName('Study', study.mainDicomTags, 'AccessionNumber', 'StudyDescription'));
      const inStudy = new UniqueNames();
      for (const series of byId(study.series)) {
        const seriesDir = inStudy.take(folderName('Series', series.mainDicomTags, 'Modality', 'SeriesDescription'));
        const prefix = keepAlphanumeric(series.mainDicomTags.Modality ?? '').slice(0, 2).toUpperCase();
        const inSeries = new UniqueNames();
        series.instanceIds.forEach((instanceId, index) => {
          const file = inSeries.take(`${prefix}${String(index).padStart(8 - prefix.length, '0')}.dcm`);
          entries.push({ path: `${patientDir}/${studyDir}/${seriesDir}/${file}`, instanceId });
        });
      }
    }
  }
  return entries;
}

/**
 * HierarchicalZipWriter's KeepAlphanumeric: `^` is a space, runs of spaces are one, letters, digits,
 * `.` and `_` are kept, anything else (non-ASCII included) is dropped, then the ends are trimmed.
 */
export function keepAlphanumeric(text: string): string {
  return text
    .replace(/\^/g, ' ')
    .replace(/\s+/g, ' ')
    .replace(/[^A-Za-z0-9._ ]/g, '')
    .replace(/ {2,}/g, ' ')
    .trim();
}

function folderName(level: string, tags: Record<string, string>, first: string, second: string): string {
  return keepAlphanumeric(`${tags[first] ?? ''} ${tags[second] ?? ''}`) || `Unknown ${level}`;
}

function byId<T extends { id: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** EnsureUniqueFilename: the second use of a name in a folder is "name-2", then "name-3". */
class UniqueNames {
  private readonly uses = new Map<string, number>();

  take(name: string): string {
    const count = (this.uses.get(name) ?? 0) + 1;
    this.uses.set(name, count);
    return count === 1 ? name : `${name}-${count}`;
  }
}
