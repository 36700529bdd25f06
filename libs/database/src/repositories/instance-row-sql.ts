import type { InstanceRow } from './resource.repository';

// An instance row selected by a prepared statement (PrismaService.prepared), as the repositories
// return it. The instance table is `i`.

export const INSTANCE_COLUMNS = `i.id, i.series_id AS "seriesId", i.sop_instance_uid AS "sopInstanceUid", i.sop_class_uid AS "sopClassUid",
  i.transfer_syntax_uid AS "transferSyntaxUid", i.main_dicom_tags AS "mainDicomTags", i.index_in_series AS "indexInSeries",
  i.object_key AS "objectKey", i.file_size AS "fileSize", i.sha256, i.received_at AS "receivedAt"`;

/** As node-postgres returns it: bigint as a string. */
export type InstanceRecord = Omit<InstanceRow, 'fileSize'> & { fileSize: string };

export function instanceRow(r: InstanceRecord): InstanceRow {
  return {
    id: r.id,
    seriesId: r.seriesId,
    sopInstanceUid: r.sopInstanceUid,
    sopClassUid: r.sopClassUid,
    transferSyntaxUid: r.transferSyntaxUid,
    mainDicomTags: (r.mainDicomTags ?? {}) as Record<string, string>,
    indexInSeries: r.indexInSeries,
    objectKey: r.objectKey,
    fileSize: BigInt(r.fileSize),
    sha256: r.sha256,
    receivedAt: r.receivedAt,
  };
}
