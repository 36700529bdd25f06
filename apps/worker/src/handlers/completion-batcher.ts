import { Injectable } from '@nestjs/common';
import { InstanceCompletion, JobCounters, JobRepository, retryOnRace } from '@deidflow/database';
import { WorkerMetrics } from '../metrics/worker-metrics';

/** At most this many instances per completion statement (its arrays grow with it; a batch is ~8 at the default concurrency of 32). */
const MAX_BATCH = 64;

interface Waiting {
  completion: InstanceCompletion;
  resolve: (counters: JobCounters | null) => void;
  reject: (err: unknown) => void;
}

/**
 * Group commit of the worker's completions: while one completion statement is in flight, the
 * instances that finish meanwhile wait, and the next statement records them all. A lone instance
 * is written at once (no timer, no added latency); under load, one statement, one transaction and
 * one WAL flush serve several instances, and the job's counter row is locked once per batch
 * instead of once per instance.
 *
 * Every instance still waits for the commit of its own row before its BullMQ job completes, so a
 * worker killed mid-batch loses nothing: the uncommitted instances are delivered again.
 */
@Injectable()
export class CompletionBatcher {
  private waiting: Waiting[] = [];
  private flushing = false;

  constructor(
    private readonly jobs: JobRepository,
    private readonly metrics: WorkerMetrics,
  ) {}

  /** The job's counters after this instance moved out of PENDING, or null when it had already moved (a repeat). */
  complete(completion: InstanceCompletion): Promise<JobCounters | null> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ completion, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  /** Instances waiting for the next statement (0 at rest). */
  get waitingCount(): number {
    return this.waiting.length;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, MAX_BATCH);
        try {
          await this.write(batch);
        } catch (err) {
          if (batch.length === 1) batch[0].reject(err);
          // One bad instance must not fail its neighbours: each is tried alone, and fails alone.
          else for (const one of batch) await this.write([one]).catch(one.reject);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: Waiting[]): Promise<void> {
    const counters = await retryOnRace(() => this.jobs.completeInstances(batch.map((w) => w.completion)));
    this.metrics.completionsRecorded(batch.length);
    for (const { completion, resolve } of batch) {
      const job = counters.get(completion.jobId);
      resolve(job?.moved.includes(completion.sourceInstanceId) ? job : null);
    }
  }
}
