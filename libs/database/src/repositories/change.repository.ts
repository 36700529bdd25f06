import { Injectable } from '@nestjs/common';
import { ChangeType, RESOURCE_TYPE } from '@deidflow/common';
import { PreparedRunner, PreparedStatement, PrismaService } from '../prisma.service';

/** A logged change, as Orthanc numbers its fields (ChangeType, RESOURCE_TYPE). */
export interface ChangeRow {
  seq: number;
  changeType: ChangeType;
  resourceType: number;
  resourceId: string;
  date: Date;
}

/** A page of the log (ChangeRepository.page). */
export interface ChangeQuery {
  since: number;
  to?: number;
  limit: number;
  types?: ChangeType[];
}

/** With `to` and no `since`, a page is the last changes up to `to` (Orthanc's ExtendedChanges, read backwards). */
export function readsBackwards<Q extends Pick<ChangeQuery, 'since' | 'to'>>(query: Q): query is Q & { to: number } {
  return query.to !== undefined && query.since === 0;
}

/** Reads of the log within ChangeRepository.read(). */
export interface ChangeReader {
  /**
   * Up to `limit` changes in Seq order: the first ones after `since` (up to `to` when given), or,
   * with `to` and no `since`, the last ones up to `to` (Orthanc's ExtendedChanges, read backwards).
   * `types`: only those (none: every type).
   */
  page(query: ChangeQuery): Promise<ChangeRow[]>;
  /** The newest change, if any. */
  newest(): Promise<ChangeRow | null>;
  /** The highest Seq given (0 before the first), which a clear() does not reset: Orthanc's Last of an empty page. */
  lastSeq(): Promise<number>;
}

/** What one pass of markCompletedAndStable() logged. */
export interface MarkedResources {
  completedSeries: number;
  stable: number;
}

/**
 * Orthanc's change log. Index writes append their changes to pending_changes as they commit
 * (hierarchy-sql.ts), in any order between writers; sequence() numbers the committed ones into
 * `changes`, one sequencer at a time, so that `changes` grows by a prefix in Seq order: a client
 * reading from its last Seq (GET /changes?since=) never misses a change that committed after a
 * later-numbered one, as it could if Seq were taken at insert time.
 */
@Injectable()
export class ChangeRepository {
  constructor(private readonly prisma: PrismaService) {}

  /**
   * Numbers the pending changes committed so far, in the order they were appended, unless another
   * sequencer is at it (then left to it). For the workers' monitor. Resolves to how many.
   */
  async sequence(): Promise<number> {
    let moved = 0;
    for (;;) {
      const batch = await this.prisma.preparedTransaction(async (run) => {
        const [lock] = await run<{ locked: boolean }>(TRY_LOCK_SEQUENCER, []);
        return lock.locked ? (await run<{ moved: number }>(SEQUENCE, [SEQUENCE_BATCH]))[0].moved : 0;
      });
      moved += batch;
      if (batch < SEQUENCE_BATCH) return moved;
    }
  }

  /**
   * Runs `read` on the log after numbering what is pending (a batch), in the same transaction,
   * under the sequencer's lock, waited for `waitMs` at most: the log cannot grow meanwhile, so the
   * highest Seq given (ChangeReader.lastSeq) is one whose changes the reader has all seen. (Outside
   * the lock, another sequencer's numbers not yet committed are in it, and a client going on from
   * it would skip their changes.) Without the lock in time (deletions hold it, shared, while they
   * run), `read` runs without it, `locked` false, and must not trust lastSeq.
   */
  async read<T>(waitMs: number, read: (reader: ChangeReader, locked: boolean) => Promise<T>): Promise<T> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      const result = await this.prisma.preparedTransaction(async (run) => {
        const [lock] = await run<{ locked: boolean }>(TRY_LOCK_SEQUENCER, []);
        if (!lock.locked) return null;
        await run(SEQUENCE, [SEQUENCE_BATCH]);
        return { value: await read(changeReader(run), true) };
      });
      if (result) return result.value;
      if (Date.now() >= deadline) return read(changeReader((statement, values) => this.prisma.prepared(statement, values)), false);
      await new Promise((resolve) => setTimeout(resolve, SEQUENCER_POLL_MS));
    }
  }

  /** Orthanc's DELETE /changes: the log is emptied, pending changes included; Seq goes on from where it was. */
  async clear(): Promise<void> {
    await this.prisma.preparedTransaction(async (run) => {
      await run(LOCK_SEQUENCER, []);
      await run(CLEAR_PENDING, []);
      await run(CLEAR, []);
    });
  }

  /** Deletes up to `limit` of the oldest changes logged before `cutoff`; resolves to how many. */
  async deleteLoggedBefore(cutoff: Date, limit: number): Promise<number> {
    const [row] = await this.prisma.prepared<{ n: number }>(DELETE_OLD, [cutoff, limit]);
    return row.n;
  }

  /**
   * Logs CompletedSeries for the unstable series that hold every instance they announce (Orthanc's
   * GetSeriesStatus: Complete), then StableSeries / StableStudy / StablePatient for the resources
   * in which nothing arrived for `stableAgeSeconds` (in that order, as Orthanc's monitor finds
   * them). Each resource is marked in the statement that logs it: two workers at it log it once.
   */
  async markCompletedAndStable(stableAgeSeconds: number): Promise<MarkedResources> {
    const [completed] = await this.prisma.prepared<{ n: number }>(LOG_COMPLETED_SERIES, []);
    const [stable] = await this.prisma.prepared<{ n: number }>(LOG_STABLE, [stableAgeSeconds]);
    return { completedSeries: completed.n, stable: stable.n };
  }
}

/** Changes numbered per transaction of the sequencer: bounded, whatever backlog it meets. */
const SEQUENCE_BATCH = 10_000;
/** How often a reader waiting for the sequencer's lock asks for it again. */
const SEQUENCER_POLL_MS = 20;

/** "deidch": the advisory lock of the change log's sequencer (see job.repository.ts and migrate.ts for the others). */
const SEQUENCER_LOCK_KEY = 0x646569646368;

interface ChangeRecord {
  seq: string;
  changeType: number;
  resourceType: number;
  resourceId: string;
  date: Date;
}

function changeReader(run: PreparedRunner): ChangeReader {
  return {
    async page(query) {
      const { since, to, limit, types } = query;
      const rows = readsBackwards(query)
        ? await run<ChangeRecord>(types ? LAST_PAGE_OF_TYPES : LAST_PAGE, types ? [query.to, types, limit] : [query.to, limit])
        : await run<ChangeRecord>(types ? PAGE_OF_TYPES : PAGE, types ? [since, to ?? null, types, limit] : [since, to ?? null, limit]);
      return rows.map(changeRow);
    },
    async newest() {
      const [row] = await run<ChangeRecord>(NEWEST, []);
      return row ? changeRow(row) : null;
    },
    async lastSeq() {
      const [row] = await run<{ last: string }>(LAST_SEQ, []);
      return Number(row.last);
    },
  };
}

function changeRow(r: ChangeRecord): ChangeRow {
  return { seq: Number(r.seq), changeType: r.changeType, resourceType: r.resourceType, resourceId: r.resourceId, date: r.date };
}

const CHANGE_COLUMNS = `seq, change_type AS "changeType", resource_type AS "resourceType", resource_id AS "resourceId", date`;

/** The sequencer's lock, held until the transaction ends, by clear(). */
const LOCK_SEQUENCER: PreparedStatement = {
  name: 'deidflow_change_sequencer_lock',
  text: `SELECT true AS locked FROM pg_advisory_xact_lock(${SEQUENCER_LOCK_KEY})`,
};

/**
 * Shared with other deletions, exclusive of the sequencer: a deletion, which purges the changes of
 * what it deletes, never has one of them numbered behind its snapshot, and deletions of unrelated
 * resources do not wait for each other.
 */
export const LOCK_CHANGE_SEQUENCER_SHARED: PreparedStatement = {
  name: 'deidflow_change_sequencer_lock_shared',
  text: `SELECT true AS locked FROM pg_advisory_xact_lock_shared(${SEQUENCER_LOCK_KEY})`,
};

const TRY_LOCK_SEQUENCER: PreparedStatement = {
  name: 'deidflow_change_sequencer_try_lock',
  text: `SELECT pg_try_advisory_xact_lock(${SEQUENCER_LOCK_KEY}) AS locked`,
};

/**
 * The oldest pending changes that committed, numbered in the order they were appended. Run under
 * the sequencer's lock, taken before this statement's snapshot: the previous sequencer committed,
 * so its numbers are all below these.
 */
const SEQUENCE: PreparedStatement = {
  name: 'deidflow_change_sequence',
  text: `WITH moved AS (
      DELETE FROM pending_changes WHERE id IN (SELECT id FROM pending_changes ORDER BY id LIMIT $1)
      RETURNING id, change_type, resource_type, resource_id, date
    ), numbered AS (
      INSERT INTO changes (change_type, resource_type, resource_id, date)
      SELECT change_type, resource_type, resource_id, date FROM moved ORDER BY id
      RETURNING seq
    )
    SELECT count(*)::int AS moved FROM numbered`,
};

/** The largest Seq: "no `to`". */
const MAX_SEQ = '9223372036854775807';

/** `$2`: the last Seq wanted (null: none). */
const PAGE: PreparedStatement = {
  name: 'deidflow_change_page',
  text: `SELECT ${CHANGE_COLUMNS} FROM changes WHERE seq > $1 AND seq <= coalesce($2::bigint, ${MAX_SEQ}) ORDER BY seq LIMIT $3`,
};

const PAGE_OF_TYPES: PreparedStatement = {
  name: 'deidflow_change_page_of_types',
  text: `SELECT ${CHANGE_COLUMNS} FROM changes
    WHERE seq > $1 AND seq <= coalesce($2::bigint, ${MAX_SEQ}) AND change_type = ANY($3::int[]) ORDER BY seq LIMIT $4`,
};

/** The last `$2` changes up to Seq `$1`, in Seq order. */
const LAST_PAGE: PreparedStatement = {
  name: 'deidflow_change_last_page',
  text: `SELECT * FROM (SELECT ${CHANGE_COLUMNS} FROM changes WHERE seq <= $1 ORDER BY seq DESC LIMIT $2) AS last_ones ORDER BY seq`,
};

const LAST_PAGE_OF_TYPES: PreparedStatement = {
  name: 'deidflow_change_last_page_of_types',
  text: `SELECT * FROM (SELECT ${CHANGE_COLUMNS} FROM changes WHERE seq <= $1 AND change_type = ANY($2::int[]) ORDER BY seq DESC LIMIT $3) AS last_ones
    ORDER BY seq`,
};

const NEWEST: PreparedStatement = {
  name: 'deidflow_change_newest',
  text: `SELECT ${CHANGE_COLUMNS} FROM changes ORDER BY seq DESC LIMIT 1`,
};

const LAST_SEQ: PreparedStatement = {
  name: 'deidflow_change_last_seq',
  text: `SELECT CASE WHEN is_called THEN last_value ELSE 0 END AS last FROM changes_seq_seq`,
};

/**
 * Of the oldest `$2` changes (by Seq, through its index), those logged before `$1`: dates follow
 * Seq but for changes a few seconds apart, so a batch that deletes fewer than it read is the last.
 */
const DELETE_OLD: PreparedStatement = {
  name: 'deidflow_change_delete_old',
  text: `WITH gone AS (
      DELETE FROM changes WHERE seq IN (SELECT seq FROM changes ORDER BY seq LIMIT $2) AND date < $1 RETURNING 1
    )
    SELECT count(*)::int AS n FROM gone`,
};

const CLEAR_PENDING: PreparedStatement = { name: 'deidflow_change_clear_pending', text: `DELETE FROM pending_changes` };
const CLEAR: PreparedStatement = { name: 'deidflow_change_clear', text: `DELETE FROM changes` };

/**
 * Complete: as many instances as announced, their IndexInSeries 1..N each once (seriesStatus() of
 * libs/dicom, in SQL). Only unstable series are looked at: a series is unstable from its last new
 * instance until the stable sweep, which runs after this one.
 */
const LOG_COMPLETED_SERIES: PreparedStatement = {
  name: 'deidflow_change_completed_series',
  text: `WITH done AS (
      UPDATE series s SET completion_logged = true
      WHERE NOT s.is_stable AND NOT s.completion_logged AND s.expected_instances IS NOT NULL
        AND (SELECT count(*) = s.expected_instances AND count(DISTINCT i.index_in_series) = s.expected_instances
                    AND coalesce(bool_and(i.index_in_series BETWEEN 1 AND s.expected_instances), false)
             FROM instances i WHERE i.series_id = s.id)
      RETURNING s.id
    ), logged AS (
      INSERT INTO pending_changes (change_type, resource_type, resource_id)
      SELECT ${ChangeType.CompletedSeries}, ${RESOURCE_TYPE.Series}, id FROM done
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM logged`,
};

/**
 * Resources whose last new instance is `$1` seconds old: stable, logged oldest first, series before
 * study before patient. Marked top-down (the UNION ALL pulls the patients' UPDATE first), in the
 * order in which a deletion locks them (deletion-sql.ts, LOCK_RELATED): no deadlock between them.
 */
const LOG_STABLE: PreparedStatement = {
  name: 'deidflow_change_stable',
  text: `WITH se AS (
      UPDATE series SET is_stable = true WHERE NOT is_stable AND last_update < now() - make_interval(secs => $1) RETURNING id, last_update
    ), st AS (
      UPDATE studies SET is_stable = true WHERE NOT is_stable AND last_update < now() - make_interval(secs => $1) RETURNING id, last_update
    ), pa AS (
      UPDATE patients SET is_stable = true WHERE NOT is_stable AND last_update < now() - make_interval(secs => $1) RETURNING id, last_update
    ), logged AS (
      INSERT INTO pending_changes (change_type, resource_type, resource_id)
      SELECT change_type, resource_type, id FROM (
        SELECT ${ChangeType.StablePatient} AS change_type, ${RESOURCE_TYPE.Patient} AS resource_type, id, last_update, 2 AS o FROM pa
        UNION ALL SELECT ${ChangeType.StableStudy}, ${RESOURCE_TYPE.Study}, id, last_update, 1 FROM st
        UNION ALL SELECT ${ChangeType.StableSeries}, ${RESOURCE_TYPE.Series}, id, last_update, 0 FROM se
      ) AS stable ORDER BY last_update, o
      RETURNING 1
    )
    SELECT count(*)::int AS n FROM logged`,
};
