import type { Queue } from 'bullmq';
import type { JobRepository } from '@deidflow/database';
import { JobEnqueuer } from './job-enqueuer.service';

/**
 * The orchestration of enqueuePendingLater alone: the repository and the queue are stand-ins whose
 * answers the test releases. (Against the real Postgres and Redis, test/e2e/jobs.e2e.spec.ts checks
 * that an API closed right after its answer has queued every instance.)
 */
describe('JobEnqueuer.enqueuePendingLater', () => {
  function standIns(pending: string[][]) {
    const added: string[] = [];
    let releaseAdd!: () => void;
    const addReleased = new Promise<void>((resolve) => (releaseAdd = resolve));
    const jobs = {
      find: async () => ({ id: 'job', priority: 0, generation: 3 }),
      pendingInstances: async function* () {
        yield* pending;
      },
    } as unknown as JobRepository;
    const queue = {
      on: () => undefined,
      addBulk: async (entries: { opts: { jobId: string } }[]) => {
        await addReleased;
        added.push(...entries.map((entry) => entry.opts.jobId));
      },
    } as unknown as Queue;
    return { enqueuer: new JobEnqueuer(jobs, queue), added, releaseAdd };
  }

  it('returns at once, and shutdown waits until every chunk is in the queue', async () => {
    const { enqueuer, added, releaseAdd } = standIns([['a', 'b'], ['c']]);
    enqueuer.enqueuePendingLater('job');
    expect(enqueuer.enqueuingCount).toBe(1);

    let shutDown = false;
    const shutdown = enqueuer.onModuleDestroy().then(() => (shutDown = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(shutDown).toBe(false);

    releaseAdd();
    await shutdown;
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
});
