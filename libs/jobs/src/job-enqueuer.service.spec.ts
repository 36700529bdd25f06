import type { Queue } from 'bullmq';
import type { JobCounters, JobRepository } from '@deidflow/database';
import { JobEnqueuer } from './job-enqueuer.service';

/**
 * The orchestration of the enqueuer alone: the repository and the queue are stand-ins whose answers
 * the test releases. (Against the real Postgres and Redis: test/integration/queue-window.spec.ts,
 * and test/e2e/jobs.e2e.spec.ts checks that an API closed right after its answer has queued its job.)
 */
describe('JobEnqueuer', () => {
  const WINDOW = 10;

  function standIns(window: string[]) {
    const added: string[] = [];
    const claims: { fromStart: boolean }[] = [];
    let releaseAdd!: () => void;
    const addReleased = new Promise<void>((resolve) => (releaseAdd = resolve));
    const jobs = {
      claimQueueWindow: async (_jobId: string, size: number, fromStart: boolean) => {
        claims.push({ fromStart });
        return { generation: 3, priority: 0, sourceInstanceIds: window.slice(0, size) };
      },
    } as unknown as JobRepository;
    const queue = {
      on: () => undefined,
      addBulk: async (entries: { opts: { jobId: string } }[]) => {
        await addReleased;
        added.push(...entries.map((entry) => entry.opts.jobId));
      },
    } as unknown as Queue;
    return { enqueuer: new JobEnqueuer(jobs, queue, { QUEUE_WINDOW_PER_JOB: WINDOW }), added, claims, releaseAdd };
  }

  const counters = (queuedCount: number, done: number, instancesCount = 100): JobCounters => ({
    instancesCount,
    processedCount: done,
    failedCount: 0,
    state: 'Running' as JobCounters['state'],
    ready: true,
    generation: 3,
    queuedCount,
  });

  it('enqueuePendingLater returns at once, and shutdown waits until its window is in the queue', async () => {
    const { enqueuer, added, claims, releaseAdd } = standIns(['a', 'b', 'c']);
    enqueuer.enqueuePendingLater('job');
    expect(enqueuer.enqueuingCount).toBe(1);

    let shutDown = false;
    const shutdown = enqueuer.onModuleDestroy().then(() => (shutDown = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shutDown).toBe(false);

    releaseAdd();
    await shutdown;
    expect(claims).toEqual([{ fromStart: true }]);
    expect(added).toEqual(['job:3:a', 'job:3:b', 'job:3:c']);
    expect(enqueuer.enqueuingCount).toBe(0);
  });

  it('a failure is logged, not thrown: job recovery enqueues the pending work later', async () => {
    const { enqueuer } = standIns([]);
    (enqueuer as unknown as { enqueuePending: () => Promise<number> }).enqueuePending = () => Promise.reject(new Error('Redis is down'));
    enqueuer.enqueuePendingLater('job');
    await expect(enqueuer.onModuleDestroy()).resolves.toBeUndefined();
    expect(enqueuer.enqueuingCount).toBe(0);
  });

  it('refillIfLow claims the next window once half a window or less is queued, and more is pending', async () => {
    const { enqueuer, claims, releaseAdd } = standIns(['d', 'e']);
    releaseAdd();
    enqueuer.refillIfLow('job', counters(20, 14)); // 6 queued of a window of 10: enough
    enqueuer.refillIfLow('job', counters(100, 96)); // every instance queued already in this pass
    enqueuer.refillIfLow('job', { ...counters(20, 18), ready: false }); // its rows are still being written
    await enqueuer.onModuleDestroy();
    expect(claims).toEqual([]);

    enqueuer.refillIfLow('job', counters(20, 15)); // 5 queued: half a window
    await enqueuer.onModuleDestroy();
    expect(claims).toEqual([{ fromStart: false }]);
  });

  it('refillIfLow claims once per job at a time from one process, however many completions see it low', async () => {
    const { enqueuer, claims, releaseAdd } = standIns(['d']);
    for (let done = 15; done < 20; done++) enqueuer.refillIfLow('job', counters(20, done));
    enqueuer.refillIfLow('other', counters(20, 15));
    releaseAdd();
    await enqueuer.onModuleDestroy();
    expect(claims).toHaveLength(2);
  });
});
