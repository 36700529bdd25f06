import { Inject, Injectable, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { OrphanObjectService } from '@deidflow/core';
import { maintenanceClaimKey, redisOptionsFromUrl } from '@deidflow/queue';
import { WorkerMetrics } from '../metrics/worker-metrics';
import { runPeriodically, StopPeriodic } from './periodic';

/** How often a worker asks whether the deployment's sweep is due. */
const CHECK_EVERY_MS = 60 * 60_000;

/**
 * STORE_ORPHAN_SWEEP_INTERVAL_MS: once per interval, one worker of the deployment deletes the
 * store's orphan objects (OrphanObjectService). Listing the store is long on a large one: the
 * workers agree on who does it with a claim in Redis that lasts the interval, so that N workers do
 * not list it N times. A worker dying mid-sweep leaves the rest to the next interval (a sweep is
 * idempotent).
 */
@Injectable()
export class OrphanObjectSweeper implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(OrphanObjectSweeper.name);
  private stop?: StopPeriodic;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly orphans: OrphanObjectService,
    private readonly metrics: WorkerMetrics,
  ) {}

  onApplicationBootstrap(): void {
    const interval = this.config.STORE_ORPHAN_SWEEP_INTERVAL_MS;
    if (interval === 0) return;
    this.stop = runPeriodically(Math.min(interval, CHECK_EVERY_MS), (signal) => this.sweepIfDue(signal));
  }

  /** A sweep under way stops at its next object. */
  async onModuleDestroy(): Promise<void> {
    await this.stop?.(this.config.WORKER_SHUTDOWN_GRACE_MS);
  }

  /** Sweeps when no worker of the deployment claimed the current interval; resolves to whether this one did. */
  async sweepIfDue(signal?: AbortSignal): Promise<boolean> {
    try {
      if (!(await this.claimInterval())) return false;
      const started = Date.now();
      const { examined, deleted } = await this.orphans.deleteOrphans(this.config.STORE_ORPHAN_MIN_AGE_MS, Date.now(), signal);
      this.metrics.orphansDeleted(deleted);
      const log = deleted > 0 ? this.logger.warn.bind(this.logger) : this.logger.log.bind(this.logger);
      log({ examined, deleted, ms: Date.now() - started }, 'store swept for orphan objects (files no index row points to)');
      return true;
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'sweeping the store for orphan objects failed; the next interval tries again');
      return false;
    }
  }

  /** The current interval's sweep, if no worker has it yet (SET NX, expiring with the interval). */
  private async claimInterval(): Promise<boolean> {
    // A connection of its own, for one command an hour: BullMQ's clients are not for other commands.
    const redis = new Redis({ ...redisOptionsFromUrl(this.config.REDIS_URL), lazyConnect: true, maxRetriesPerRequest: 1 });
    redis.on('error', () => undefined); // the command's own failure says it
    try {
      await redis.connect();
      const key = maintenanceClaimKey(this.config.QUEUE_PREFIX, 'orphan-sweep');
      return (await redis.set(key, `${process.pid} ${new Date().toISOString()}`, 'PX', this.config.STORE_ORPHAN_SWEEP_INTERVAL_MS, 'NX')) === 'OK';
    } finally {
      redis.disconnect();
    }
  }
}
