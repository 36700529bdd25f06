import { randomUUID } from 'node:crypto';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { loadConfig } from '@deidflow/config';
import { JobRepository } from '@deidflow/database';
import { JobEnqueuer } from '@deidflow/jobs';
import { processInstanceJobId } from '@deidflow/queue';
import { JobRecoveryService } from '../../apps/worker/src/handlers/job-recovery.service';
import { resetDatabase } from '../support/app-harness';
import { bareSourceId, createSubmittedJob, testDatabase } from '../support/database';

/**
 * A window claimed from Postgres but never added to the queue (its process died between the commit
 * and the add, or Redis refused the add): the job has nothing queued and stops moving; job recovery
 * sees it still at its next look and queues its PENDING rows again. Real Postgres, real Redis (a
 * BullMQ queue of its own); no worker takes the tasks.
 */
describe('a claimed window lost before the queue (real Postgres and Redis)', () => {
  const database = testDatabase();
  const connection = { url: process.env.REDIS_URL, maxRetriesPerRequest: null };
  let queue: Queue;
  let jobs: JobRepository;
  let recovery: JobRecoveryService;

  beforeAll(() => Logger.overrideLogger(false)); // recovery's log lines
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  beforeEach(async () => {
    await resetDatabase();
    queue = new Queue(`recovery-${randomUUID()}`, { connection, prefix: process.env.QUEUE_PREFIX });
    jobs = new JobRepository(database());
    const config = loadConfig({ ...process.env, QUEUE_WINDOW_PER_JOB: '10', QUEUE_MAX_TASKS: '15' });
    recovery = new JobRecoveryService(config, jobs, new JobEnqueuer(jobs, queue, config));
  });

  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  const queuedIds = async () => (await queue.getJobs(['prioritized', 'waiting'])).map((task) => task.id).sort();

  it('queues the lost window again at recovery\'s second look at the job, once', async () => {
    const jobId = await createSubmittedJob(database(), jobs, 25);
    const { windows } = await jobs.dispatchQueueWindows(10, 15); // claimed, committed, never added
    expect(windows.map((w) => w.sourceInstanceIds.length)).toEqual([10]);

    await recovery.recover(false); // first look: nothing to compare with yet; the room is taken by the claim
    expect(await queuedIds()).toEqual([]);

    await recovery.recover(false); // the job did not move: a new pass from its first PENDING row
    const firstWindow = Array.from({ length: 10 }, (_, i) => processInstanceJobId(jobId, bareSourceId(i + 1), 0)).sort();
    expect(await queuedIds()).toEqual(firstWindow);

    await recovery.recover(false); // still no worker: the same window again, which the queue holds already
    expect(await queuedIds()).toEqual(firstWindow);
    expect((await jobs.counters(jobId))!.queuedCount).toBe(10);
  });
});
