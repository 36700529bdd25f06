import { loadConfig } from '@deidflow/config';
import { JobRepository, PrismaService } from '@deidflow/database';
import { JobRetentionService } from '../../apps/worker/src/handlers/job-retention.service';
import { createBareJob, onJobsDatabase } from '../support/database';

/** JOB_RETENTION_DAYS against the real Postgres: what goes, and what must stay. */
describe('JobRetentionService (real Postgres)', () => {
  const DAY = 24 * 60 * 60_000;
  let prisma: PrismaService;
  let jobs: JobRepository;
  onJobsDatabase((db) => ({ prisma, jobs } = db));

  const retention = (days: number) => new JobRetentionService({ ...loadConfig(process.env), JOB_RETENTION_DAYS: days }, jobs);

  /** A job in `state`, finished `daysAgo` days ago (unfinished jobs have no end), with two instance rows and a lineage edge. */
  async function job(state: string, daysAgo: number | null): Promise<string> {
    const id = await createBareJob(jobs);
    await prisma.$executeRawUnsafe(
      `UPDATE jobs SET state = $2::job_state, completed_at = CASE WHEN $3::int IS NULL THEN NULL ELSE now() - make_interval(days => $3::int) END WHERE id = $1::uuid`,
      id,
      state,
      daysAgo,
    );
    await prisma.$executeRawUnsafe(`INSERT INTO job_instances (job_id, source_instance_id) SELECT $1::uuid, s FROM unnest(ARRAY['a', 'b']) AS s`, id);
    await prisma.$executeRawUnsafe(
      `INSERT INTO lineage (output_instance_id, source_instance_id, job_id, operation, request_digest) VALUES ($2, 'source', $1::uuid, 'anonymize', $3)`,
      id,
      `output-${id}`,
      'd'.repeat(64),
    );
    return id;
  }

  const remaining = async () => (await prisma.$queryRaw<{ id: string }[]>`SELECT id::text FROM jobs ORDER BY id`).map((r) => r.id).sort();
  const count = async (table: 'job_instances' | 'lineage') => Number((await prisma.$queryRawUnsafe<{ n: bigint }[]>(`SELECT count(*) AS n FROM ${table}`))[0].n);

  it('deletes the finished jobs past the retention with their instance rows, and keeps the rest and every lineage edge', async () => {
    await job('Success', 10);
    await job('Failure', 8);
    const recent = await job('Success', 2);
    const running = await job('Running', null);
    const paused = await job('Paused', null);

    expect(await retention(7).prune()).toBe(2);
    expect(await remaining()).toEqual([recent, running, paused].sort());
    expect(await count('job_instances')).toBe(6);
    expect(await count('lineage')).toBe(5);
  });

  it('goes through more jobs than one statement takes', async () => {
    for (let i = 0; i < 230; i++) await job('Success', 30);
    const kept = await job('Failure', 1);
    expect(await retention(7).prune()).toBe(230);
    expect(await remaining()).toEqual([kept]);
  });

  it('keeps every job when the retention is 0 (the default)', async () => {
    await job('Success', 400);
    expect(loadConfig({}).JOB_RETENTION_DAYS).toBe(0);
    expect(await retention(0).prune()).toBe(0);
    expect(await remaining()).toHaveLength(1);
  });
});
