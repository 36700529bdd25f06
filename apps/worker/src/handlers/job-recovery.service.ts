import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { JobRepository } from '@deidflow/database';
import { JobEnqueuer } from '@deidflow/jobs';
import { runPeriodically, StopPeriodic } from './periodic';

const ABANDONED_SUBMISSION_MS = 10 * 60_000;

/**
 * Postgres is the source of truth for what is left to do. At start, and for every unfinished job
 * that did not move during one interval (Redis restarted without its data, a queue entry lost, or
 * waiting for room in the queue), the PENDING work is enqueued again; so is the expansion of every
 * job whose rows a worker is still to add. Deterministic BullMQ job IDs make this a no-op when
 * nothing was lost.
 */
@Injectable()
export class JobRecoveryService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobRecoveryService.name);
  private stop?: StopPeriodic;
  /** Instances done (processed + failed) per job at the previous check. */
  private readonly lastSeen = new Map<string, number>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
    private readonly enqueuer: JobEnqueuer,
  ) {}

  onApplicationBootstrap(): void {
    this.stop = runPeriodically(this.config.JOB_RECOVERY_INTERVAL_MS, () => this.recover(true), () => this.recover(false));
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop?.(this.config.WORKER_SHUTDOWN_GRACE_MS);
  }

  async recover(always: boolean): Promise<void> {
    try {
      await this.jobs.failAbandonedSubmissions(new Date(Date.now() - ABANDONED_SUBMISSION_MS));
      for (const jobId of await this.jobs.unexpandedJobs()) await this.enqueuer.enqueueExpansion(jobId);
      const unfinished = await this.jobs.unfinishedJobs();
      const unfinishedIds = new Set(unfinished.map((job) => job.id));
      for (const jobId of [...this.lastSeen.keys()]) if (!unfinishedIds.has(jobId)) this.lastSeen.delete(jobId);
      const stalled = new Set<string>();
      for (const job of unfinished) {
        const moved = this.lastSeen.get(job.id) !== job.done;
        this.lastSeen.set(job.id, job.done);
        if (!always && moved) continue;
        stalled.add(job.id);
        if (job.done >= job.instancesCount) await this.enqueuer.enqueueFinalize(job.id, job.generation, job.priority);
      }
      // One dispatch per turn even when nothing stalled: it fills room that no completion asked for.
      const queued = await this.enqueuer.enqueuePendingOf([...stalled]);
      for (const [jobId, pending] of queued) {
        if (stalled.has(jobId)) this.logger.log({ jobId, pending }, 'pending work of a job that stopped moving enqueued again');
      }
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'job recovery failed; will try again');
    }
  }
}
