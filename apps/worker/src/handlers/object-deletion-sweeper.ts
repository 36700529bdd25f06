import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { ResourceDeletionService } from '@deidflow/core';
import { runPeriodically, StopPeriodic } from './periodic';

const SWEEP_EVERY_MS = 5 * 60_000;

/**
 * Deletes the files that a deletion left queued (ResourceDeletionService): a process killed between
 * the index's statement and the store, or a store that refused the deletion. Every worker sweeps;
 * they share the work.
 */
@Injectable()
export class ObjectDeletionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ObjectDeletionSweeper.name);
  private stop?: StopPeriodic;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly deletion: ResourceDeletionService,
  ) {}

  onApplicationBootstrap(): void {
    this.stop = runPeriodically(SWEEP_EVERY_MS, () => this.sweep());
  }

  async onModuleDestroy(): Promise<void> {
    await this.stop?.(this.config.WORKER_SHUTDOWN_GRACE_MS);
  }

  async sweep(): Promise<void> {
    try {
      const deleted = await this.deletion.sweepLeftovers();
      if (deleted > 0) this.logger.log({ deleted }, 'files left by interrupted deletions deleted');
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'sweeping the files of deleted instances failed; will try again');
    }
  }
}
