import { randomUUID } from 'node:crypto';
import { PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance, ParsedInstance } from '@deidflow/dicom';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/**
 * GET /statistics reads counts kept by triggers (migration index_counters) instead of counting the
 * index. After any mix of uploads, repeats, concurrent writers, cascaded deletions and folds of
 * the delta rows, they must equal what counting the tables gives.
 */
describe('index counters (real Postgres)', () => {
  const database = testDatabase();
  let prisma: PrismaService;
  let resources: ResourceRepository;

  beforeAll(() => {
    prisma = database();
    resources = new ResourceRepository(prisma);
  });
  beforeEach(() => resetDatabase());

  async function counted() {
    const [row] = await prisma.$queryRaw<{ patients: bigint; studies: bigint; series: bigint; instances: bigint; total: bigint | null }[]>`
      SELECT (SELECT count(*) FROM patients) AS patients, (SELECT count(*) FROM studies) AS studies,
             (SELECT count(*) FROM series) AS series, (SELECT count(*) FROM instances) AS instances,
             (SELECT sum(file_size) FROM instances)::bigint AS total`;
    return { patients: Number(row.patients), studies: Number(row.studies), series: Number(row.series), instances: Number(row.instances), totalSize: row.total ?? 0n };
  }

  const parsed = (seed: number, studies = 2): ParsedInstance[] =>
    generateSyntheticStudy({ instances: 12, studies, series: 2, imageSize: 8, seed }).map((i) => parseInstance(i.bytes));

  const store = (instance: ParsedInstance, size = 1000) =>
    resources.storeInstance(instance, { objectKey: `k/${instance.ids.instance}`, fileSize: size, sha256: 'a'.repeat(64) });

  it('starts at zero after a TRUNCATE, and counts uploads once, repeats included', async () => {
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
    const instances = parsed(1);
    for (const [i, instance] of instances.entries()) await store(instance, 1000 + i);
    await store(instances[0]); // AlreadyStored: no row inserted, nothing counted
    const expected = await counted();
    expect(expected).toMatchObject({ patients: 1, studies: 2, series: 4, instances: 12 });
    expect(await resources.statistics()).toEqual(expected);
  });

  it('counts concurrent writers of the same patients and series exactly', async () => {
    const instances = [...parsed(2, 3), ...parsed(3, 1)];
    await Promise.all(instances.map((instance, i) => store(instance, 500 + i)));
    await Promise.all(instances.map((instance) => store(instance)));
    expect(await resources.statistics()).toEqual(await counted());
  });

  it('takes away what a deletion removes, the cascade to children and emptied parents included', async () => {
    const instances = parsed(4);
    for (const instance of instances) await store(instance);
    await resources.deleteResources('Instance', [instances[0].ids.instance], randomUUID());
    expect(await resources.statistics()).toEqual(await counted());
    await resources.deleteResources('Study', [instances[11].ids.study], randomUUID());
    expect(await resources.statistics()).toEqual(await counted());
    await resources.deleteResources('Patient', [instances[0].ids.patient], randomUUID());
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
  });

  it('folds the delta rows into one every 1024th row, and keeps the sums', async () => {
    const instances = parsed(5);
    for (const instance of instances) await store(instance);
    // Push the sequence to just below a fold, then let one more statement cross it.
    await prisma.$executeRawUnsafe(`SELECT setval('index_counters_id_seq', (SELECT ((max(id) / 1024) + 1) * 1024 - 1 FROM index_counters))`);
    const before = await prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM index_counters`;
    expect(Number(before[0].n)).toBeGreaterThan(1);
    await resources.deleteResources('Instance', [instances[3].ids.instance], randomUUID());
    const after = await prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM index_counters`;
    expect(Number(after[0].n)).toBe(1);
    expect(await resources.statistics()).toEqual(await counted());
  });
});
