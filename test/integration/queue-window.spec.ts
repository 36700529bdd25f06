import { JobRepository } from '@deidflow/database';
import { Client } from 'pg';
import { resetDatabase } from '../support/app-harness';
import { bareSourceId as sourceId, createSubmittedJob, testDatabase } from '../support/database';

const WINDOW = 10;
const INSTANCES = 25;
/** Room in the queue for every test but those about the room. */
const AMPLE = 1000;

const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => sourceId(from + i));

/**
 * The work queue holds a window of each job (QUEUE_WINDOW_PER_JOB), and all of them within its room
 * (QUEUE_MAX_TASKS), claimed from Postgres by dispatches: a job gets a window at submission (a new
 * pass), then the next whenever half a window or less is left; past the room, jobs wait, served by
 * priority then in submission order. Real Postgres; the queue itself is not involved (JobEnqueuer
 * adds what is claimed).
 */
describe('queue windows and the room of the queue (real Postgres)', () => {
  const database = testDatabase();
  let client: Client;
  let jobs: JobRepository;

  beforeAll(async () => {
    client = new Client({ connectionString: process.env.DATABASE_URL });
    await client.connect();
  });
  afterAll(() => client?.end());

  beforeEach(async () => {
    await resetDatabase();
    jobs = new JobRepository(database());
  });

  const submit = (instances = INSTANCES, priority = 0) => createSubmittedJob(database(), jobs, instances, priority);

  /** The first `n` instances of the job in key order leave PENDING, as completions do. */
  async function complete(jobId: string, n: number) {
    await client.query(
      `WITH moved AS (UPDATE job_instances SET state = 'DONE' WHERE job_id = $1 AND state = 'PENDING' AND source_instance_id <= $2 RETURNING 1)
       UPDATE jobs SET processed_count = processed_count + (SELECT count(*) FROM moved) WHERE id = $1`,
      [jobId, sourceId(n)],
    );
  }

  /** What a dispatch claimed: instance IDs per job. */
  async function dispatch(room = AMPLE): Promise<Record<string, string[]>> {
    const { windows } = await jobs.dispatchQueueWindows(WINDOW, room);
    return Object.fromEntries(windows.map((w) => [w.jobId, w.sourceInstanceIds]));
  }
  const queuedCount = async (jobId: string) => (await jobs.counters(jobId))!.queuedCount;

  it('claims a window at a time, the next only once half a window or less is left, until the end', async () => {
    const job = await submit();
    expect(await dispatch()).toEqual({ [job]: range(1, 10) });
    expect(await queuedCount(job)).toBe(10);
    expect(await dispatch()).toEqual({}); // 10 queued: enough

    await complete(job, 4);
    expect(await dispatch()).toEqual({}); // 6 queued
    await complete(job, 5);
    expect(await dispatch()).toEqual({ [job]: range(11, 20) });
    expect(await queuedCount(job)).toBe(20);

    await complete(job, 15);
    expect(await dispatch()).toEqual({ [job]: range(21, 25) }); // the rest: the pass reached the end
    expect(await queuedCount(job)).toBe(INSTANCES);
    await complete(job, 25);
    expect(await dispatch()).toEqual({});
  });

  it('a new pass (recovery, resume, resubmit) starts from the PENDING rows, whatever was queued before', async () => {
    const job = await submit();
    await dispatch();
    await complete(job, 5);
    await dispatch();
    // Say the queue lost its entries: the pass starts over from the first PENDING row.
    await jobs.restartQueuePasses([job]);
    expect(await dispatch()).toEqual({ [job]: range(6, 15) });
    expect(await queuedCount(job)).toBe(5 + WINDOW);
    expect(await dispatch()).toEqual({});
  });

  it('two dispatches at once claim each window once between them', async () => {
    const [a, b] = [await submit(), await submit()];
    const [first, second] = await Promise.all([dispatch(), dispatch()]);
    expect({ ...first, ...second }).toEqual({ [a]: range(1, 10), [b]: range(1, 10) });
    expect(Object.keys(first).length + Object.keys(second).length).toBe(2);
  });

  it('starts a pass again only when it moved: recovery restarts the jobs waiting for room at every turn', async () => {
    const job = await submit();
    expect(await jobs.restartQueuePasses([job])).toBe(0); // at its start already: not written again
    await dispatch();
    expect(await jobs.restartQueuePasses([job])).toBe(1);
    expect(await queuedCount(job)).toBe(0);
  });

  it('claims nothing for a job that is paused, finished, or whose rows are still being written', async () => {
    const job = await submit();
    for (const change of [`state = 'Paused'`, `state = 'Success'`, 'ready = false']) {
      await client.query(`UPDATE jobs SET ${change} WHERE id = $1`, [job]);
      expect(await jobs.restartQueuePasses([job])).toBe(0);
      expect(await dispatch()).toEqual({});
      await client.query(`UPDATE jobs SET state = 'Pending', ready = true WHERE id = $1`, [job]);
    }
    expect(await dispatch()).toEqual({ [job]: range(1, 10) });
  });

  it('keeps every job together within the room; the others wait, in submission order, and are told apart', async () => {
    const [a, b, c] = [await submit(), await submit(), await submit()];
    expect(await jobs.dispatchQueueWindows(WINDOW, 15)).toMatchObject({ starved: true });
    expect(await queuedCount(a)).toBe(10);
    expect(await queuedCount(b)).toBe(5); // what room was left
    expect(await queuedCount(c)).toBe(0);
    expect(await dispatch(15)).toEqual({}); // no room

    await complete(a, 10); // a's window done: room for 10, a served first
    expect(await dispatch(15)).toEqual({ [a]: range(11, 20) });
    await complete(b, 5);
    expect(await dispatch(15)).toEqual({ [b]: range(6, 10) }); // room for 5
    await complete(a, 20);
    await complete(b, 10);
    // a's rest (the end of its pass: less than asked), then b; c still waits its turn.
    expect(await dispatch(15)).toEqual({ [a]: range(21, 25), [b]: range(11, 20) });
    await complete(a, 25);
    await complete(b, 20);
    expect(await dispatch(15)).toEqual({ [b]: range(21, 25), [c]: range(1, 10) });
  });

  it('serves a job of higher priority first, whenever it was submitted', async () => {
    const low = await submit();
    const high = await submit(INSTANCES, 10);
    expect(await dispatch(10)).toEqual({ [high]: range(1, 10) });
    await complete(high, 10);
    expect(await dispatch(15)).toEqual({ [high]: range(11, 20), [low]: range(1, 5) });
  });

  it('counts the room of the queue from every queueable job, and nothing of a paused one', async () => {
    const a = await submit();
    await dispatch();
    await client.query(`UPDATE jobs SET state = 'Paused' WHERE id = $1`, [a]); // its tasks are skipped when they come
    const b = await submit();
    expect(await dispatch(10)).toEqual({ [b]: range(1, 10) });
  });
});
