import { Injectable } from '@nestjs/common';
import { ChangeType, RESOURCE_TYPE, type ResourceLevel } from '@deidflow/common';
import { PrismaService } from '../prisma.service';
import { heldResource, LEVEL_TABLE, statementPerLevel } from './instance-scope';

/**
 * Orthanc-style metadata of any resource: the lineage a job records (AnonymizedFrom, ModifiedFrom,
 * under their names) and user-defined metadata (under their numbers, see MetadataNames).
 */
@Injectable()
export class MetadataRepository {
  constructor(private readonly prisma: PrismaService) {}

  async get(resourceId: string): Promise<Record<string, string>> {
    const rows = await this.prisma.resourceMetadata.findMany({ where: { resourceId }, orderBy: { name: 'asc' } });
    return Object.fromEntries(rows.map((r) => [r.name, r.value]));
  }

  /** get() of many resources in one query: resource ID → its metadata ({} when it has none). */
  async getMany(resourceIds: readonly string[]): Promise<Map<string, Record<string, string>>> {
    const rows = await this.prisma.resourceMetadata.findMany({ where: { resourceId: { in: [...resourceIds] } }, orderBy: { name: 'asc' } });
    const metadata = new Map<string, Record<string, string>>(resourceIds.map((id) => [id, {}]));
    for (const r of rows) {
      const own = metadata.get(r.resourceId);
      if (own) own[r.name] = r.value;
    }
    return metadata;
  }

  /**
   * Sets a user-defined metadata of a resource of `level`, logging UpdatedMetadata, in one statement.
   * The resource's row is held (and an instance's series row, which a deletion locks first) until
   * it commits, so that a deletion under way either comes first (nothing is set: false) or counts
   * the new row and deletes it with the resource. Resolves to whether the resource exists.
   */
  async setUserMetadata(level: ResourceLevel, resourceId: string, type: number, value: string): Promise<boolean> {
    const [row] = await this.prisma.prepared<{ n: number }>(SET_USER_METADATA[level], [resourceId, String(type), value]);
    return row.n > 0;
  }

  /**
   * What Orthanc records of an instance received over DICOM (Origin, RemoteAET, CalledAET,
   * RemoteIP), under their names; held as setUserMetadata holds its resource. The first reception's
   * values stay (an instance received again is not stored again).
   */
  async setReceptionMetadata(instanceId: string, values: Readonly<Record<string, string>>): Promise<void> {
    const entries = Object.entries(values);
    await this.prisma.prepared(SET_RECEPTION_METADATA, [instanceId, entries.map(([name]) => name), entries.map(([, value]) => value)]);
  }

  /** Deletes a user-defined metadata, logging UpdatedMetadata (the resource held as by setUserMetadata); resolves to whether there was one. */
  async deleteUserMetadata(level: ResourceLevel, resourceId: string, type: number): Promise<boolean> {
    const [row] = await this.prisma.prepared<{ n: number }>(DELETE_USER_METADATA[level], [resourceId, String(type)]);
    return row.n > 0;
  }
}

const logUpdated = (level: ResourceLevel, from: string) =>
  `INSERT INTO pending_changes (change_type, resource_type, resource_id) SELECT ${ChangeType.UpdatedMetadata}, ${RESOURCE_TYPE[level]}, resource_id FROM ${from}`;

const SET_USER_METADATA = statementPerLevel((level) => ({
  name: `deidflow_set_user_metadata_${LEVEL_TABLE[level]}`,
  text: `WITH target AS (${heldResource(level)}),
    upserted AS (
      INSERT INTO resource_metadata (resource_id, name, value) SELECT id, $2, $3 FROM target
      ON CONFLICT (resource_id, name) DO UPDATE SET value = EXCLUDED.value
      RETURNING resource_id
    ), logged AS (${logUpdated(level, 'upserted')})
    SELECT count(*)::int AS n FROM upserted`,
}));

const SET_RECEPTION_METADATA = {
  name: 'deidflow_set_reception_metadata',
  text: `WITH target AS (${heldResource('Instance')})
    INSERT INTO resource_metadata (resource_id, name, value)
    SELECT target.id, m.name, m.value FROM target, unnest($2::text[], $3::text[]) AS m(name, value)
    ON CONFLICT (resource_id, name) DO NOTHING`,
};

const DELETE_USER_METADATA = statementPerLevel((level) => ({
  name: `deidflow_delete_user_metadata_${LEVEL_TABLE[level]}`,
  text: `WITH target AS (${heldResource(level)}),
    deleted AS (
      DELETE FROM resource_metadata WHERE resource_id = $1 AND name = $2 AND resource_id IN (SELECT id FROM target)
      RETURNING resource_id
    ), logged AS (${logUpdated(level, 'deleted')})
    SELECT count(*)::int AS n FROM deleted`,
}));
