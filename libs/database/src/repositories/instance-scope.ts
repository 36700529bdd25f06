import { RESOURCE_LEVELS, type ResourceLevel } from '@deidflow/common';
import type { PreparedStatement } from '../prisma.service';
import { Prisma } from '../generated/client';

/** Each level's table in the index. */
export const LEVEL_TABLE: Record<ResourceLevel, string> = { Patient: 'patients', Study: 'studies', Series: 'series', Instance: 'instances' };

/** One prepared statement per level, built by `build`. */
export function statementPerLevel(build: (level: ResourceLevel) => PreparedStatement): Record<ResourceLevel, PreparedStatement> {
  return Object.fromEntries(RESOURCE_LEVELS.map((level) => [level, build(level)])) as Record<ResourceLevel, PreparedStatement>;
}

/**
 * SQL selecting the resource `$1` of `level` with its row held (FOR KEY SHARE, and an instance's
 * series row too) until the statement's transaction ends. A deletion locks the rows of what it
 * deletes before its statement (deletion-sql.ts, LOCK_RELATED): it either comes first (nothing
 * selected here) or waits, then its statement sees and deletes what was attached to the resource.
 */
export function heldResource(level: ResourceLevel): string {
  return level === 'Instance'
    ? `SELECT i.id FROM instances i JOIN series s ON s.id = i.series_id WHERE i.id = $1 FOR KEY SHARE`
    : `SELECT r.id FROM ${LEVEL_TABLE[level]} r WHERE r.id = $1 FOR KEY SHARE`;
}

/** When each level's rows arrived: the order of listings and finds (with the ID after it). */
export const LEVEL_ARRIVAL: Record<ResourceLevel, string> = { Patient: 'created_at', Study: 'created_at', Series: 'created_at', Instance: 'received_at' };

// SQL pieces that select the instances below a resource of any level, for statements that must
// not bring the instance list through Node (deletions, job submission). The instance table is `i`.

export function instanceJoin(level: ResourceLevel): Prisma.Sql {
  switch (level) {
    case 'Instance':
    case 'Series':
      return Prisma.empty;
    case 'Study':
      return Prisma.sql`JOIN series s ON s.id = i.series_id`;
    case 'Patient':
      return Prisma.sql`JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id`;
  }
}

export function levelColumn(level: ResourceLevel): Prisma.Sql {
  switch (level) {
    case 'Instance':
      return Prisma.sql`i.id`;
    case 'Series':
      return Prisma.sql`i.series_id`;
    case 'Study':
      return Prisma.sql`s.study_id`;
    case 'Patient':
      return Prisma.sql`st.patient_id`;
  }
}

/**
 * `$1`, a list of resource IDs, for `= ANY(...)` in a prepared statement. Behind a sub-select: the
 * first five executions of a prepared statement are planned for the values given, and for a long
 * list (a cohort's 2,000 studies) Postgres chose sequential scans testing each row against it
 * (findLevels: 105-350 ms, where probing the primary keys takes 25-35; a bulk deletion of 2,000
 * studies: 2.3 s, where 1.3-1.6). The planner cannot see into the sub-select: it probes the indexes
 * whatever the list.
 * bpchar[]: the ID columns are char(44), and a text[] would cast the column and lose its index.
 */
export const LISTED_IDS = '(SELECT $1::bpchar[])::bpchar[]';
