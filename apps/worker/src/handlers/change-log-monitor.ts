import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { ChangeRepository } from '@deidflow/database';
import { runPeriodically } from './periodic';

/**
 * Orthanc's unstable-resources monitor, durable: every CHANGE_LOG_INTERVAL_MS, logs CompletedSeries
 * and StableSeries / StableStudy / StablePatient for the resources that became so (the index knows
 * which are unstable, so a restart loses none, unlike Orthanc's in-memory tracker), then numbers
 * the changes logged since (ChangeRepository.sequence), so that the log of a deployment nobody
 * reads stays in order and its readers find little to number. Every worker runs it; a resource is
 * logged once whoever marks it.
 */
@Injectable()
export class ChangeLogMonitor implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ChangeLogMonitor.name);
  private stop?: () => void;
  private failing = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly changes: ChangeRepository,
  ) {}

  onApplicationBootstrap(): void {
    this.stop = runPeriodically(this.config.CHANGE_LOG_INTERVAL_MS, () => this.tick());
  }

  onModuleDestroy(): void {
    this.stop?.();
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
}
