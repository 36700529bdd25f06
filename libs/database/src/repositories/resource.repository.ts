import { Injectable } from '@nestjs/common';
import { RESOURCE_LEVELS, type ResourceLevel } from '@deidflow/common';
import type { FindRequest, ParsedInstance } from '@deidflow/dicom';
import { PreparedStatement, PrismaService } from '../prisma.service';
import { Prisma, type Patient, type Series, type Study } from '../generated/client';
import { FIND_PAGE, FindCursor, findIdsSql, FindPage } from './find-sql';
import { SinceLimitPage, sinceLimitPages } from './keyset-pages';
import { hierarchyInsertCtes, hierarchyInsertValues, IndexedInstance, StoredObject } from './hierarchy-sql';
import { instanceJoin, LEVEL_ARRIVAL, LEVEL_TABLE, levelColumn, LISTED_IDS } from './instance-scope';
import { INSTANCE_COLUMNS, InstanceRecord, instanceRow } from './instance-row-sql';
import { LOCK_CHANGE_SEQUENCER_SHARED } from './change.repository';
import { DELETE_RESOURCES, DeletedRow, LOCK_RELATED, remainingAncestor } from './deletion-sql';
import { retryOnRace } from '../errors';

export type { IndexedInstance, StoredObject };

export type StoreStatus = 'Success' | 'AlreadyStored';

/** A resource of any level as the browse answers need it. */
export interface ResourceRow {
  id: string;
  level: ResourceLevel;
  parentId: string | null;
  mainDicomTags: Record<string, string>;
  lastUpdate: Date;
  /** Nothing arrived in it for STABLE_AGE_SECONDS (its Stable* change logged); instances: always. */
  isStable: boolean;
  /** Of a study: its patient's main tags as its first instance had them (absent for studies indexed before they were kept). */
  patientMainDicomTags?: Record<string, string>;
}

export interface InstanceRow {
  id: string;
  seriesId: string;
  sopInstanceUid: string;
  sopClassUid: string;
  transferSyntaxUid: string;
  mainDicomTags: Record<string, string>;
  indexInSeries: number | null;
  objectKey: string;
  fileSize: bigint;
  sha256: string | null;
  receivedAt: Date;
}

export interface DeletedResources {
  /** The resources deleted at the level asked, and the parents they left empty (not their descendants). */
  deletedIds: string[];
  /** The closest ancestor that still exists, as Orthanc's RemainingAncestor (of a single deletion). */
  remainingAncestor: { id: string; level: ResourceLevel } | null;
}

type ListedRow = { id: string; at: Date };
type ListingStatements = { first: PreparedStatement; after: PreparedStatement };

/** The listing of each level (GET /patients...): first page by offset, the next ones by keyset on (time, id). */
const LISTING = Object.fromEntries(
  RESOURCE_LEVELS.map((level) => {
    const [table, time] = [LEVEL_TABLE[level], LEVEL_ARRIVAL[level]];
    return [
      level,
      {
        first: { name: `deidflow_list_${table}`, text: `SELECT id, ${time} AS at FROM ${table} ORDER BY ${time}, id OFFSET $1 LIMIT $2` },
        after: { name: `deidflow_list_${table}_after`, text: `SELECT id, ${time} AS at FROM ${table} WHERE (${time}, id) > ($1, $2) ORDER BY ${time}, id LIMIT $3` },
      },
    ];
  }),
) as Record<ResourceLevel, ListingStatements>;

/** The patient/study/series/instance index. The only place that knows its tables. */
@Injectable()
export class ResourceRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Records one instance and the missing parts of its hierarchy, atomically. Idempotent:
   * inserts that meet an existing row do nothing, so concurrent uploads of the same patient,
   * study or series, or a retried job writing the same output, converge on the same rows.
   */
  async storeInstance(parsed: ParsedInstance, object: StoredObject): Promise<StoreStatus> {
    const [row] = await this.prisma.prepared<{ created: number }>(STORE_INSTANCE, hierarchyInsertValues([{ parsed, object }]));
    return row.created > 0 ? 'Success' : 'AlreadyStored';
  }

  async instanceExists(id: string): Promise<boolean> {
    return (await this.prisma.prepared(INSTANCE_EXISTS, [id])).length > 0;
  }

  async findInstance(id: string): Promise<InstanceRow | null> {
    const [r] = await this.prisma.prepared<InstanceRecord>(FIND_INSTANCE, [id]);
    return r ? instanceRow(r) : null;
  }

  /** The level of an ID whatever the URL said (Orthanc looks the level up the same way). */
  async findLevel(id: string): Promise<ResourceLevel | null> {
    return (await this.findLevels([id])).get(id) ?? null;
  }

  /**
   * findLevel() of many IDs in one query: the levels of those that exist. Prepared, the list sent
   * once: as $queryRaw, Prisma wrote it four times, 20-40 ms for a cohort of 2,000 studies.
   */
  async findLevels(ids: readonly string[]): Promise<Map<string, ResourceLevel>> {
    const rows = await this.prisma.prepared<{ level: ResourceLevel; id: string }>(FIND_LEVELS, [ids]);
    return new Map(rows.map((r) => [r.id, r.level]));
  }

  async findResource(level: ResourceLevel, id: string): Promise<ResourceRow | null> {
    switch (level) {
      case 'Patient': {
        const r = await this.prisma.patient.findUnique({ where: { id } });
        return r && patientResource(r);
      }
      case 'Study': {
        const r = await this.prisma.study.findUnique({ where: { id } });
        return r && studyResource(r);
      }
      case 'Series': {
        const r = await this.prisma.series.findUnique({ where: { id } });
        return r && seriesResource(r);
      }
      case 'Instance': {
        const r = await this.prisma.instance.findUnique({ where: { id } });
        return r && instanceResource({ ...r, mainDicomTags: tags(r.mainDicomTags) });
      }
    }
  }

  /** The rows of many resources of one level (those that exist), in no particular order. */
  async findResources(level: ResourceLevel, ids: readonly string[]): Promise<ResourceRow[]> {
    const where = { id: { in: [...ids] } };
    switch (level) {
      case 'Patient':
        return (await this.prisma.patient.findMany({ where })).map(patientResource);
      case 'Study':
        return (await this.prisma.study.findMany({ where })).map(studyResource);
      case 'Series':
        return (await this.prisma.series.findMany({ where })).map(seriesResource);
      case 'Instance':
        return (await this.findInstances(ids)).map(instanceResource);
    }
  }

  /** The rows of many instances (those that exist), in no particular order. */
  async findInstances(ids: readonly string[]): Promise<InstanceRow[]> {
    const rows = await this.prisma.instance.findMany({ where: { id: { in: [...ids] } } });
    return rows.map((r) => ({ ...r, mainDicomTags: tags(r.mainDicomTags) }));
  }

  /** The IndexInSeries of every instance of these series (null where an instance has none): a series' completeness. */
  async indexesInSeries(seriesIds: readonly string[]): Promise<Map<string, (number | null)[]>> {
    const indexes = new Map<string, (number | null)[]>(seriesIds.map((id) => [id, []]));
    if (seriesIds.length === 0) return indexes;
    const rows = await this.prisma.prepared<{ seriesId: string; index: number | null }>(INDEXES_IN_SERIES, [[...seriesIds]]);
    for (const { seriesId, index } of rows) indexes.get(seriesId)?.push(index);
    return indexes;
  }

  /**
   * The direct children of many resources of one level, in one query: parent ID → its children's
   * IDs, in a stable order (by ID; instances by their index in the series, then ID).
   */
  async childIdsOf(level: ResourceLevel, ids: readonly string[]): Promise<Map<string, string[]>> {
    const children = new Map<string, string[]>(ids.map((id) => [id, []]));
    const parents = [...ids];
    let rows: { id: string; parent: string }[];
    switch (level) {
      case 'Patient':
        rows = (await this.prisma.study.findMany({ where: { patientId: { in: parents } }, select: { id: true, patientId: true }, orderBy: { id: 'asc' } }))
          .map((r) => ({ id: r.id, parent: r.patientId }));
        break;
      case 'Study':
        rows = (await this.prisma.series.findMany({ where: { studyId: { in: parents } }, select: { id: true, studyId: true }, orderBy: { id: 'asc' } }))
          .map((r) => ({ id: r.id, parent: r.studyId }));
        break;
      case 'Series':
        rows = (
          await this.prisma.instance.findMany({
            where: { seriesId: { in: parents } },
            select: { id: true, seriesId: true },
            orderBy: [{ indexInSeries: 'asc' }, { id: 'asc' }],
          })
        ).map((r) => ({ id: r.id, parent: r.seriesId }));
        break;
      case 'Instance':
        rows = [];
    }
    for (const { id, parent } of rows) children.get(parent)?.push(id);
    return children;
  }

  /**
   * The IDs of a level, oldest first (Orthanc's order of arrival), `since` skipped and at most `limit`,
   * in pages of `pageSize`: an archive of millions of instances is listed without holding every ID.
   * The first page skips `since` rows; the next ones continue after the last (time, id) on its index.
   */
  async *idPages(level: ResourceLevel, range: { since?: number; limit?: number }, pageSize: number): AsyncGenerator<string[]> {
    const statements = LISTING[level];
    const read = ({ after, offset, take }: SinceLimitPage<ListedRow>) =>
      after
        ? this.prisma.prepared<ListedRow>(statements.after, [after.at, after.id, take])
        : this.prisma.prepared<ListedRow>(statements.first, [offset, take]);
    for await (const rows of sinceLimitPages(range, pageSize, read)) yield rows.map((row) => row.id);
  }

  /**
   * The IDs a /tools/find selects (main DICOM tags of the level and its ancestors), oldest first, a
   * page at a time as idPages: a find of every instance of a large archive never holds all its IDs.
   */
  async *findPages(request: FindRequest, pageSize = FIND_PAGE): AsyncGenerator<string[]> {
    const read = (page: FindPage) => this.prisma.$queryRaw<FindCursor[]>(findIdsSql(request, page));
    for await (const rows of sinceLimitPages(request, pageSize, read)) yield rows.map((row) => row.id);
  }

  /** Resources whose DICOM identifier is `value` (Orthanc's /tools/lookup), top level first. */
  async lookup(value: string): Promise<{ level: ResourceLevel; id: string }[]> {
    return this.prisma.$queryRaw<{ level: ResourceLevel; id: string }[]>`
      SELECT 'Patient' AS level, id FROM patients WHERE patient_id = ${value}
      UNION ALL SELECT 'Study', id FROM studies WHERE study_instance_uid = ${value}
      UNION ALL SELECT 'Series', id FROM series WHERE series_instance_uid = ${value}
      UNION ALL SELECT 'Instance', id FROM instances WHERE sop_instance_uid = ${value}`;
  }

  /** Instances below a resource of any level, in batches, never as one giant array. */
  async *iterateInstances(level: ResourceLevel, id: string, batchSize = 1000): AsyncGenerator<InstanceRow[]> {
    const where: Prisma.InstanceWhereInput =
      level === 'Instance'
        ? { id }
        : level === 'Series'
          ? { seriesId: id }
          : level === 'Study'
            ? { series: { studyId: id } }
            : { series: { study: { patientId: id } } };
    let cursor: string | undefined;
    for (;;) {
      const rows = await this.prisma.instance.findMany({
        where,
        orderBy: { id: 'asc' },
        take: batchSize,
        ...(cursor ? { skip: 1, cursor: { id: cursor } } : {}),
      });
      if (rows.length === 0) return;
      yield rows.map((r) => ({ ...r, mainDicomTags: tags(r.mainDicomTags) }));
      if (rows.length < batchSize) return;
      cursor = rows[rows.length - 1].id;
    }
  }

  /** The patient, study and series an instance belongs to (one query). */
  async ancestorsOfInstance(instanceId: string): Promise<{ patient: string; study: string; series: string } | null> {
    const r = await this.prisma.instance.findUnique({
      where: { id: instanceId },
      select: { series: { select: { id: true, study: { select: { id: true, patientId: true } } } } },
    });
    return r && { patient: r.series.study.patientId, study: r.series.study.id, series: r.series.id };
  }

  async parentOf(level: ResourceLevel, id: string): Promise<string | null> {
    return (await this.findResource(level, id))?.parentId ?? null;
  }

  /**
   * Deletes resources of one level, everything below them, every ancestor they leave without
   * children (Orthanc's cascade) and the metadata and logged changes of all of these, in one statement that also
   * queues their instances' files under `deletionId` (ObjectDeletionRepository): the caller deletes
   * the files next. IDs not in the index are skipped, so a repeated call is harmless. The patients,
   * studies and series involved are locked first (LOCK_RELATED): an upload into one of them under
   * way is counted (a parent it was about to empty stays), a later one recreates what it needs.
   */
  async deleteResources(level: ResourceLevel, ids: readonly string[], deletionId: string): Promise<DeletedResources> {
    const rows = await retryOnRace(() =>
      this.prisma.preparedTransaction(async (run) => {
        for (const lock of LOCK_RELATED[level]) await run(lock, [ids]);
        // No change of theirs is being numbered meanwhile (it would escape the purge, committing after its snapshot).
        await run(LOCK_CHANGE_SEQUENCER_SHARED, []);
        return run<DeletedRow>(DELETE_RESOURCES[level], [ids, deletionId]);
      }),
    );
    return { deletedIds: rows.map((r) => r.id), remainingAncestor: remainingAncestor(rows) };
  }

  /** Counts and size below one resource (GET /{level}/{id}/statistics), from its instances. */
  async resourceStatistics(level: ResourceLevel, id: string): Promise<{ studies: number; series: number; instances: number; totalSize: bigint }> {
    const studies = level === 'Patient' ? Prisma.sql`count(DISTINCT s.study_id)` : Prisma.sql`0`;
    const series = level === 'Patient' || level === 'Study' ? Prisma.sql`count(DISTINCT i.series_id)` : Prisma.sql`0`;
    const [row] = await this.prisma.$queryRaw<{ studies: bigint; series: bigint; instances: bigint; total: bigint | null }[]>`
      SELECT ${studies} AS studies, ${series} AS series, count(*) AS instances, sum(i.file_size)::bigint AS total
      FROM instances i ${instanceJoin(level)} WHERE ${levelColumn(level)} = ${id}`;
    return { studies: Number(row.studies), series: Number(row.series), instances: Number(row.instances), totalSize: row.total ?? 0n };
  }

  /**
   * The counts of the whole index, from the deltas the index's triggers record (migration
   * index_counters): a few hundred rows summed, whatever the size of the index.
   */
  async statistics(): Promise<{ patients: number; studies: number; series: number; instances: number; totalSize: bigint }> {
    const [row] = await this.prisma.$queryRaw<
      { patients: bigint | null; studies: bigint | null; series: bigint | null; instances: bigint | null; total: bigint | null }[]
    >`SELECT sum(patients)::bigint AS patients, sum(studies)::bigint AS studies, sum(series)::bigint AS series,
             sum(instances)::bigint AS instances, sum(total_size)::bigint AS total FROM index_counters`;
    return {
      patients: Number(row.patients ?? 0),
      studies: Number(row.studies ?? 0),
      series: Number(row.series ?? 0),
      instances: Number(row.instances ?? 0),
      totalSize: row.total ?? 0n,
    };
  }
}

function tags(value: unknown): Record<string, string> {
  return (value ?? {}) as Record<string, string>;
}

/** An instance as a resource: its series is its parent, its reception its last update. */
const INDEXES_IN_SERIES: PreparedStatement = {
  name: 'deidflow_indexes_in_series',
  text: `SELECT series_id AS "seriesId", index_in_series AS index FROM instances WHERE series_id = ANY($1::bpchar[])`,
};

function patientResource(r: Patient): ResourceRow {
  return { id: r.id, level: 'Patient', parentId: null, mainDicomTags: tags(r.mainDicomTags), lastUpdate: r.lastUpdate, isStable: r.isStable };
}

function seriesResource(r: Series): ResourceRow {
  return { id: r.id, level: 'Series', parentId: r.studyId, mainDicomTags: tags(r.mainDicomTags), lastUpdate: r.lastUpdate, isStable: r.isStable };
}

function studyResource(r: Study): ResourceRow {
  return {
    id: r.id,
    level: 'Study',
    parentId: r.patientId,
    mainDicomTags: tags(r.mainDicomTags),
    lastUpdate: r.lastUpdate,
    isStable: r.isStable,
    ...(r.patientMainDicomTags !== null ? { patientMainDicomTags: tags(r.patientMainDicomTags) } : {}),
  };
}

export function instanceResource(r: InstanceRow): ResourceRow {
  return { id: r.id, level: 'Instance', parentId: r.seriesId, mainDicomTags: r.mainDicomTags, lastUpdate: r.receivedAt, isStable: true };
}

const FIND_INSTANCE: PreparedStatement = {
  name: 'deidflow_find_instance',
  text: `SELECT ${INSTANCE_COLUMNS} FROM instances i WHERE i.id = $1`,
};

const FIND_LEVELS: PreparedStatement = {
  name: 'deidflow_find_levels',
  text: `SELECT 'Patient' AS level, id FROM patients WHERE id = ANY(${LISTED_IDS})
         UNION ALL SELECT 'Study', id FROM studies WHERE id = ANY(${LISTED_IDS})
         UNION ALL SELECT 'Series', id FROM series WHERE id = ANY(${LISTED_IDS})
         UNION ALL SELECT 'Instance', id FROM instances WHERE id = ANY(${LISTED_IDS})`,
};

const INSTANCE_EXISTS: PreparedStatement = {
  name: 'deidflow_instance_exists',
  text: 'SELECT 1 FROM instances WHERE id = $1',
};

/** One statement, one round trip (see hierarchyInsertCtes). */
const STORE_INSTANCE: PreparedStatement = {
  name: 'deidflow_store_instance',
  text: `WITH ${hierarchyInsertCtes(1)} SELECT count(*)::int AS created FROM i`,
};
