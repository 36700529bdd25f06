import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger } from '@nestjs/common';
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
export class JobEnqueuer {
  private readonly logger = new Logger(JobEnqueuer.name);

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
