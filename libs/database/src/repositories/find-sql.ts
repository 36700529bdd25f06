import { RESOURCE_LEVELS, type ResourceLevel } from '@deidflow/common';
import type { FindConstraint, FindMatcher, FindRequest } from '@deidflow/dicom';
import { Prisma } from '../generated/client';
import { LEVEL_ARRIVAL, LEVEL_TABLE } from './instance-scope';
import type { SinceLimitPage } from './keyset-pages';

/** Each level's table, its alias, and how it joins its parent; top-down. */
const LEVEL_TABLES: Record<ResourceLevel, { table: string; alias: string; parentJoin?: string; order: string }> = {
  Patient: { table: LEVEL_TABLE.Patient, alias: 'p', order: LEVEL_ARRIVAL.Patient },
  Study: { table: LEVEL_TABLE.Study, alias: 'st', parentJoin: 'p.id = st.patient_id', order: LEVEL_ARRIVAL.Study },
  Series: { table: LEVEL_TABLE.Series, alias: 'se', parentJoin: 'st.id = se.study_id', order: LEVEL_ARRIVAL.Series },
  Instance: { table: LEVEL_TABLE.Instance, alias: 'i', parentJoin: 'se.id = i.series_id', order: LEVEL_ARRIVAL.Instance },
};
const TOP_DOWN = RESOURCE_LEVELS;

/**
 * IDs per page of a find: one page answers any usual find, a whole archive goes in many (1.6M
 * instances: 32). Large, because a find whose plan sorts its matches (no index in the answer's
 * order) sorts them again for every page: 100,000 studies matching a wildcard cost two sorts.
 */
export const FIND_PAGE = 50_000;

/** Where a page of a find starts (see sinceLimitPages). */
export type FindPage = SinceLimitPage<FindCursor>;

/** The last row of a page: the level's order column and the ID. */
export interface FindCursor {
  order: Date;
  id: string;
}

/**
 * A page of the IDs a /tools/find selects, oldest first like GET /{level} (rows: `id`, `order`):
 * the level's table, joined up to the highest level a constraint names, one condition per
 * constraint on the stored main DICOM tags. Identifiers come from the fixed table above; every
 * value is a bound parameter.
 */
export function findIdsSql(request: FindRequest, page: FindPage): Prisma.Sql {
  const target = LEVEL_TABLES[request.level];
  const ownLevels = request.constraints.filter((c) => !c.anySeriesOfStudy).map((c) => TOP_DOWN.indexOf(c.level));
  const highest = Math.min(TOP_DOWN.indexOf(request.level), ...ownLevels);
  const joins = TOP_DOWN.slice(highest + 1, TOP_DOWN.indexOf(request.level) + 1).map((level) => {
    const { table, alias, parentJoin } = LEVEL_TABLES[level];
    return Prisma.raw(`JOIN ${table} ${alias} ON ${parentJoin}`);
  });
  const from = LEVEL_TABLES[TOP_DOWN[highest]];
  const order = Prisma.raw(`${target.alias}.${target.order}`);
  const id = Prisma.raw(`${target.alias}.id`);
  const conditions = request.constraints.map(condition);
  if (request.labels) conditions.push(labelCondition(id, request.labels.names, request.labels.constraint));
  // The row-value comparison follows the (order, id) index of the level's table.
  if (page.after) conditions.push(Prisma.sql`(${order}, ${id}) > (${page.after.order}::timestamptz, ${page.after.id}::bpchar)`);
  const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
  return Prisma.sql`
    SELECT ${id} AS id, ${order} AS "order"
    FROM ${Prisma.raw(`${from.table} ${from.alias}`)} ${joins.length > 0 ? Prisma.join(joins, ' ') : Prisma.empty}
    ${where}
    ORDER BY ${order}, ${id}
    OFFSET ${page.offset} LIMIT ${page.take}`;
}

/**
 * Orthanc's LabelsConstraint on the resources `id` names: written as `IN` a set of IDs for All and
 * Any, which the planner may take from the label index (a rare label among millions), and as
 * `NOT EXISTS` per resource for None.
 */
function labelCondition(id: Prisma.Sql, names: string[], constraint: 'All' | 'Any' | 'None'): Prisma.Sql {
  const labelled = Prisma.sql`SELECT resource_id FROM resource_labels WHERE label = ANY(${names}::text[])`;
  switch (constraint) {
    case 'All':
      return Prisma.sql`${id} IN (${labelled} GROUP BY resource_id HAVING count(*) = ${names.length})`;
    case 'Any':
      return Prisma.sql`${id} IN (${labelled})`;
    case 'None':
      return Prisma.sql`NOT EXISTS (SELECT 1 FROM resource_labels l WHERE l.resource_id = ${id} AND l.label = ANY(${names}::text[]))`;
  }
}

/**
 * The identifier of each level has its own indexed column (the same text as the main tag, both
 * read from the file by parseInstance; a missing PatientID is '' in the column and absent from
 * the tags). A case-sensitive exact match also names the column, so that its index finds the rows.
 */
const IDENTIFIER_COLUMNS: Record<ResourceLevel, { tag: string; column: string }> = {
  Patient: { tag: 'PatientID', column: 'patient_id' },
  Study: { tag: 'StudyInstanceUID', column: 'study_instance_uid' },
  Series: { tag: 'SeriesInstanceUID', column: 'series_instance_uid' },
  Instance: { tag: 'SOPInstanceUID', column: 'sop_instance_uid' },
};

/**
 * Levels whose main tags have a GIN index (jsonb_path_ops): a case-sensitive exact match of any
 * of their tags is also written as containment (`@>`), which that index serves. Instances have
 * none: they are searched through their identifier or their parents, and one more index on the
 * largest table would slow every upload and job.
 */
const CONTAINMENT_INDEXED: ReadonlySet<ResourceLevel> = new Set(['Patient', 'Study', 'Series']);

function condition({ level, name, matcher, anySeriesOfStudy }: FindConstraint): Prisma.Sql {
  if (anySeriesOfStudy) {
    // ModalitiesInStudy: some series of the study (the query's level) has a matching Modality.
    const value = Prisma.sql`(ms.main_dicom_tags ->> ${name})`;
    return Prisma.sql`EXISTS (SELECT 1 FROM series ms WHERE ms.study_id = st.id AND ${matches(value, matcher)})`;
  }
  const alias = LEVEL_TABLES[level].alias;
  const value = Prisma.sql`(${Prisma.raw(alias)}.main_dicom_tags ->> ${name})`;
  const exact = matches(value, matcher);
  const identifier = IDENTIFIER_COLUMNS[level];
  if (identifier.tag === name && (matcher.kind === 'equal' || matcher.kind === 'list') && matcher.caseSensitive) {
    const column = Prisma.raw(`${alias}.${identifier.column}`);
    const indexed = matcher.kind === 'equal' ? Prisma.sql`${column} = ${matcher.value}` : Prisma.sql`${column} = ANY(${matcher.values}::text[])`;
    return Prisma.sql`${indexed} AND ${exact}`;
  }
  if (CONTAINMENT_INDEXED.has(level) && matcher.kind === 'equal' && matcher.caseSensitive) {
    const contained = JSON.stringify({ [name]: matcher.value });
    return Prisma.sql`${Prisma.raw(alias)}.main_dicom_tags @> ${contained}::jsonb AND ${exact}`;
  }
  return exact;
}

/**
 * The matcher as SQL. Case-insensitive matching compares lower() of both sides (what ILIKE does),
 * so that an index on lower(tag) serves exact names and prefixes (patients' PatientName).
 */
function matches(value: Prisma.Sql, matcher: FindMatcher): Prisma.Sql {
  switch (matcher.kind) {
    case 'equal':
      return matcher.caseSensitive ? Prisma.sql`${value} = ${matcher.value}` : Prisma.sql`lower(${value}) = lower(${matcher.value})`;
    case 'wildcard':
      return matcher.caseSensitive
        ? Prisma.sql`${value} LIKE ${matcher.likePattern} ESCAPE '\\'`
        : Prisma.sql`lower(${value}) LIKE lower(${matcher.likePattern}) ESCAPE '\\'`;
    case 'list': {
      const values = matcher.caseSensitive ? matcher.values : matcher.values.map((v) => v.toLowerCase());
      return matcher.caseSensitive ? Prisma.sql`${value} = ANY(${values}::text[])` : Prisma.sql`lower(${value}) = ANY(${values}::text[])`;
    }
    case 'range': {
      // A range only selects resources that have the tag (DICOM range matching).
      const bounds = [Prisma.sql`${value} <> ''`];
      if (matcher.from !== undefined) bounds.push(Prisma.sql`${value} >= ${matcher.from}`);
      if (matcher.to !== undefined) bounds.push(Prisma.sql`${value} <= ${matcher.to}`);
      return Prisma.join(bounds, ' AND ');
    }
  }
}
