import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { JobCounters, JobRepository } from '@deidflow/database';
import {
  finalizeJobId,
  JobName,
  PROCESS_INSTANCE_ATTEMPTS,
  PROCESS_INSTANCE_BACKOFF,
  processInstanceJobId,
  QueueName,
  toBullPriority,
} from '@deidflow/queue';

// Small chunks, one at a time: the workers add most windows, and BullMQ's objects for a chunk (a few
// kB a task) then die young instead of surviving the round trip into the old generation, where
// 500 x 4 in flight grew a busy worker's RSS by up to 150 MB between major GCs (thirteenth session).
const ADD_BULK_CHUNK = 100;

/**
 * Turns the PENDING rows of a job into BullMQ jobs. Postgres is the source of truth; BullMQ jobs are
 * triggers: their IDs are deterministic per (job, instance, generation), so enqueueing the same
 * work twice (recovery, a retried submission) adds nothing, and a stale generation is skipped.
 *
 * A job is queued a window at a time (QUEUE_WINDOW_PER_JOB): each queued task takes ~1.3 kB of
 * Redis, so a million-instance job queued whole would take 1.3 GB. The first window goes in at
 * submission (or recovery, resume, resubmit); the workers claim the next one whenever half a
 * window or less is left (refillIfLow), which keeps them fed without holding the job in Redis.
 */
@Injectable()
export class JobEnqueuer implements OnModuleDestroy {
  private readonly logger = new Logger(JobEnqueuer.name);
  /** Enqueueing not awaited by its caller (a submission, a refill); shutdown waits for it (before the queue closes). */
  private readonly enqueuing = new Set<Promise<void>>();
  /** Jobs this process is refilling: one claim at a time per job from here (the statement serialises the others). */
  private readonly refilling = new Set<string>();
  private readonly window: number;

  constructor(
    private readonly jobs: JobRepository,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'QUEUE_WINDOW_PER_JOB'>,
  ) {
    this.window = config.QUEUE_WINDOW_PER_JOB;
    // Without a listener BullMQ prints every Redis connection error as a raw stack trace (not a log line).
    queue.on('error', (err) => this.logger.warn({ err: err.message }, 'queue: Redis connection error'));
  }

  /**
   * Queues the job's first window of PENDING instances, from the first one (a submission, recovery,
   * resume, resubmit); the workers queue the rest as they go. Returns how many were claimed: 0 when
   * nothing is left to do (or the job is not running).
   */
  async enqueuePending(jobId: string): Promise<number> {
    return this.enqueueWindow(jobId, true);
  }

  /**
   * enqueuePending without waiting: a submitted job is durable once its rows are in Postgres, so its
   * answer need not wait for the queue. Workers start on the first chunks meanwhile. If this fails
   * or the process dies, the job stops moving and job recovery enqueues what is PENDING.
   */
  enqueuePendingLater(jobId: string): void {
    const startedAt = performance.now();
    this.inBackground(
      this.enqueuePending(jobId).then(
        (added) => this.logger.log({ jobId, added, ms: Math.round(performance.now() - startedAt) }, 'job enqueued'),
        (err: Error) =>
          this.logger.warn({ jobId, err: err.message }, 'enqueueing a submitted job failed; job recovery will enqueue its pending work'),
      ),
    );
  }

  /**
   * After instances of a job completed (`counters` as the completion left them): when half a window
   * or less of it is still queued and more is PENDING, queues the next window, without waiting. A
   * failure is logged: the job then stops moving once its queue is empty, and recovery takes over.
   */
  refillIfLow(jobId: string, counters: JobCounters): void {
    const queued = counters.queuedCount - counters.processedCount - counters.failedCount;
    if (!counters.ready || counters.queuedCount >= counters.instancesCount || queued > this.window / 2) return;
    if (this.refilling.has(jobId)) return;
    this.refilling.add(jobId);
    this.inBackground(
      this.enqueueWindow(jobId, false)
        .then(
          () => undefined,
          (err: Error) => this.logger.warn({ jobId, err: err.message }, 'queueing the next window of a job failed; job recovery will take over'),
        )
        .finally(() => this.refilling.delete(jobId)),
    );
  }

  private async enqueueWindow(jobId: string, fromStart: boolean): Promise<number> {
    const window = await this.jobs.claimQueueWindow(jobId, this.window, fromStart);
    if (!window) return 0;
    const { generation, priority, sourceInstanceIds } = window;
    const opts = { priority: toBullPriority(priority), attempts: PROCESS_INSTANCE_ATTEMPTS, backoff: PROCESS_INSTANCE_BACKOFF };
    for (let start = 0; start < sourceInstanceIds.length; start += ADD_BULK_CHUNK) {
      await this.queue.addBulk(
        sourceInstanceIds.slice(start, start + ADD_BULK_CHUNK).map((sourceInstanceId) => ({
          name: JobName.ProcessInstance,
          data: { jobId, sourceInstanceId, generation },
          opts: { ...opts, jobId: processInstanceJobId(jobId, sourceInstanceId, generation) },
        })),
      );
    }
    return sourceInstanceIds.length;
  }

  private inBackground(work: Promise<void>): void {
    this.enqueuing.add(work);
    void work.finally(() => this.enqueuing.delete(work));
  }

  /**
   * Work being enqueued at shutdown is finished, not left to recovery's next interval. Nest destroys
   * JobsModule before DatabaseModule (imported first), and queues close later still.
   */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.enqueuing);
  }

  /** The number of enqueuePendingLater and refillIfLow calls not finished yet. */
  get enqueuingCount(): number {
    return this.enqueuing.size;
  }

  async enqueueFinalize(jobId: string, generation: number, priority: number): Promise<void> {
    await this.queue.add(
      JobName.FinalizeJob,
      { jobId, generation },
      {
        jobId: finalizeJobId(jobId, generation),
        priority: toBullPriority(priority),
        attempts: PROCESS_INSTANCE_ATTEMPTS,
        backoff: PROCESS_INSTANCE_BACKOFF,
      },
    );
  }
}
