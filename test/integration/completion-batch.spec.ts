import { randomUUID } from 'node:crypto';
import { loadConfig } from '@deidflow/config';
import { Client } from 'pg';
import { COMPLETE_INSTANCES, InstanceCompletion, JobRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance, ParsedInstance } from '@deidflow/dicom';
import { CompletionBatcher } from '../../apps/worker/src/handlers/completion-batcher';
import { InstanceMemoryBudget } from '../../apps/worker/src/handlers/instance-memory-budget';
import { WorkerMetrics } from '../../apps/worker/src/metrics/worker-metrics';
import { resetDatabase } from '../support/app-harness';

/**
 * The worker's group commit against the real Postgres: instances that finish together are recorded
 * by one statement, each exactly once, and one bad instance fails alone.
 */
describe('CompletionBatcher (worker completions, real Postgres)', () => {
  let prisma: PrismaService;
  let jobs: JobRepository;
  let outputs: ParsedInstance[];

  beforeAll(async () => {
    await resetDatabase();
    prisma = new PrismaService(loadConfig(process.env));
    jobs = new JobRepository(prisma);
    // 2 studies of 1 patient, 2 series each: outputs that share their ancestors within a batch.
    outputs = generateSyntheticStudy({ instances: 8, studies: 2, series: 2, imageSize: 8, seed: 7 }).map((i) => parseInstance(i.bytes));
  });

  afterAll(async () => {
    await prisma.onModuleDestroy();
  });

  /** A ready job whose job_instances rows are PENDING for `sources`. */
  async function jobOf(sources: string[]): Promise<string> {
    return jobWith(`SELECT unnest($2::text[])`, sources);
  }

  async function jobWith(sourcesSql: string, ...values: unknown[]): Promise<string> {
    const id = randomUUID();
    await jobs.create({
      id,
      priority: 0,
      isAnonymization: true,
      request: {},
      secret: 's',
      level: 'Study',
      sourceResources: [],
      keepSource: true,
      permissive: false,
    });
    await prisma.$executeRawUnsafe(`INSERT INTO job_instances (job_id, source_instance_id) SELECT $1::uuid, s FROM (${sourcesSql}) AS t(s)`, id, ...values);
    await prisma.$executeRawUnsafe(`UPDATE jobs SET instances_count = (SELECT count(*) FROM job_instances WHERE job_id = $1::uuid), ready = true WHERE id = $1::uuid`, id);
    return id;
  }

  function completion(jobId: string, source: string, output: ParsedInstance, stored = true): InstanceCompletion {
    return {
      jobId,
      sourceInstanceId: source,
      outputInstanceId: output.ids.instance,
      operation: 'anonymize',
      requestDigest: 'd'.repeat(64),
      metadata: [
        { resourceId: output.ids.instance, name: 'AnonymizedFrom', value: source },
        { resourceId: output.ids.series, name: 'AnonymizedFrom', value: `series-of-${source}` },
      ],
      stored: stored ? { parsed: output, object: { objectKey: `k/${output.ids.instance}`, fileSize: 1, sha256: 'x'.repeat(64) } } : undefined,
    };
  }

  const sourceId = (n: number) => `source-${String(n).padStart(37, '0')}`;

  it('records concurrent completions of two jobs in fewer statements, each instance once', async () => {
    const sourcesA = [0, 1, 2, 3, 4].map(sourceId);
    const sourcesB = [5, 6, 7].map(sourceId);
    const jobA = await jobOf(sourcesA);
    const jobB = await jobOf(sourcesB);
    const batcher = new CompletionBatcher(jobs, new WorkerMetrics(new InstanceMemoryBudget({ WORKER_INSTANCES_MEMORY_LIMIT: 1024 * 1024 })));
    const statements = jest.spyOn(jobs, 'completeInstances');

    const all = [...sourcesA.map((s, n) => completion(jobA, s, outputs[n])), ...sourcesB.map((s, n) => completion(jobB, s, outputs[5 + n]))];
    const results = await Promise.all(all.map((c) => batcher.complete(c)));

    // The first instance is written alone; the seven that arrived meanwhile share the next statement.
    expect(statements).toHaveBeenCalledTimes(2);
    expect(results.every((r) => r !== null)).toBe(true);
    expect(results[4]).toMatchObject({ instancesCount: 5, processedCount: 5, failedCount: 0 });
    expect(results[7]).toMatchObject({ instancesCount: 3, processedCount: 3 });

    const counts = await prisma.$queryRawUnsafe<{ instances: number; series: number; studies: number; patients: number; lineage: number; done: number }[]>(
      `SELECT (SELECT count(*)::int FROM instances) AS instances, (SELECT count(*)::int FROM series) AS series,
              (SELECT count(*)::int FROM studies) AS studies, (SELECT count(*)::int FROM patients) AS patients,
              (SELECT count(*)::int FROM lineage) AS lineage,
              (SELECT count(*)::int FROM job_instances WHERE state = 'DONE' AND output_instance_id IS NOT NULL) AS done`,
    );
    expect(counts[0]).toEqual({ instances: 8, series: 4, studies: 2, patients: 1, lineage: 8, done: 8 });
    // The index's counters saw the outputs a batch statement inserted together (migration index_counters).
    expect(await new ResourceRepository(prisma).statistics()).toEqual({ patients: 1, studies: 2, series: 4, instances: 8, totalSize: 8n });

    // A repeat (redelivery) records nothing twice and moves no counter.
    statements.mockClear();
    const repeats = await Promise.all(all.slice(0, 3).map((c) => batcher.complete({ ...c, stored: undefined })));
    expect(repeats).toEqual([null, null, null]);
    expect((await jobs.counters(jobA))?.processedCount).toBe(5);
    statements.mockRestore();
  });

  it('fails only the bad instance of a batch; its neighbours are recorded', async () => {
    const sources = [10, 11, 12, 13].map(sourceId);
    const jobId = await jobOf(sources);
    const batcher = new CompletionBatcher(jobs, new WorkerMetrics(new InstanceMemoryBudget({ WORKER_INSTANCES_MEMORY_LIMIT: 1024 * 1024 })));
    const bad = { ...completion(jobId, sources[2], outputs[2], false), operation: 'not-an-operation' as 'modify' };
    const settled = await Promise.allSettled([
      batcher.complete(completion(jobId, sources[0], outputs[0], false)),
      batcher.complete(completion(jobId, sources[1], outputs[1], false)),
      batcher.complete(bad),
      batcher.complete(completion(jobId, sources[3], outputs[3], false)),
    ]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'fulfilled']);
    expect(await jobs.counters(jobId)).toMatchObject({ processedCount: 3, failedCount: 0 });
  });

  it('finds the rows of a batch through the primary key, also in its generic plan and whatever the size of the job', async () => {
    // A 10,000-instance job: a sequential scan of job_instances per batch would cost more than the batch itself.
    const jobId = await jobWith(`SELECT lpad('s' || g, 44, '0') FROM generate_series(1, $2::int) g`, 10_000);
    const c = completion(jobId, sourceId(1), outputs[0]);
    const client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
    try {
      await client.query('ANALYZE job_instances');
      // A prepared statement runs its generic plan after five executions: that is the plan that matters.
      await client.query('SET plan_cache_mode = force_generic_plan');
      const values = await completionStatementValues(jobs, [c]);
      const { rows } = await client.query(`EXPLAIN (FORMAT JSON) ${COMPLETE_INSTANCES.text}`, values);
      const scans = planNodes(rows[0]['QUERY PLAN'][0].Plan).filter((n) => n['Relation Name'] === 'job_instances' && n['Node Type'].endsWith('Scan'));
      expect(scans.length).toBeGreaterThan(0);
      // Both columns of the key in the index condition: one row per instance is read, not the whole job.
      for (const scan of scans) expect(scan['Index Cond']).toMatch(/source_instance_id/);
    } finally {
      await client.end();
    }
  });
});

describe('LastUpdate of the ancestors of a new instance (uploads and completions share the SQL)', () => {
  let prisma: PrismaService;
  let resources: ResourceRepository;

  beforeAll(async () => {
    prisma = new PrismaService(loadConfig(process.env));
    resources = new ResourceRepository(prisma);
  });
  afterAll(() => prisma.onModuleDestroy());

  it('moves to now for every ancestor, unless it already moved within the current second', async () => {
    const [first, second, third] = generateSyntheticStudy({ instances: 3, imageSize: 8, seed: 11 }).map((i) => parseInstance(i.bytes));
    const object = (p: ParsedInstance) => ({ objectKey: `k/${p.ids.instance}`, fileSize: 1, sha256: 'x'.repeat(64) });
    const lastUpdates = async () =>
      (
        await prisma.$queryRawUnsafe<{ t: Date }[]>(
          `SELECT last_update AS t FROM patients WHERE id = $1 UNION ALL SELECT last_update FROM studies WHERE id = $2
           UNION ALL SELECT last_update FROM series WHERE id = $3`,
          first.ids.patient,
          first.ids.study,
          first.ids.series,
        )
      ).map((r) => r.t.getTime());
    const setAll = (sql: string) =>
      Promise.all(['patients', 'studies', 'series'].map((table) => prisma.$executeRawUnsafe(`UPDATE ${table} SET last_update = ${sql}`)));

    await resources.storeInstance(first, object(first));
    await setAll(`'2000-01-01'`);
    const before = Date.now() - 1000;
    await resources.storeInstance(second, object(second));
    for (const t of await lastUpdates()) expect(t).toBeGreaterThan(before);

    // Already updated "within this second" (here: a time ahead of it): one row version fewer per batch.
    const ahead = new Date('2100-01-01T00:00:00Z').getTime();
    await setAll(`'2100-01-01T00:00:00Z'`);
    await resources.storeInstance(third, object(third));
    expect(await lastUpdates()).toEqual([ahead, ahead, ahead]);
  });
});

/** The values completeInstances() sends with its statement, captured from the repository itself. */
async function completionStatementValues(jobs: JobRepository, batch: InstanceCompletion[]): Promise<unknown[]> {
  const prisma = (jobs as unknown as { prisma: PrismaService }).prisma;
  const prepared = jest.spyOn(prisma, 'prepared').mockResolvedValueOnce([]);
  try {
    await jobs.completeInstances(batch);
    return prepared.mock.calls[0][1];
  } finally {
    prepared.mockRestore();
  }
}

type PlanNode = { 'Node Type': string; 'Relation Name'?: string; 'Index Cond'?: string; Plans?: PlanNode[] };
function planNodes(node: PlanNode): PlanNode[] {
  return [node, ...(node.Plans ?? []).flatMap(planNodes)];
}
