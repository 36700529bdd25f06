import type { Queue } from 'bullmq';
import type { JobCounters, JobRepository, QueueDispatch, QueueWindow } from '@deidflow/database';
import { JobEnqueuer } from './job-enqueuer.service';

/**
 * The orchestration of the enqueuer alone: the repository and the queue are stand-ins whose answers
 * the test sets. (Against the real Postgres and Redis: test/integration/queue-window.spec.ts, and
 * test/e2e/jobs.e2e.spec.ts checks that an API closed right after its answer has queued its job and
 * that jobs beyond the queue's room wait and complete.)
 */
describe('JobEnqueuer', () => {
  const WINDOW = 10;

  function standIns(answer: () => QueueDispatch = () => ({ windows: [], starved: false })) {
    const added: string[] = [];
    const calls: string[] = [];
    let releaseAdd!: () => void;
    const addReleased = new Promise<void>((resolve) => (releaseAdd = resolve));
    let failAddsOf: string | undefined;
    const jobs = {
      restartQueuePasses: async (jobIds: string[]) => {
        calls.push(`restart ${jobIds.join(' ')}`);
        return jobIds.length;
      },
      dispatchQueueWindows: async (window: number, maxQueued: number) => {
        calls.push(`dispatch ${window} ${maxQueued}`);
        return answer();
      },
    } as unknown as JobRepository;
    const queue = {
      on: () => undefined,
      addBulk: async (entries: { data: { jobId: string }; opts: { jobId: string } }[]) => {
        await addReleased;
        if (entries[0].data.jobId === failAddsOf) throw new Error('Redis refused');
        added.push(...entries.map((entry) => entry.opts.jobId));
      },
    } as unknown as Queue;
    const enqueuer = new JobEnqueuer(jobs, queue, { QUEUE_WINDOW_PER_JOB: WINDOW, QUEUE_MAX_TASKS: 100 });
    return { enqueuer, added, calls, releaseAdd, failAddsFor: (jobId: string) => (failAddsOf = jobId) };
  }

  const window = (jobId: string, ...ids: string[]): QueueWindow => ({ jobId, generation: 3, priority: 0, sourceInstanceIds: ids });

  const counters = (queuedCount: number, done: number, instancesCount = 100): JobCounters => ({
    instancesCount,
    processedCount: done,
    failedCount: 0,
    state: 'Running' as JobCounters['state'],
    ready: true,
    generation: 3,
    queuedCount,
  });

  it('enqueuePendingLater returns at once, and shutdown waits until what it dispatched is in the queue', async () => {
    const { enqueuer, added, calls, releaseAdd } = standIns(() => ({ windows: [window('job', 'a', 'b'), window('other', 'c')], starved: false }));
    enqueuer.enqueuePendingLater('job');
    expect(enqueuer.enqueuingCount).toBe(1);

    let shutDown = false;
    const shutdown = enqueuer.onModuleDestroy().then(() => (shutDown = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shutDown).toBe(false);

    releaseAdd();
    await shutdown;
    expect(calls).toEqual(['restart job', 'dispatch 10 100']);
    expect(added).toEqual(['job:3:a', 'job:3:b', 'other:3:c']); // a dispatch serves every job that needs a window
    expect(enqueuer.enqueuingCount).toBe(0);
  });

  it('enqueuePending answers how many of its own job were queued', async () => {
    const { enqueuer, releaseAdd } = standIns(() => ({ windows: [window('job', 'a', 'b'), window('other', 'c')], starved: true }));
    releaseAdd();
    expect(await enqueuer.enqueuePending('job')).toBe(2);
    expect(await enqueuer.enqueuePending('waiting')).toBe(0);
  });

  it('a failure is logged, not thrown: job recovery enqueues the pending work later', async () => {
    const { enqueuer } = standIns(() => {
      throw new Error('Postgres is down');
    });
    enqueuer.enqueuePendingLater('job');
    await expect(enqueuer.onModuleDestroy()).resolves.toBeUndefined();
    expect(enqueuer.enqueuingCount).toBe(0);
  });

  it('a window the queue refuses does not keep the others out, and the dispatch fails', async () => {
    const { enqueuer, added, releaseAdd, failAddsFor } = standIns(() => ({ windows: [window('a', '1'), window('b', '2'), window('c', '3')], starved: false }));
    failAddsFor('b');
    releaseAdd();
    await expect(enqueuer.dispatch()).rejects.toThrow('Redis refused');
    expect(added).toEqual(['a:3:1', 'c:3:3']);
  });

  it('after progress, asks for a dispatch when the job runs low or ends, not while it has enough queued', async () => {
    const { enqueuer, calls, releaseAdd } = standIns();
    releaseAdd();
    enqueuer.afterProgress(counters(20, 14)); // 6 queued of a window of 10: enough
    enqueuer.afterProgress(counters(100, 96)); // every instance queued already in this pass
    enqueuer.afterProgress({ ...counters(20, 18), ready: false }); // its rows are still being written
    await enqueuer.onModuleDestroy();
    expect(calls).toEqual([]);

    enqueuer.afterProgress(counters(20, 15)); // 5 queued: half a window
    await enqueuer.onModuleDestroy();
    enqueuer.afterProgress(counters(100, 100)); // the job ended: its room is free for others
    await enqueuer.onModuleDestroy();
    expect(calls).toEqual(['dispatch 10 100', 'dispatch 10 100']);
  });

  it('while jobs wait for room, any progress asks for a dispatch', async () => {
    let starved = true;
    const { enqueuer, calls, releaseAdd } = standIns(() => ({ windows: [], starved }));
    releaseAdd();
    await enqueuer.dispatch(); // jobs wait
    enqueuer.afterProgress(counters(100, 50));
    await enqueuer.onModuleDestroy();
    expect(calls).toHaveLength(2);

    starved = false; // that dispatch found none waiting any more
    await enqueuer.dispatch();
    enqueuer.afterProgress(counters(100, 50));
    await enqueuer.onModuleDestroy();
    expect(calls).toHaveLength(3);
  });

  it('requested dispatches run one at a time, 100 ms apart at most, however many completions ask', async () => {
    const { enqueuer, calls, releaseAdd } = standIns();
    releaseAdd();
    const startedAt = performance.now();
    for (let i = 0; i < 50; i++) enqueuer.requestDispatch();
    await new Promise((resolve) => setTimeout(resolve, 10));
    for (let i = 0; i < 50; i++) enqueuer.requestDispatch();
    await enqueuer.onModuleDestroy();
    expect(calls).toHaveLength(2);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(95);
  });
});
