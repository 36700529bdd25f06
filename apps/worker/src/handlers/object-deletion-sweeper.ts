import { Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { ResourceDeletionService } from '@deidflow/core';

const SWEEP_EVERY_MS = 5 * 60_000;

/**
 * Deletes the files that a deletion left queued (ResourceDeletionService): a process killed between
 * the index's statement and the store, or a store that refused the deletion. Every worker sweeps;
 * they share the work.
 */
@Injectable()
export class ObjectDeletionSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ObjectDeletionSweeper.name);
  private timer?: NodeJS.Timeout;

  constructor(private readonly deletion: ResourceDeletionService) {}

  onApplicationBootstrap(): void {
    void this.sweep();
    this.timer = setInterval(() => void this.sweep(), SWEEP_EVERY_MS);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    clearInterval(this.timer);
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
