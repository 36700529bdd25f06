import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { get_dmmf } from '@prisma/prisma-schema-wasm';
import { migrate, readMigrations } from '@deidflow/database';

/**
 * prisma/schema.prisma is the source of truth; the migrations are written by hand (Prisma Migrate's
 * engine cannot be installed here). The test database was built from the migrations alone (global
 * setup): every table, column, nullability, type, enum and index must match the schema's DMMF.
 */

interface DmmfField {
  name: string;
  dbName?: string | null;
  kind: 'scalar' | 'enum' | 'object';
  type: string;
  isRequired: boolean;
  isList: boolean;
  nativeType?: [string, string[]] | null;
}
interface DmmfModel {
  name: string;
  dbName: string | null;
  fields: DmmfField[];
  primaryKey: { fields: string[] } | null;
}
interface DmmfIndex {
  model: string;
  type: 'id' | 'normal' | 'unique' | 'fulltext';
  dbName?: string | null;
  fields: { name: string }[];
}

const schema = readFileSync(join(__dirname, '../../prisma/schema.prisma'), 'utf8');
const dmmf = JSON.parse(get_dmmf(JSON.stringify({ prismaSchema: [['schema.prisma', schema]] }))).datamodel as {
  models: DmmfModel[];
  enums: { name: string; dbName: string | null; values: { name: string }[] }[];
  indexes: DmmfIndex[];
};

function expectedSqlType(field: DmmfField): string {
  if (field.kind === 'enum') {
    const e = dmmf.enums.find((x) => x.name === field.type)!;
    return `enum:${e.dbName ?? e.name}`;
  }
  const native = field.nativeType?.[0];
  if (native === 'Char') return 'character';
  if (native === 'Uuid') return 'uuid';
  if (native === 'Timestamptz') return 'timestamp with time zone';
  const byType: Record<string, string> = {
    String: 'text',
    Int: 'integer',
    BigInt: 'bigint',
    Boolean: 'boolean',
    DateTime: 'timestamp without time zone',
    Json: 'jsonb',
  };
  return byType[field.type] ?? `unknown:${field.type}`;
}

/**
 * Expression and partial indexes, which a Prisma schema cannot declare: created by migrations
 * 20261129060000_find_indexes, 20261207130000_job_dispatch_indexes and 20261208000000_change_log.
 */
const SQL_ONLY_INDEXES = ['patients_patient_name_lower_idx', 'studies_study_date_idx', 'jobs_queueable_order_idx', 'jobs_claimed_idx', 'jobs_unready_idx', 'patients_unstable_idx', 'studies_unstable_idx', 'series_unstable_idx'];

describe('schema.prisma and the migrations agree', () => {
  let client: Client;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
  });
  afterAll(() => client.end());

  it('has every column of every model, with the same type and nullability, and no other', async () => {
    const { rows } = await client.query<{ table_name: string; column_name: string; data_type: string; udt_name: string; is_nullable: string }>(
      `SELECT table_name, column_name, data_type, udt_name, is_nullable FROM information_schema.columns
       WHERE table_schema = 'public' AND table_name <> '_prisma_migrations'`,
    );
    const actual = rows
      .map((r) => `${r.table_name}.${r.column_name} ${r.data_type === 'USER-DEFINED' ? `enum:${r.udt_name}` : r.data_type} ${r.is_nullable === 'NO' ? 'NOT NULL' : 'NULL'}`)
      .sort();
    const expected = dmmf.models
      .flatMap((model) =>
        model.fields
          .filter((f) => f.kind !== 'object')
          .map((f) => `${model.dbName ?? model.name}.${f.dbName ?? f.name} ${expectedSqlType(f)} ${f.isRequired ? 'NOT NULL' : 'NULL'}`),
      )
      .sort();
    expect(actual).toEqual(expected);
  });

  it('has the same enums', async () => {
    const { rows } = await client.query<{ typname: string; labels: string[] }>(
      `SELECT t.typname, array_agg(e.enumlabel::text ORDER BY e.enumsortorder)::text[] AS labels
       FROM pg_type t JOIN pg_enum e ON e.enumtypid = t.oid GROUP BY t.typname`,
    );
    const actual = Object.fromEntries(rows.map((r) => [r.typname, r.labels]));
    const expected = Object.fromEntries(dmmf.enums.map((e) => [e.dbName ?? e.name, e.values.map((v) => v.name)]));
    expect(actual).toEqual(expected);
  });

  it('has the primary keys and indexes of the schema, named as Prisma names them', async () => {
    const { rows } = await client.query<{ indexname: string }>(
      `SELECT indexname FROM pg_indexes WHERE schemaname = 'public' AND tablename <> '_prisma_migrations'`,
    );
    const tableOf = (model: string) => {
      const m = dmmf.models.find((x) => x.name === model)!;
      return m.dbName ?? m.name;
    };
    const columnOf = (model: string, field: string) => {
      const f = dmmf.models.find((x) => x.name === model)!.fields.find((x) => x.name === field)!;
      return f.dbName ?? f.name;
    };
    const expected = dmmf.indexes
      .map((index) => {
        const table = tableOf(index.model);
        if (index.type === 'id') return `${table}_pkey`;
        const suffix = index.type === 'unique' ? 'key' : 'idx';
        return index.dbName ?? `${table}_${index.fields.map((f) => columnOf(index.model, f.name)).join('_')}_${suffix}`;
      })
      .sort();
    expect(rows.map((r) => r.indexname).sort()).toEqual([...expected, ...SQL_ONLY_INDEXES].sort());
  });
});

describe('the migration runner', () => {
  it('records each migration as Prisma does (SHA-256 checksum) and applies nothing twice', async () => {
    const again = await migrate(process.env.DATABASE_URL!);
    const migrations = readMigrations();
    expect(again.applied).toEqual([]);
    expect(again.alreadyApplied).toEqual(migrations.map((m) => m.name));

    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      const { rows } = await client.query<{ migration_name: string; checksum: string; finished_at: Date | null }>(
        'SELECT migration_name, checksum, finished_at FROM "_prisma_migrations" ORDER BY migration_name',
      );
      expect(rows.map((r) => r.migration_name)).toEqual(migrations.map((m) => m.name));
      for (const row of rows) {
        const sql = readFileSync(join(__dirname, '../../prisma/migrations', row.migration_name, 'migration.sql'));
        expect(row.checksum).toBe(createHash('sha256').update(sql).digest('hex'));
        expect(row.finished_at).not.toBeNull();
      }
    } finally {
      await client.end();
    }
  });

  it('refuses a migration edited after it was applied', async () => {
    const [first, ...rest] = readMigrations();
    const edited = { ...first, sql: `${first.sql}\n-- edited`, checksum: 'f'.repeat(64) };
    await expect(migrate(process.env.DATABASE_URL!, [edited, ...rest])).rejects.toThrow(/modified after it was applied/);
  });
});
