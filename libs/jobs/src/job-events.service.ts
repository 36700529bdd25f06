import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import Redis from 'ioredis';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { jobEventsChannel, redisOptionsFromUrl } from '@deidflow/queue';

export interface JobEndedEvent {
  jobId: string;
  state: string;
}

/**
 * Announces the end of jobs over Redis pub/sub, so that synchronous REST calls wake up at once
 * instead of polling. Waiters also poll Postgres now and then: a missed message (Redis restart,
 * API restart) delays an answer, never loses it.
 */
@Injectable()
export class JobEventsService implements OnModuleDestroy {
  private readonly logger = new Logger(JobEventsService.name);
  private publisher?: Redis;
  private subscriber?: Redis;
  private readonly waiters = new Map<string, Set<() => void>>();
  /** Interrupts every wait: the process is shutting down (its jobs go on without it). */
  private readonly interrupts = new Set<() => void>();
  private readonly channel: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.channel = jobEventsChannel(config.QUEUE_PREFIX);
  }

  /** Jobs that synchronous calls are waiting for (0 once they are answered). */
  get waitedJobs(): number {
    return this.waiters.size;
  }

  async publishEnded(event: JobEndedEvent): Promise<void> {
    this.publisher ??= this.connect();
    await this.publisher.publish(this.channel, JSON.stringify(event));
  }

  /**
   * Resolves when `isFinished()` is true: checked at once, on every announcement for this job,
   * and every `pollMs` in case an announcement was missed.
   */
  async waitFor(jobId: string, isFinished: () => Promise<boolean>, pollMs = 2000): Promise<void> {
    await this.ensureSubscribed();
    if (await isFinished()) return;
    await new Promise<void>((resolve, reject) => {
      let checking = false;
      const check = () => {
        if (checking) return;
        checking = true;
        isFinished()
          .then((done) => {
            if (done) {
              cleanup();
              resolve();
            }
          }, (err) => {
            cleanup();
            reject(err);
          })
          .finally(() => (checking = false));
      };
      const timer = setInterval(check, pollMs);
      const set = this.waiters.get(jobId) ?? new Set();
      set.add(check);
      this.waiters.set(jobId, set);
      const interrupt = () => {
        cleanup();
        reject(
          new OrthancError(
            OrthancErrorCode.InternalError,
            `DeidFlow is restarting; the job goes on: see GET /jobs/${jobId}`,
            503,
          ),
        );
      };
      this.interrupts.add(interrupt);
      const cleanup = () => {
        clearInterval(timer);
        set.delete(check);
        if (set.size === 0) this.waiters.delete(jobId);
        this.interrupts.delete(interrupt);
      };
      check();
    });
  }

  private async ensureSubscribed(): Promise<void> {
    if (this.subscriber) return;
    this.subscriber = this.connect();
    this.subscriber.on('message', (_channel, message) => {
      const { jobId } = JSON.parse(message) as JobEndedEvent;
      this.waiters.get(jobId)?.forEach((wake) => wake());
    });
    await this.subscriber.subscribe(this.channel);
  }

  /** ioredis reconnects by itself; without a listener it prints each error as "Unhandled error event". */
  private connect(): Redis {
    const redis = new Redis(redisOptionsFromUrl(this.config.REDIS_URL));
    redis.on('error', (err: Error) => this.logger.warn({ err: err.message }, 'job events: Redis connection error'));
    return redis;
  }

  async onModuleDestroy(): Promise<void> {
    // Answer the synchronous calls still waiting now: the HTTP server closes only once they are.
    [...this.interrupts].forEach((interrupt) => interrupt());
    await Promise.all([this.publisher?.quit(), this.subscriber?.quit()].map((p) => p?.catch(() => undefined)));
  }
}
