import { JobRepository } from '@deidflow/database';
import { Client } from 'pg';
import { resetDatabase } from '../support/app-harness';
import { createBareJob, testDatabase } from '../support/database';

const WINDOW = 10;
const INSTANCES = 25;

/** The source instance IDs of the test job, in key order. */
const sourceId = (n: number) => n.toString(16).padStart(44, '0');

/**
 * The work queue holds a window of each job (QUEUE_WINDOW_PER_JOB), claimed from Postgres: the
 * first at submission, recovery, resume or resubmit; the next whenever half a window or less is
 * left. Real Postgres; the queue itself is not involved (JobEnqueuer adds what is claimed).
 */
describe('the queue window of a job (real Postgres)', () => {
  const database = testDatabase();
  let client: Client;
  let jobs: JobRepository;
  let jobId: string;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
  });
  afterAll(() => client?.end());

  beforeEach(async () => {
    await resetDatabase();
    jobs = new JobRepository(database());
    jobId = await createBareJob(jobs);
    await client.query(
      `INSERT INTO job_instances (job_id, source_instance_id) SELECT $1::uuid, lpad(to_hex(g), 44, '0') FROM generate_series(1, $2::int) g`,
      [jobId, INSTANCES],
    );
    await client.query('UPDATE jobs SET instances_count = $2, ready = true WHERE id = $1', [jobId, INSTANCES]);
  });

  /** The first `n` instances in key order leave PENDING, as completions do. */
  async function complete(n: number) {
    await client.query(
      `WITH moved AS (UPDATE job_instances SET state = 'DONE' WHERE job_id = $1 AND state = 'PENDING' AND source_instance_id <= $2 RETURNING 1)
       UPDATE jobs SET processed_count = processed_count + (SELECT count(*) FROM moved) WHERE id = $1`,
      [jobId, sourceId(n)],
    );
  }

  const claim = async (fromStart: boolean) => (await jobs.claimQueueWindow(jobId, WINDOW, fromStart))?.sourceInstanceIds ?? null;
  const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => sourceId(from + i));
  const queuedCount = async () => (await jobs.counters(jobId))!.queuedCount;

  it('claims a window at a time, the next only once half a window or less is left, until the end', async () => {
    expect(await claim(true)).toEqual(range(1, 10));
    expect(await queuedCount()).toBe(10);
    expect(await claim(false)).toBeNull(); // 10 queued: enough

    await complete(4);
    expect(await claim(false)).toBeNull(); // 6 queued
    await complete(5);
    expect(await claim(false)).toEqual(range(11, 20));
    expect(await queuedCount()).toBe(20);

    await complete(15);
    expect(await claim(false)).toEqual(range(21, 25)); // the rest: the pass reached the end
    expect(await queuedCount()).toBe(INSTANCES);
    await complete(25);
    expect(await claim(false)).toBeNull();
  });

  it('from the start again (recovery, resume, resubmit): the PENDING rows, whatever was queued before', async () => {
    await claim(true);
    await complete(5);
    await claim(false);
    // Say the queue lost its entries: the pass starts over from the first PENDING row.
    expect(await claim(true)).toEqual(range(6, 15));
    expect(await queuedCount()).toBe(5 + WINDOW);
    expect(await claim(false)).toBeNull();
  });

  it('two workers reaching the low-water mark together claim one window between them', async () => {
    await claim(true);
    await complete(6);
    const [first, second] = await Promise.all([claim(false), claim(false)]);
    expect([first, second].filter((ids) => ids !== null)).toEqual([range(11, 20)]);
  });

  it('claims nothing for a job that is paused, finished, or whose rows are still being written', async () => {
    for (const change of [`state = 'Paused'`, `state = 'Success'`, 'ready = false']) {
      await client.query(`UPDATE jobs SET ${change} WHERE id = $1`, [jobId]);
      expect(await claim(true)).toBeNull();
      await client.query(`UPDATE jobs SET state = 'Pending', ready = true WHERE id = $1`, [jobId]);
    }
    expect(await claim(true)).toEqual(range(1, 10));
  });
});
