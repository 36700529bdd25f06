import { orthancTimestamp, ResourceLevel } from '@deidflow/common';
import type { InstanceRow, ResourceRow } from '@deidflow/database';
import type { SeriesStatus } from '@deidflow/dicom';
import { fileUuidOf } from '@deidflow/storage';

/** Metadata Orthanc also shows as top-level fields of GET /{level}/{id}. */
const TOP_LEVEL_METADATA = ['AnonymizedFrom', 'ModifiedFrom'];

export interface FormatContext {
  children: string[];
  metadata: Record<string, string>;
  /** Its labels, sorted (Orthanc >= 1.12.0 shows them at every level). */
  labels: string[];
  /** Study answers carry the patient's main tags (PatientMainDicomTags). */
  patientMainDicomTags?: Record<string, string>;
  instance?: InstanceRow;
  /** Series answers: the instances announced and the completeness (Orthanc's ExpectedNumberOfInstances, Status). */
  series?: { expected: number | undefined; status: SeriesStatus };
}

/** A resource in the exact shape of Orthanc's GET /{level}/{id} (see orthanc-reference/browse/01..04). */
export function formatResource(resource: ResourceRow, ctx: FormatContext): Record<string, unknown> {
  const lineage = Object.fromEntries(
    TOP_LEVEL_METADATA.filter((name) => ctx.metadata[name] !== undefined).map((name) => [name, ctx.metadata[name]]),
  );
  const common = { ID: resource.id, Labels: ctx.labels, MainDicomTags: sortKeys(resource.mainDicomTags), Type: resource.level, ...lineage };
  // Orthanc's IsStable: nothing arrived for StableAge seconds (the workers' ChangeLogMonitor decides it).
  return sortKeys(formatByLevel(resource, ctx, common, resource.isStable));
}

function formatByLevel(
  resource: ResourceRow,
  ctx: FormatContext,
  common: Record<string, unknown>,
  isStable: boolean,
): Record<string, unknown> {
  switch (resource.level) {
    case 'Patient':
      return { ...common, IsStable: isStable, LastUpdate: orthancTimestamp(resource.lastUpdate), Studies: ctx.children };
    case 'Study':
      return {
        ...common,
        IsStable: isStable,
        LastUpdate: orthancTimestamp(resource.lastUpdate),
        ParentPatient: resource.parentId,
        PatientMainDicomTags: sortKeys(ctx.patientMainDicomTags ?? {}),
        Series: ctx.children,
      };
    case 'Series':
      return {
        ...common,
        ExpectedNumberOfInstances: ctx.series?.expected ?? null,
        Instances: ctx.children,
        IsStable: isStable,
        LastUpdate: orthancTimestamp(resource.lastUpdate),
        ParentStudy: resource.parentId,
        Status: ctx.series?.status ?? 'Unknown',
      };
    case 'Instance': {
      const row = ctx.instance!;
      return {
        ...common,
        FileSize: Number(row.fileSize),
        FileUuid: fileUuidOf(row.objectKey),
        IndexInSeries: row.indexInSeries,
        ParentSeries: resource.parentId,
      };
    }
  }
}

/** Orthanc answers with keys in alphabetical order; so do we, for answers that diff cleanly. */
export function sortKeys<T>(object: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(object).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
