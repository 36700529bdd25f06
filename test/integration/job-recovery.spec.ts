import { JobRepository } from '@deidflow/database';
import { resetDatabase } from '../support/app-harness';
import { createBareJob, testDatabase } from '../support/database';

/**
 * A submission whose API died before the job was complete in Postgres (`ready` still false): job
 * recovery fails it after ten minutes (JobRecoveryService), and leaves every other job alone. And
 * the jobs it looks at for work left to queue again.
 */
describe('what job recovery reads and fails (real Postgres)', () => {
  const database = testDatabase();
  let jobs: JobRepository;

  beforeAll(() => {
    jobs = new JobRepository(database());
  });
  beforeEach(() => resetDatabase());

  async function job(minutesAgo: number, fields: { ready: boolean; state?: string; expansionQueued?: boolean }): Promise<string> {
    const id = await createBareJob(jobs);
    await database().$executeRawUnsafe(
      `UPDATE jobs SET ready = $2, state = $3::job_state, created_at = now() - make_interval(mins => $4), expansion_queued = $5 WHERE id = $1::uuid`,
      id,
      fields.ready,
      fields.state ?? 'Pending',
      minutesAgo,
      fields.expansionQueued ?? false,
    );
    return id;
  }

  it('fails the submissions left incomplete before the cutoff, and only those', async () => {
    const abandoned = await job(11, { ready: false });
    const abandonedWhileRunning = await job(30, { ready: false, state: 'Running' });
    const underWay = await job(1, { ready: false });
    const complete = await job(60, { ready: true });
    const canceled = await job(60, { ready: false, state: 'Failure' });
    // Answered before its rows, which a worker adds: not a submission interrupted, however long it waits.
    const listedByWorker = await job(60, { ready: false, expansionQueued: true });

    expect(await jobs.failAbandonedSubmissions(new Date(Date.now() - 10 * 60_000))).toBe(2);
    for (const id of [abandoned, abandonedWhileRunning]) {
      expect(await jobs.find(id)).toMatchObject({ state: 'Failure', errorCode: -1, errorDetails: 'The submission of the job was interrupted', completedAt: expect.any(Date) });
    }
    expect(await jobs.find(underWay)).toMatchObject({ state: 'Pending', completedAt: null });
    expect(await jobs.find(complete)).toMatchObject({ state: 'Pending', completedAt: null });
    expect(await jobs.find(canceled)).toMatchObject({ state: 'Failure', errorDetails: '' });
    expect(await jobs.find(listedByWorker)).toMatchObject({ state: 'Pending', completedAt: null });
    // Done once: a second look finds nothing more.
    expect(await jobs.failAbandonedSubmissions(new Date(Date.now() - 10 * 60_000))).toBe(0);
  });

  it('lists the jobs recovery looks at, with their progress, in one read: queueable ones only', async () => {
    const running = await job(1, { ready: true, state: 'Running' });
    await database().$executeRawUnsafe(
      `UPDATE jobs SET instances_count = 10, processed_count = 6, failed_count = 1, generation = 2, priority = 5 WHERE id = $1::uuid`,
      running,
    );
    const waiting = await job(1, { ready: true });
    for (const state of ['Paused', 'Success', 'Failure']) await job(1, { ready: true, state });
    await job(1, { ready: false });

    const unfinished = await jobs.unfinishedJobs();
    expect(unfinished).toHaveLength(2);
    expect(unfinished).toEqual(
      expect.arrayContaining([
        { id: running, done: 7, instancesCount: 10, generation: 2, priority: 5 },
        { id: waiting, done: 0, instancesCount: 0, generation: 0, priority: 0 },
      ]),
    );
  });

  it('lists the jobs whose rows a worker is still to add, oldest first: those that may still run', async () => {
    const older = await job(5, { ready: false, expansionQueued: true });
    const paused = await job(3, { ready: false, expansionQueued: true, state: 'Paused' });
    const newer = await job(1, { ready: false, expansionQueued: true, state: 'Running' });
    await job(2, { ready: false, expansionQueued: true, state: 'Failure' }); // canceled: its resubmit queues it
    await job(2, { ready: true, expansionQueued: true }); // listed already
    await job(2, { ready: false }); // its submission lists it

    expect(await jobs.unexpandedJobs()).toEqual([older, paused, newer]);
  });
});
