import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { ChangeRepository } from '@deidflow/database';
import { DAY_MS, deleteInBatches, runPeriodically, StopPeriodic } from './periodic';

const PRUNE_EVERY_MS = 10 * 60_000;
/** Changes per statement of the retention: short statements, whatever the backlog. */
const PRUNE_BATCH = 10_000;

/**
 * Orthanc's unstable-resources monitor, durable: every CHANGE_LOG_INTERVAL_MS, logs CompletedSeries
 * and StableSeries / StableStudy / StablePatient for the resources that became so (the index knows
 * which are unstable, so a restart loses none, unlike Orthanc's in-memory tracker), then numbers
 * the changes logged since (ChangeRepository.sequence), so that the log of a deployment nobody
 * reads stays in order and its readers find little to number. Every worker runs it; a resource is
 * logged once whoever marks it. With CHANGE_LOG_RETENTION_DAYS, it also deletes the old changes.
 */
@Injectable()
export class ChangeLogMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ChangeLogMonitor.name);
  private stops: StopPeriodic[] = [];
  private failing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.stops.push(runPeriodically(this.config.CHANGE_LOG_INTERVAL_MS, () => this.tick()));
    if (this.config.CHANGE_LOG_RETENTION_DAYS > 0) this.stops.push(runPeriodically(PRUNE_EVERY_MS, (signal) => this.prune(Date.now(), signal)));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.stops.map((stop) => stop(this.config.WORKER_SHUTDOWN_GRACE_MS)));
  }

  async tick(): Promise<void> {
    try {
      await this.changes.markCompletedAndStable(this.config.STABLE_AGE_SECONDS);
      await this.changes.sequence();
      if (this.failing) this.logger.log('the change log is kept again');
      this.failing = false;
    } catch (err) {
      // Once per outage: this runs every second.
      if (!this.failing) this.logger.warn({ err: (err as Error).message }, 'keeping the change log failed; will try again');
      this.failing = true;
    }
  }

  /** CHANGE_LOG_RETENTION_DAYS: deletes the changes logged before it; resolves to how many (0 when retention is off). */
  async prune(now = Date.now(), signal?: AbortSignal): Promise<number> {
    const days = this.config.CHANGE_LOG_RETENTION_DAYS;
    if (days === 0) return 0;
    const cutoff = new Date(now - days * DAY_MS);
    const { deleted, error } = await deleteInBatches(PRUNE_BATCH, (size) => this.changes.deleteLoggedBefore(cutoff, size), signal);
    if (error) this.logger.warn({ err: error.message }, 'deleting expired changes failed; will try again');
    if (deleted > 0) this.logger.log({ deleted, retentionDays: days }, 'expired changes deleted from the change log');
    return deleted;
  }
}
