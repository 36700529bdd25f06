import { PARENT_LEVEL, RESOURCE_LEVELS, type ResourceLevel } from '@deidflow/common';
import type { PreparedStatement } from '../prisma.service';
import { instanceJoin, LEVEL_TABLE, levelColumn, LISTED_IDS, statementPerLevel } from './instance-scope';

// Deletions as one statement after the locks it needs: no list of instances brought through Node
// (a patient of 300,000 instances is one statement).

/** The column of a level's table naming its parent. */
const PARENT_COLUMN: Record<ResourceLevel, string | null> = { Patient: null, Study: 'patient_id', Series: 'study_id', Instance: 'series_id' };
/** Bottom-up: a level's deletion takes the levels above it that it empties. */
const LEVELS: ResourceLevel[] = [...RESOURCE_LEVELS].reverse();

/** What a deletion statement returns: one row per resource deleted at the level asked or above. */
export interface DeletedRow {
  level: ResourceLevel;
  id: string;
  parent: string | null;
}

const gone = (level: ResourceLevel) => `gone_${level.toLowerCase()}`;
const parentOf = (level: ResourceLevel, alias: string) => (PARENT_COLUMN[level] ? `${alias}.${PARENT_COLUMN[level]}` : 'NULL::bpchar');

/**
 * CTEs deleting the rows of `level` that `target` selects, then every ancestor they leave empty.
 * The CTEs of one statement share its snapshot, where the rows deleted are still visible: a parent
 * is emptied when the rows deleted below it are as many as the children it has. Descendants go by
 * the foreign keys' cascades, after the statement.
 */
function upwardDeletion(level: ResourceLevel, target: string): string[] {
  const ctes = [`${gone(level)} AS (DELETE FROM ${LEVEL_TABLE[level]} r WHERE r.id ${target} RETURNING r.id, ${parentOf(level, 'r')} AS parent)`];
  for (let child = level, parent = PARENT_LEVEL[level]; parent; child = parent, parent = PARENT_LEVEL[parent]) {
    ctes.push(`${gone(parent)} AS (
      DELETE FROM ${LEVEL_TABLE[parent]} p USING (SELECT parent, count(*) AS n FROM ${gone(child)} GROUP BY parent) g
      WHERE p.id = g.parent AND g.n = (SELECT count(*) FROM ${LEVEL_TABLE[child]} c WHERE c.${PARENT_COLUMN[child]} = p.id)
      RETURNING p.id, ${parentOf(parent, 'p')} AS parent)`);
  }
  return ctes;
}

/** IDs of the series and studies below the resources of `level` that `target` selects (their instances apart). */
function containersBelow(level: ResourceLevel, target: string): string[] {
  switch (level) {
    case 'Patient':
      return [
        `SELECT st.id FROM studies st WHERE st.patient_id ${target}`,
        `SELECT s.id FROM series s JOIN studies st ON st.id = s.study_id WHERE st.patient_id ${target}`,
      ];
    case 'Study':
      return [`SELECT s.id FROM series s WHERE s.study_id ${target}`];
    default:
      return [];
  }
}

/**
 * Deletes the resources of one level (`$1`: their IDs), everything below them and every ancestor
 * they leave empty, with the metadata, labels and logged changes of all of these, and queues the files of their instances for
 * deletion under the deletion's ID (`$2`). An ID that is not there is skipped.
 */
function deletionStatement(level: ResourceLevel): PreparedStatement {
  const target = `= ANY(${LISTED_IDS})`;
  const levelsDeleted = LEVELS.slice(LEVELS.indexOf(level));
  const instances = `SELECT i.id, i.object_key FROM instances i ${instanceJoin(level).sql} WHERE ${levelColumn(level).sql} ${target}`;
  // Every resource deleted: their metadata and labels go, and their changes (as Orthanc's cascade purges them).
  const deleted = [
    'SELECT id FROM below',
    ...containersBelow(level, target),
    ...levelsDeleted.map((l) => `SELECT id FROM ${gone(l)}`),
  ].join(' UNION ALL ');
  return {
    name: `deidflow_delete_${LEVEL_TABLE[level]}`,
    long: true,
    text: `WITH below AS MATERIALIZED (${instances}),
      ${upwardDeletion(level, target).join(',\n')},
      queued AS (
        INSERT INTO object_deletions (object_key, instance_id, deletion_id) SELECT object_key, id, $2::uuid FROM below
        ON CONFLICT (object_key) DO UPDATE SET instance_id = EXCLUDED.instance_id, deletion_id = EXCLUDED.deletion_id, queued_at = EXCLUDED.queued_at),
      metadata AS (DELETE FROM resource_metadata WHERE resource_id IN (${deleted})),
      labels AS (DELETE FROM resource_labels WHERE resource_id IN (${deleted})),
      changes AS (DELETE FROM changes WHERE resource_id IN (${deleted})),
      pending_changes AS (DELETE FROM pending_changes WHERE resource_id IN (${deleted}))
      ${levelsDeleted.map((l) => `SELECT '${l}' AS level, id, parent FROM ${gone(l)}`).join(' UNION ALL ')}`,
  };
}

export const DELETE_RESOURCES = statementPerLevel(deletionStatement);

/**
 * For resources of `level` ($1: their IDs), the patients, studies and series they are in or hold,
 * each as a condition on that table's `id`.
 */
const RELATED: Record<ResourceLevel, Record<'patients' | 'studies' | 'series', string>> = {
  Patient: {
    patients: `id = ANY(${LISTED_IDS})`,
    studies: `patient_id = ANY(${LISTED_IDS})`,
    series: `study_id IN (SELECT id FROM studies WHERE patient_id = ANY(${LISTED_IDS}))`,
  },
  Study: {
    patients: `id IN (SELECT patient_id FROM studies WHERE id = ANY(${LISTED_IDS}))`,
    studies: `id = ANY(${LISTED_IDS})`,
    series: `study_id = ANY(${LISTED_IDS})`,
  },
  Series: {
    patients: `id IN (SELECT st.patient_id FROM series s JOIN studies st ON st.id = s.study_id WHERE s.id = ANY(${LISTED_IDS}))`,
    studies: `id IN (SELECT study_id FROM series WHERE id = ANY(${LISTED_IDS}))`,
    series: `id = ANY(${LISTED_IDS})`,
  },
  Instance: {
    patients: `id IN (SELECT st.patient_id FROM instances i JOIN series s ON s.id = i.series_id JOIN studies st ON st.id = s.study_id
                      WHERE i.id = ANY(${LISTED_IDS}))`,
    studies: `id IN (SELECT s.study_id FROM instances i JOIN series s ON s.id = i.series_id WHERE i.id = ANY(${LISTED_IDS}))`,
    series: `id IN (SELECT series_id FROM instances WHERE id = ANY(${LISTED_IDS}))`,
  },
};

/**
 * Run before DELETE_RESOURCES in its transaction: the patients, studies and series a deletion
 * touches, locked top-down (the order in which an upload's foreign key checks take them). An upload
 * into one of them that is under way is waited for, so that the deletion's statement, which takes
 * its snapshot after, counts its instance (a parent it was about to empty stays) and queues its
 * file; a later upload waits for the deletion, then recreates what it needs (retryOnRace).
 */
export const LOCK_RELATED = Object.fromEntries(
  LEVELS.map((level) => [
    level,
    (['patients', 'studies', 'series'] as const).map((table) => ({
      name: `deidflow_lock_${table}_of_${LEVEL_TABLE[level]}`,
      text: `SELECT id FROM ${table} WHERE ${RELATED[level][table]} ORDER BY id FOR UPDATE`,
    })),
  ]),
) as Record<ResourceLevel, PreparedStatement[]>;

/** Orthanc's RemainingAncestor of a single deletion: the parent of the topmost resource deleted, unless gone too. */
export function remainingAncestor(rows: readonly DeletedRow[]): { id: string; level: ResourceLevel } | null {
  const topmost = [...rows].sort((a, b) => LEVELS.indexOf(b.level) - LEVELS.indexOf(a.level))[0];
  const level = topmost && PARENT_LEVEL[topmost.level];
  return topmost?.parent && level ? { id: topmost.parent, level } : null;
}
