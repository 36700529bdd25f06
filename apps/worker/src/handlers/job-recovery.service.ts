import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { JobRepository } from '@deidflow/database';
import { JobEnqueuer } from '@deidflow/jobs';
import { QueueName } from '@deidflow/queue';

const ABANDONED_SUBMISSION_MS = 10 * 60_000;
const CHECK_EVERY_MS = 30_000;

/**
 * Postgres is the source of truth for what is left to do. At start, and whenever the queue is
 * empty while jobs are unfinished (Redis restarted without its data), the PENDING work of every
 * unfinished job is enqueued again; deterministic BullMQ job IDs make this a no-op when nothing
 * was lost.
 */
@Injectable()
export class JobRecoveryService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobRecoveryService.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly jobs: JobRepository,
    private readonly enqueuer: JobEnqueuer,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
  ) {}

  onApplicationBootstrap(): void {
    void this.recover(true);
    this.timer = setInterval(() => void this.recover(false), CHECK_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
  }

  async recover(always: boolean): Promise<void> {
    try {
      await this.jobs.failAbandonedSubmissions(new Date(Date.now() - ABANDONED_SUBMISSION_MS));
      const unfinished = await this.jobs.unfinishedJobIds();
      if (unfinished.length === 0) return;
      if (!always) {
        const counts = await this.queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'waiting-children');
        if (Object.values(counts).some((n) => n > 0)) return;
      }
      for (const jobId of unfinished) {
        const added = await this.enqueuer.enqueuePending(jobId);
        const counters = await this.jobs.counters(jobId);
        if (counters && counters.processedCount + counters.failedCount >= counters.instancesCount) {
          const job = await this.jobs.find(jobId);
          await this.enqueuer.enqueueFinalize(jobId, counters.generation, job?.priority ?? 0);
        }
        if (added > 0) this.logger.log({ jobId, pending: added }, 'pending work enqueued again');
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'job recovery failed; will try again');
    }
  }
}
