import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger, OnModuleDestroy } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { JobCounters, JobRepository, QueueWindow } from '@deidflow/database';
import {
  EXPAND_JOB_BULL_PRIORITY,
  expandJobId,
  finalizeJobId,
  JobName,
  PROCESS_INSTANCE_ATTEMPTS,
  PROCESS_INSTANCE_BACKOFF,
  processInstanceJobId,
  QueueName,
  toBullPriority,
} from '@deidflow/queue';

// Small chunks, one at a time: the workers add most windows, and BullMQ's objects for a chunk (a few
// kB a task) then die young instead of surviving the round trip into the old generation, where
// 500 x 4 in flight grew a busy worker's RSS by up to 150 MB between major GCs (thirteenth session).
const ADD_BULK_CHUNK = 100;

/** Dispatches a process asks for (after completions) start at least this far apart; requests meanwhile join the next. */
const DISPATCH_INTERVAL_MS = 100;

/**
 * Turns the PENDING rows of jobs into BullMQ jobs. Postgres is the source of truth; BullMQ jobs are
 * triggers: their IDs are deterministic per (job, instance, generation), so enqueueing the same
 * work twice (recovery, a retried submission) adds nothing, and a stale generation is skipped.
 *
 * Redis holds a bounded part of the work: each queued task takes ~1.3 kB, and a million queued
 * tasks (a million-instance job, or 2,000 study jobs submitted together) took 1.3 GB. A job is
 * queued a window at a time (QUEUE_WINDOW_PER_JOB), the next once half a window or less is left,
 * and the windows of all jobs together stay within QUEUE_MAX_TASKS: past it, jobs wait for room,
 * served by priority then in submission order (JobRepository.dispatchQueueWindows). A dispatch
 * fills the room; it runs at a submission (and recovery, resume, resubmit), when a job runs low
 * or ends, and after completions while jobs wait for room.
 */
@Injectable()
export class JobEnqueuer implements OnModuleDestroy {
  private readonly logger = new Logger(JobEnqueuer.name);
  /** Enqueueing not awaited by its caller (a submission, a requested dispatch); shutdown waits for it (before the queue closes). */
  private readonly enqueuing = new Set<Promise<void>>();
  private readonly window: number;
  private readonly maxQueued: number;
  /** A requested dispatch that has not started yet: requests join it. */
  private requested?: Promise<void>;
  /** The latest requested dispatch: the next one starts after it. */
  private latest: Promise<void> = Promise.resolve();
  private lastDispatchAt = -Infinity;
  /** The last dispatch from here left jobs waiting for room: completions, which make room, ask for another. */
  private starved = false;

  constructor(
    private readonly jobs: JobRepository,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'QUEUE_WINDOW_PER_JOB' | 'QUEUE_MAX_TASKS'>,
  ) {
    this.window = config.QUEUE_WINDOW_PER_JOB;
    this.maxQueued = config.QUEUE_MAX_TASKS;
    // Without a listener BullMQ prints every Redis connection error as a raw stack trace (not a log line).
    queue.on('error', (err) => this.logger.warn({ err: err.message }, 'queue: Redis connection error'));
  }

  /**
   * Starts a new pass over the PENDING instances of the job from the first (a submission, resume,
   * resubmit), and dispatches. Returns how many of the job's instances were queued: 0 when nothing
   * is left, the job is not running, or it waits for room in the queue.
   */
  async enqueuePending(jobId: string): Promise<number> {
    return (await this.enqueuePendingOf([jobId])).get(jobId) ?? 0;
  }

  /**
   * enqueuePending, and the finalize at once when nothing is left to do (a resume or resubmit after
   * the last instance, a job of no instance): what a job that becomes runnable again needs.
   */
  async enqueuePendingOrFinalize(jobId: string, priority: number): Promise<void> {
    await this.enqueuePending(jobId);
    const counters = await this.jobs.counters(jobId);
    if (counters && counters.processedCount + counters.failedCount >= counters.instancesCount) {
      await this.enqueueFinalize(jobId, counters.generation, priority);
    }
  }

  /** enqueuePending for several jobs (recovery), with one dispatch. Instances queued per job. */
  async enqueuePendingOf(jobIds: string[]): Promise<Map<string, number>> {
    if (jobIds.length > 0) await this.jobs.restartQueuePasses(jobIds);
    const queued = new Map<string, number>();
    for (const window of await this.dispatch()) queued.set(window.jobId, (queued.get(window.jobId) ?? 0) + window.sourceInstanceIds.length);
    return queued;
  }

  /**
   * enqueuePending without waiting: a submitted job is durable once its rows are in Postgres, so its
   * answer need not wait for the queue. Workers start on the first chunks meanwhile. If this fails
   * or the process dies, the job stops moving and job recovery enqueues what is PENDING.
   */
  enqueuePendingLater(jobId: string): void {
    const startedAt = performance.now();
    this.inBackground(
      this.enqueuePending(jobId).then(
        (added) => this.logger.log({ jobId, added, ms: Math.round(performance.now() - startedAt) }, 'job enqueued'),
        (err: Error) =>
          this.logger.warn({ jobId, err: err.message }, 'enqueueing a submitted job failed; job recovery will enqueue its pending work'),
      ),
    );
  }

  /**
   * After instances of a job completed (`counters` as the completion left them): asks for a dispatch
   * when the job has half a window or less queued and more to do, when it has ended (its room is
   * free), or while jobs wait for room. A failure is logged: a job left without queued work stops
   * moving, and recovery takes over.
   */
  afterProgress(counters: JobCounters): void {
    const done = counters.processedCount + counters.failedCount;
    const low = counters.queuedCount < counters.instancesCount && counters.queuedCount - done <= this.window / 2;
    if (this.starved || (counters.ready && (low || done >= counters.instancesCount))) this.requestDispatch();
  }

  /** A dispatch soon, without waiting: one at a time from this process, DISPATCH_INTERVAL_MS apart; requests meanwhile join the next. */
  requestDispatch(): void {
    if (this.requested) return;
    const previous = this.latest;
    const next = (async () => {
      await previous;
      const wait = this.lastDispatchAt + DISPATCH_INTERVAL_MS - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
      this.requested = undefined;
      this.lastDispatchAt = performance.now();
      await this.dispatch().catch((err: Error) =>
        this.logger.warn({ err: err.message }, 'queueing the next windows of jobs failed; job recovery will take over'),
      );
    })();
    this.requested = next;
    this.latest = next;
    this.inBackground(next);
  }

  /**
   * Claims windows for the jobs that need one, within the queue's room, and adds them to the queue.
   * A window that could not be added leaves its job without queued work: recovery queues it again.
   */
  async dispatch(): Promise<QueueWindow[]> {
    const { windows, starved } = await this.jobs.dispatchQueueWindows(this.window, this.maxQueued);
    this.starved = starved;
    let failure: Error | undefined;
    for (const window of windows) await this.add(window).catch((err: Error) => (failure ??= err));
    if (failure) throw failure;
    return windows;
  }

  private async add({ jobId, generation, priority, sourceInstanceIds }: QueueWindow): Promise<void> {
    const opts = { priority: toBullPriority(priority), attempts: PROCESS_INSTANCE_ATTEMPTS, backoff: PROCESS_INSTANCE_BACKOFF };
    for (let start = 0; start < sourceInstanceIds.length; start += ADD_BULK_CHUNK) {
      await this.queue.addBulk(
        sourceInstanceIds.slice(start, start + ADD_BULK_CHUNK).map((sourceInstanceId) => ({
          name: JobName.ProcessInstance,
          data: { jobId, sourceInstanceId, generation },
          opts: { ...opts, jobId: processInstanceJobId(jobId, sourceInstanceId, generation) },
        })),
      );
    }
  }

  private inBackground(work: Promise<void>): void {
    this.enqueuing.add(work);
    void work.finally(() => this.enqueuing.delete(work));
  }

  /**
   * Work being enqueued at shutdown is finished, not left to recovery's next interval. Nest destroys
   * JobsModule before DatabaseModule (imported first), and queues close later still.
   */
  async onModuleDestroy(): Promise<void> {
    await Promise.all(this.enqueuing);
  }

  /** The number of enqueuePendingLater calls and requested dispatches not finished yet. */
  get enqueuingCount(): number {
    return this.enqueuing.size;
  }

  /** A worker is to add the job's instance rows (JobExpansionService.expand). A no-op while one is queued or under way. */
  async enqueueExpansion(jobId: string): Promise<void> {
    await this.queue.add(
      JobName.ExpandJob,
      { jobId },
      { jobId: expandJobId(jobId), priority: EXPAND_JOB_BULL_PRIORITY, attempts: PROCESS_INSTANCE_ATTEMPTS, backoff: PROCESS_INSTANCE_BACKOFF },
    );
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
