import type { ResourceLevel } from '@deidflow/common';
import type { FindConstraint, FindMatcher, FindRequest } from '@deidflow/dicom';
import { Prisma } from '../generated/client';

/** Each level's table, its alias, and how it joins its parent; top-down. */
const LEVEL_TABLES: Record<ResourceLevel, { table: string; alias: string; parentJoin?: string; order: string }> = {
  Patient: { table: 'patients', alias: 'p', order: 'created_at' },
  Study: { table: 'studies', alias: 'st', parentJoin: 'p.id = st.patient_id', order: 'created_at' },
  Series: { table: 'series', alias: 'se', parentJoin: 'st.id = se.study_id', order: 'created_at' },
  Instance: { table: 'instances', alias: 'i', parentJoin: 'se.id = i.series_id', order: 'received_at' },
};
const TOP_DOWN: readonly ResourceLevel[] = ['Patient', 'Study', 'Series', 'Instance'];

/**
 * The IDs a /tools/find selects, oldest first like GET /{level}: the level's table, joined up to
 * the highest level a constraint names, one condition per constraint on the stored main DICOM
 * tags. Identifiers come from the fixed table above; every value is a bound parameter.
 */
export function findIdsSql(request: FindRequest): Prisma.Sql {
  const target = LEVEL_TABLES[request.level];
  const ownLevels = request.constraints.filter((c) => !c.anySeriesOfStudy).map((c) => TOP_DOWN.indexOf(c.level));
  const highest = Math.min(TOP_DOWN.indexOf(request.level), ...ownLevels);
  const joins = TOP_DOWN.slice(highest + 1, TOP_DOWN.indexOf(request.level) + 1).map((level) => {
    const { table, alias, parentJoin } = LEVEL_TABLES[level];
    return Prisma.raw(`JOIN ${table} ${alias} ON ${parentJoin}`);
  });
  const from = LEVEL_TABLES[TOP_DOWN[highest]];
  const conditions = request.constraints.map(condition);
  const where = conditions.length > 0 ? Prisma.sql`WHERE ${Prisma.join(conditions, ' AND ')}` : Prisma.empty;
  const limit = request.limit !== undefined ? Prisma.sql`LIMIT ${request.limit}` : Prisma.empty;
  return Prisma.sql`
    SELECT ${Prisma.raw(`${target.alias}.id`)} AS id
    FROM ${Prisma.raw(`${from.table} ${from.alias}`)} ${joins.length > 0 ? Prisma.join(joins, ' ') : Prisma.empty}
    ${where}
    ORDER BY ${Prisma.raw(`${target.alias}.${target.order}, ${target.alias}.id`)}
    OFFSET ${request.since ?? 0} ${limit}`;
}

function condition({ level, name, matcher, anySeriesOfStudy }: FindConstraint): Prisma.Sql {
  if (anySeriesOfStudy) {
    // ModalitiesInStudy: some series of the study (the query's level) has a matching Modality.
    const value = Prisma.sql`(ms.main_dicom_tags ->> ${name})`;
    return Prisma.sql`EXISTS (SELECT 1 FROM series ms WHERE ms.study_id = st.id AND ${matches(value, matcher)})`;
  }
  const value = Prisma.sql`(${Prisma.raw(LEVEL_TABLES[level].alias)}.main_dicom_tags ->> ${name})`;
  return matches(value, matcher);
}

function matches(value: Prisma.Sql, matcher: FindMatcher): Prisma.Sql {
  switch (matcher.kind) {
    case 'equal':
      return matcher.caseSensitive ? Prisma.sql`${value} = ${matcher.value}` : Prisma.sql`lower(${value}) = lower(${matcher.value})`;
    case 'wildcard':
      return matcher.caseSensitive
        ? Prisma.sql`${value} LIKE ${matcher.likePattern} ESCAPE '\\'`
        : Prisma.sql`${value} ILIKE ${matcher.likePattern} ESCAPE '\\'`;
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
