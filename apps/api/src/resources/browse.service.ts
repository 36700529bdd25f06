import { Injectable } from '@nestjs/common';
import { CHILD_LEVEL, LEVEL_PATH, OrthancError, orthancTimestamp, PARENT_LEVEL, ResourceLevel, isOrthancId } from '@deidflow/common';
import { ResourceDeletionService } from '@deidflow/core';
import { InstanceRow, instanceResource, LabelRepository, MetadataRepository, ResourceRepository, ResourceRow } from '@deidflow/database';
import { expectedInstancesOfSeries, seriesStatus } from '@deidflow/dicom';
import { formatResource, sortKeys } from './resource-formatter';

/** Resources expanded per batch of queries (bounds each query's list of IDs). */
const EXPAND_PAGE = 500;
/** IDs listed per query when nothing is expanded. */
const ID_PAGE = 10_000;

/** Reads of the index in Orthanc's shapes, and deletions with Orthanc's cascade. */
@Injectable()
export class BrowseService {
  constructor(
    private readonly resources: ResourceRepository,
    private readonly metadata: MetadataRepository,
    private readonly labels: LabelRepository,
    private readonly deletion: ResourceDeletionService,
  ) {}

  /** GET /{level}, a page at a time (the controller streams them): IDs, or the resources expanded. */
  async *listPages(level: ResourceLevel, expand: boolean, page: { since?: number; limit?: number }): AsyncGenerator<unknown[]> {
    for await (const ids of this.resources.idPages(level, page, expand ? EXPAND_PAGE : ID_PAGE)) {
      yield expand ? await this.expandPage(level, ids) : ids;
    }
  }

  async get(level: ResourceLevel, id: string): Promise<Record<string, unknown>> {
    assertId(id);
    const [resource] = await this.expandPage(level, [id]);
    if (!resource) throw OrthancError.unknownResource();
    return resource;
  }

  /**
   * The resources as GET /{level}/{id} shows them, in the order of `ids`, for the `expand` of a
   * list, a find or the children of a resource. A resource deleted since its ID was read is left
   * out. A few queries per page of EXPAND_PAGE resources, not several per resource.
   */
  async expand(level: ResourceLevel, ids: readonly string[]): Promise<Record<string, unknown>[]> {
    const expanded: Record<string, unknown>[] = [];
    for await (const page of this.expandedPages(level, ids)) expanded.push(...page);
    return expanded;
  }

  /** The same, a page of EXPAND_PAGE at a time, for answers streamed as they are expanded. */
  async *expandedPages(level: ResourceLevel, ids: readonly string[]): AsyncGenerator<Record<string, unknown>[]> {
    for (let start = 0; start < ids.length; start += EXPAND_PAGE) yield this.expandPage(level, ids.slice(start, start + EXPAND_PAGE));
  }

  private async expandPage(level: ResourceLevel, ids: readonly string[]): Promise<Record<string, unknown>[]> {
    // An instance's answer also needs its file's row (size, index in the series).
    const instances = level === 'Instance' ? await this.resources.findInstances(ids) : [];
    const rows = level === 'Instance' ? instances.map(instanceResource) : await this.resources.findResources(level, ids);
    const byId = new Map<string, ResourceRow>(rows.map((r) => [r.id, r]));
    const present = ids.filter((id) => byId.has(id));
    if (present.length === 0) return [];
    // A study shows its own copy of its patient's tags (Orthanc's); one indexed before it was kept, its patient's.
    const patientIds = level === 'Study' ? [...new Set(present.map((id) => byId.get(id)!).filter((r) => !r.patientMainDicomTags).map((r) => r.parentId!))] : [];
    // A series that announces its count of instances is checked against their indexes (Orthanc's Status).
    const expected = new Map(level === 'Series' ? present.map((id) => [id, expectedInstancesOfSeries(byId.get(id)!.mainDicomTags)]) : []);
    const announcing = [...expected].filter(([, count]) => count !== undefined).map(([id]) => id);
    const [children, metadata, labels, patients, indexes] = await Promise.all([
      this.resources.childIdsOf(level, present),
      this.metadata.getMany(present),
      this.labels.labelsOfMany(present),
      patientIds.length > 0 ? this.resources.findResources('Patient', patientIds) : [],
      this.resources.indexesInSeries(announcing),
    ]);
    const instanceById = new Map(instances.map((row) => [row.id, row]));
    const patientTags = new Map(patients.map((p) => [p.id, p.mainDicomTags]));
    return present.map((id) => {
      const resource = byId.get(id)!;
      return formatResource(resource, {
        children: children.get(id) ?? [],
        metadata: metadata.get(id) ?? {},
        labels: labels.get(id) ?? [],
        instance: instanceById.get(id),
        ...(level === 'Series' ? { series: { expected: expected.get(id), status: seriesStatus(expected.get(id), indexes.get(id) ?? []) } } : {}),
        patientMainDicomTags: resource.patientMainDicomTags ?? (resource.parentId ? patientTags.get(resource.parentId) : undefined),
      });
    });
  }

  /** `GET /studies/{id}/series`, `/patients/{id}/studies`, ... : the expanded resources of a lower level. */
  async descendants(level: ResourceLevel, id: string, target: ResourceLevel, expand = true): Promise<unknown[]> {
    await existingResource(this.resources, level, id);
    let ids = [id];
    let current = level;
    while (current !== target) {
      const next = CHILD_LEVEL[current];
      if (!next) throw OrthancError.badRequest(`A ${level.toLowerCase()} has no ${LEVEL_PATH[target]}`);
      ids = [...(await this.resources.childIdsOf(current, ids)).values()].flat();
      current = next;
    }
    return expand ? this.expand(target, ids) : ids;
  }

  /** `GET /instances/{id}/study`, `/series/{id}/patient`, ... : the ancestor at a higher level. */
  async ancestor(level: ResourceLevel, id: string, target: ResourceLevel): Promise<Record<string, unknown>> {
    assertId(id);
    let current = level;
    let currentId = id;
    while (current !== target) {
      const parentLevel = PARENT_LEVEL[current];
      if (!parentLevel) throw OrthancError.badRequest(`A ${level.toLowerCase()} has no parent ${target.toLowerCase()}`);
      const parent = await this.resources.parentOf(current, currentId);
      if (!parent) throw OrthancError.unknownResource();
      current = parentLevel;
      currentId = parent;
    }
    return this.get(target, currentId);
  }

  /** Deletes the resource, its descendants and emptied parents, then their objects. */
  async delete(level: ResourceLevel, id: string): Promise<{ RemainingAncestor: unknown }> {
    assertId(id);
    const deleted = await this.deletion.deleteResource(level, id);
    if (!deleted) throw OrthancError.unknownResource();
    const ancestor = deleted.remainingAncestor;
    return {
      RemainingAncestor: ancestor
        ? { ID: ancestor.id, Path: `/${LEVEL_PATH[ancestor.level]}/${ancestor.id}`, Type: ancestor.level }
        : null,
    };
  }

  /** What the index knows of the resource as Orthanc's automatic metadata, with the metadata jobs recorded (AnonymizedFrom, ModifiedFrom). */
  async metadataOf(level: ResourceLevel, id: string): Promise<Record<string, string>> {
    assertId(id);
    // An instance's row has what its metadata needs: one read, not its resource row and then it.
    const instance = level === 'Instance' ? await this.resources.findInstance(id) : null;
    const row = instance ? instanceResource(instance) : await existingResource(this.resources, level, id);
    return sortKeys({ ...automaticMetadata(row, instance), ...(await this.metadata.get(id)) });
  }

  /** Patients, studies and series have no attachment (Orthanc's user attachments are not supported): [] when they exist. */
  async attachmentsOf(level: ResourceLevel, id: string): Promise<string[]> {
    await existingResource(this.resources, level, id);
    return [];
  }

  /** Orthanc's GET /{level}/{id}/statistics; DeidFlow stores DICOM files only, so Dicom* and the totals agree. */
  async resourceStatistics(level: ResourceLevel, id: string): Promise<Record<string, unknown>> {
    await existingResource(this.resources, level, id);
    const s = await this.resources.resourceStatistics(level, id);
    const size = s.totalSize.toString();
    const mb = Number(s.totalSize / 1048576n);
    return sortKeys({
      ...(level === 'Patient' ? { CountStudies: s.studies } : {}),
      ...(level === 'Patient' || level === 'Study' ? { CountSeries: s.series } : {}),
      ...(level !== 'Instance' ? { CountInstances: s.instances } : {}),
      DicomDiskSize: size,
      DicomDiskSizeMB: mb,
      DicomUncompressedSize: size,
      DicomUncompressedSizeMB: mb,
      DiskSize: size,
      DiskSizeMB: mb,
      UncompressedSize: size,
      UncompressedSizeMB: mb,
    });
  }

  async statistics(): Promise<Record<string, unknown>> {
    const s = await this.resources.statistics();
    const mb = Number(s.totalSize / 1048576n);
    return {
      CountInstances: s.instances,
      CountPatients: s.patients,
      CountSeries: s.series,
      CountStudies: s.studies,
      TotalDiskSize: s.totalSize.toString(),
      TotalDiskSizeMB: mb,
      TotalUncompressedSize: s.totalSize.toString(),
      TotalUncompressedSizeMB: mb,
    };
  }
}

/** IDs are checked before anything touches the index or storage with them. */
export function assertId(id: string): void {
  if (!isOrthancId(id)) throw OrthancError.unknownResource();
}

/**
 * Orthanc's automatic metadata, from what the index records: LastUpdate of a patient, study or
 * series; of an instance its reception (an upload, or a job's output: both arrive through the
 * REST API, Origin "RestApi"), its index in the series and its SOP class and transfer syntax. An
 * instance received over DICOM has rows of its own (Origin, RemoteAET, CalledAET, RemoteIP: see
 * MetadataRepository.setReceptionMetadata) that override these. HttpUsername is not recorded.
 */
function automaticMetadata(row: ResourceRow, instance: InstanceRow | null): Record<string, string> {
  if (!instance) return { LastUpdate: orthancTimestamp(row.lastUpdate) };
  return {
    ...(instance.indexInSeries !== null ? { IndexInSeries: String(instance.indexInSeries) } : {}),
    Origin: 'RestApi',
    ReceptionDate: orthancTimestamp(instance.receivedAt),
    RemoteAET: '',
    SopClassUid: instance.sopClassUid,
    TransferSyntax: instance.transferSyntaxUid,
  };
}

/** The resource's index row; Orthanc's 404 (UnknownResource) for a malformed or unknown ID. */
export async function existingResource(resources: ResourceRepository, level: ResourceLevel, id: string): Promise<ResourceRow> {
  assertId(id);
  const row = await resources.findResource(level, id);
  if (!row) throw OrthancError.unknownResource();
  return row;
}
