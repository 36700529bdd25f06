import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { JobRepository } from '@deidflow/database';
import {
  finalizeJobId,
  JobName,
  PROCESS_INSTANCE_ATTEMPTS,
  PROCESS_INSTANCE_BACKOFF,
  processInstanceJobId,
  QueueName,
  toBullPriority,
} from '@deidflow/queue';

const ADD_BULK_CHUNK = 500;
const MAX_ADD_BULK_IN_FLIGHT = 4;

/**
 * Turns the PENDING rows of a job into BullMQ jobs. Postgres is the source of truth; BullMQ jobs are
 * triggers: their IDs are deterministic per (job, instance, generation), so enqueueing the same
 * work twice (recovery, a retried submission) adds nothing, and a stale generation is skipped.
 */
@Injectable()
export class JobEnqueuer implements OnModuleDestroy {
  private readonly logger = new Logger(JobEnqueuer.name);
  /** enqueuePendingLater calls still adding; shutdown waits for them (before the queue closes). */
  private readonly enqueuing = new Set<Promise<void>>();

  constructor(
    private readonly jobs: JobRepository,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
  ) {
    // Without a listener BullMQ prints every Redis connection error as a raw stack trace (not a log line).
    queue.on('error', (err) => this.logger.warn({ err: err.message }, 'queue: Redis connection error'));
  }

  async enqueuePending(jobId: string): Promise<number> {
    const job = await this.jobs.find(jobId);
    if (!job) return 0;
    const priority = toBullPriority(job.priority);
    let added = 0;
    // A few addBulk calls in flight at once: Redis round trips overlap with reading the next batch.
    const inFlight = new Set<Promise<unknown>>();
    for await (const batch of this.jobs.pendingInstances(jobId, ADD_BULK_CHUNK)) {
      const adding = this.queue.addBulk(
        batch.map((sourceInstanceId) => ({
          name: JobName.ProcessInstance,
          data: { jobId, sourceInstanceId, generation: job.generation },
          opts: {
            jobId: processInstanceJobId(jobId, sourceInstanceId, job.generation),
            priority,
            attempts: PROCESS_INSTANCE_ATTEMPTS,
            backoff: PROCESS_INSTANCE_BACKOFF,
          },
        })),
      );
      inFlight.add(adding);
      void adding.then(() => inFlight.delete(adding), () => inFlight.delete(adding));
      if (inFlight.size >= MAX_ADD_BULK_IN_FLIGHT) await Promise.race(inFlight);
      added += batch.length;
    }
    await Promise.all(inFlight);
    return added;
  }

  /**
   * enqueuePending without waiting: a submitted job is durable once its rows are in Postgres, so its
   * answer need not wait for 10,000 queue entries. Workers start on the first chunks meanwhile. If
   * this fails or the process dies, the job stops moving and job recovery enqueues what is PENDING.
   */
  enqueuePendingLater(jobId: string): void {
    const startedAt = performance.now();
    const enqueuing = this.enqueuePending(jobId).then(
      (added) => this.logger.log({ jobId, added, ms: Math.round(performance.now() - startedAt) }, 'job enqueued'),
      (err: Error) =>
        this.logger.warn({ jobId, err: err.message }, 'enqueueing a submitted job failed; job recovery will enqueue its pending work'),
    );
    this.enqueuing.add(enqueuing);
    void enqueuing.finally(() => this.enqueuing.delete(enqueuing));
  }

  /**
   * Work being enqueued at shutdown is finished, not left to recovery's next interval. Nest destroys
   * JobsModule before DatabaseModule (imported first), and queues close later still.
   */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.enqueuing);
  }

  /** The number of enqueuePendingLater calls not finished yet. */
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
