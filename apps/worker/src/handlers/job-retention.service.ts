import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { JobRepository } from '@deidflow/database';
import { DAY_MS, deleteInBatches, runPeriodically, StopPeriodic } from './periodic';

const PRUNE_EVERY_MS = 10 * 60_000;
/** Jobs per statement: each deletes its job_instances rows too, so a statement stays short. */
const BATCH = 100;

/**
 * JOB_RETENTION_DAYS: finished jobs older than that are deleted, with their per-instance rows, so
 * that the jobs tables do not grow with every instance ever processed. What a job produced stays:
 * its outputs, their AnonymizedFrom/ModifiedFrom metadata and their lineage (which keeps the job's
 * ID). GET /jobs/{id} of a deleted job is a 404, as for a job Orthanc dropped from its history.
 */
@Injectable()
export class JobRetentionService implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(JobRetentionService.name);
  private stop?: StopPeriodic;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly jobs: JobRepository,
  ) {}

  onApplicationBootstrap(): void {
    if (this.config.JOB_RETENTION_DAYS === 0) return;
    this.stop = runPeriodically(PRUNE_EVERY_MS, (signal) => this.prune(Date.now(), signal));
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop?.(this.config.WORKER_SHUTDOWN_GRACE_MS);
  }

  /** Deletes every finished job past the retention; resolves to how many (0 when retention is off). */
  async prune(now = Date.now(), signal?: AbortSignal): Promise<number> {
    if (this.config.JOB_RETENTION_DAYS === 0) return 0;
    const cutoff = new Date(now - this.config.JOB_RETENTION_DAYS * DAY_MS);
    const { deleted, error } = await deleteInBatches(BATCH, (size) => this.jobs.deleteFinishedBefore(cutoff, size), signal);
    if (error) this.logger.warn({ err: error.message }, 'deleting expired jobs failed; will try again');
    if (deleted > 0) this.logger.log({ deleted, retentionDays: this.config.JOB_RETENTION_DAYS }, 'expired jobs deleted');
    return deleted;
  }
}
