import type { Readable } from 'node:stream';
import { Injectable, Logger } from '@nestjs/common';
import archiver, { type Archiver } from 'archiver';
import { isOrthancId, OrthancError, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { InstanceRow, ResourceRepository, ResourceRow } from '@deidflow/database';
import { ArchiveEntry, ArchivePatient, ArchiveSeries, ArchiveStudy, archiveEntries } from '@deidflow/dicom';
import { existingResource } from './browse.service';

/**
 * Orthanc's ZIP archives (`GET /{level}/{id}/archive`, `POST /tools/create-archive`): the instances
 * of the resources, in Orthanc's folders (libs/dicom archiveEntries). The ZIP is streamed: one file is
 * read from the store and added at a time, as fast as the client takes it, so memory does not grow
 * with the archive. Files are stored, not deflated (the archive goes out at storage speed; ZIP64 is
 * used when the sizes need it).
 */
@Injectable()
export class ArchiveService {
  private readonly logger = new Logger(ArchiveService.name);
  private writing = 0;

  constructor(
    private readonly resources: ResourceRepository,
    private readonly store: InstanceStoreService,
  ) {}

  /** Validates every resource first (404 for an unknown one), then starts the stream. */
  async archive(resources: readonly { level: ResourceLevel; id: string }[]): Promise<Readable> {
    const { entries, instances } = await this.plan(resources);
    const zip = archiver('zip', { store: true });
    void this.fill(zip, entries, instances);
    return zip;
  }

  /** Archives being written (0 at rest: one whose client went away is dropped, not left waiting). */
  get inProgress(): number {
    return this.writing;
  }

  /** Resources of mixed levels; Orthanc's create-archive accepts any level. */
  async levelsOf(ids: readonly string[]): Promise<{ level: ResourceLevel; id: string }[]> {
    const levels = await this.resources.findLevels(ids.filter(isOrthancId));
    return ids.map((id) => {
      const level = levels.get(id);
      if (!level) throw OrthancError.unknownResource(`Unknown resource: ${id}`);
      return { level, id };
    });
  }

  private async plan(resources: readonly { level: ResourceLevel; id: string }[]) {
    const instances = new Map<string, InstanceRow>();
    for (const { level, id } of resources) {
      await existingResource(this.resources, level, id);
      for await (const batch of this.resources.iterateInstances(level, id)) {
        // Only what reading and ordering need: not each instance's tags.
        for (const row of batch) instances.set(row.id, { ...row, mainDicomTags: {} });
      }
    }
    const ordered = [...instances.values()].sort((a, b) => (a.indexInSeries ?? Infinity) - (b.indexInSeries ?? Infinity) || (a.id < b.id ? -1 : 1));
    // The hierarchy above the instances: one query per level.
    const seriesRows = await this.rowsOf('Series', ordered.map((instance) => instance.seriesId));
    const studyRows = await this.rowsOf('Study', [...seriesRows.values()].map((row) => row.parentId!));
    const patientRows = await this.rowsOf('Patient', [...studyRows.values()].map((row) => row.parentId!));
    // Patients, studies and series in the order of their first instance.
    const patients = new Map<string, ArchivePatient>();
    const studies = new Map<string, ArchiveStudy>();
    const series = new Map<string, ArchiveSeries>();
    for (const instance of ordered) {
      const seriesRow = seriesRows.get(instance.seriesId)!;
      const studyRow = studyRows.get(seriesRow.parentId!)!;
      const patientRow = patientRows.get(studyRow.parentId!)!;
      let p = patients.get(patientRow.id);
      if (!p) {
        p = { id: patientRow.id, mainDicomTags: patientRow.mainDicomTags, studies: [] };
        patients.set(p.id, p);
      }
      let st = studies.get(studyRow.id);
      if (!st) {
        st = { id: studyRow.id, mainDicomTags: studyRow.mainDicomTags, series: [] };
        studies.set(st.id, st);
        p.studies.push(st);
      }
      let se = series.get(seriesRow.id);
      if (!se) {
        se = { id: seriesRow.id, mainDicomTags: seriesRow.mainDicomTags, instanceIds: [] };
        series.set(se.id, se);
        st.series.push(se);
      }
      se.instanceIds.push(instance.id);
    }
    return { entries: archiveEntries([...patients.values()]), instances };
  }

  /** The rows of these resources of one level, by ID; a 404 when one was deleted meanwhile. */
  private async rowsOf(level: ResourceLevel, ids: readonly string[]): Promise<Map<string, ResourceRow>> {
    const unique = [...new Set(ids)];
    const rows = new Map((await this.resources.findResources(level, unique)).map((row) => [row.id, row]));
    if (rows.size < unique.length) throw OrthancError.unknownResource();
    return rows;
  }

  private async fill(zip: Archiver, entries: readonly ArchiveEntry[], instances: ReadonlyMap<string, InstanceRow>): Promise<void> {
    let closed = false;
    zip.once('close', () => (closed = true));
    this.writing++;
    try {
      for (const entry of entries) {
        if (closed) return; // the client went away
        const instance = instances.get(entry.instanceId)!;
        let content: Buffer | Readable;
        try {
          content = await this.store.readForAnswer(instance);
        } catch (err) {
          // As Orthanc: an instance deleted since the archive started is left out.
          if (err instanceof OrthancError && (err.code === OrthancErrorCode.UnknownResource || err.code === OrthancErrorCode.InexistentFile)) {
            this.logger.warn({ instanceId: entry.instanceId }, 'an instance was deleted while its archive was written: left out');
            continue;
          }
          throw err;
        }
        if (closed) {
          // The client went away while the file was being opened.
          if (!Buffer.isBuffer(content)) content.destroy();
          return;
        }
        await appended(zip, content, entry.path);
      }
      await zip.finalize();
    } catch (err) {
      if (closed) return; // the client went away mid-file
      // The answer is already under way: all that can be done is to cut it short (the client sees a broken ZIP).
      this.logger.error({ err: (err as Error).message }, 'archive cut short');
      zip.destroy(err as Error);
    } finally {
      this.writing--;
    }
  }
}

/**
 * Adds one file and waits until the archive has taken it (and so the client most of it). A stream
 * still being read when the archive closes is destroyed: archiver leaves it open (the file, or the
 * object store's connection, would stay open for good).
 */
function appended(zip: Archiver, content: Buffer | Readable, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onEntry = () => {
      zip.off('close', onClose);
      resolve();
    };
    const onClose = () => {
      zip.off('entry', onEntry);
      if (!Buffer.isBuffer(content)) content.destroy();
      reject(new Error('The archive was closed'));
    };
    zip.once('entry', onEntry);
    zip.once('close', onClose);
    zip.append(content, { name });
  });
}
