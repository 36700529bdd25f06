import { Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { InstanceMemoryBudget } from '../handlers/instance-memory-budget';

/** What became of one delivery of a per-instance task. */
export type InstanceOutcome = 'processed' | 'failed' | 'retried' | 'skipped';

/**
 * The worker's own figures: what each process did with the tasks it took, and how its completions
 * were grouped. Served by WorkerMetricsServer (a worker process, `/metrics`), or with the API's
 * `/tools/metrics-prometheus` when the worker is embedded.
 */
@Injectable()
export class WorkerMetrics {
  readonly registry = new Registry();

  private readonly instances = new Counter({
    name: 'deidflow_worker_instances_total',
    help: 'Per-instance tasks by outcome: processed, failed (for good), retried (handed back to the queue), skipped (stale or already done)',
    labelNames: ['outcome'],
    registers: [this.registry],
  });

  private readonly instanceSeconds = new Histogram({
    name: 'deidflow_worker_instance_seconds',
    help: 'Time to read, rewrite, store and record one instance',
    buckets: [0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
    registers: [this.registry],
  });

  private readonly completionBatch = new Histogram({
    name: 'deidflow_worker_completion_batch_size',
    help: 'Instances recorded by one completion statement (group commit)',
    buckets: [1, 2, 4, 8, 16, 32, 64],
    registers: [this.registry],
  });

  private readonly orphans = new Counter({
    name: 'deidflow_store_orphan_objects_deleted_total',
    help: 'Instance files that no index row pointed to, deleted by this process\'s sweeps (STORE_ORPHAN_SWEEP_INTERVAL_MS): each one a write whose indexing never came',
    registers: [this.registry],
  });

  constructor(memory: InstanceMemoryBudget) {
    for (const outcome of ['processed', 'failed', 'retried', 'skipped'] as const) this.instances.inc({ outcome }, 0);
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          this.set(value());
        },
      });
    gauge('deidflow_worker_instances_memory_bytes', 'Memory reserved by the instances this worker holds (WORKER_INSTANCES_MEMORY_LIMIT)', () => memory.reserved);
    gauge('deidflow_worker_instances_waiting_for_memory', 'Instances whose processing waits for room under WORKER_INSTANCES_MEMORY_LIMIT', () => memory.waitingCount);
  }

  instanceDone(outcome: InstanceOutcome, startedAt?: number): void {
    this.instances.inc({ outcome });
    if (startedAt !== undefined && outcome === 'processed') this.instanceSeconds.observe((performance.now() - startedAt) / 1000);
  }

  orphansDeleted(count: number): void {
    this.orphans.inc(count);
  }

  completionsRecorded(batchSize: number): void {
    this.completionBatch.observe(batchSize);
  }
}
