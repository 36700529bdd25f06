import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Optional } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { settlesWithin } from '@deidflow/common';
import { JobRepository, JobState, ObjectDeletionRepository, ResourceRepository } from '@deidflow/database';
import { QueueName } from '@deidflow/queue';
import { WorkerMetrics } from '../../../worker/src/metrics/worker-metrics';
import { RequestBodyBudget } from '../http/request-body-budget';

const MEGA_BYTES = 1024 * 1024;
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;
const QUEUE_COUNTS_TIMEOUT_MS = 2000;

/**
 * Orthanc's `/tools/metrics-prometheus`: its index and job metrics under Orthanc's names (so that
 * existing dashboards work), plus the API process's own (`deidflow_api_*`, prom-client's defaults)
 * and the depth of the work queue shared with the workers. Index, job and queue figures are read
 * at scrape time: every API process reports the same values, whichever one is scraped.
 */
@Injectable()
export class MetricsService {
  private readonly registry = new Registry();
  private readonly startedAt = Date.now();

  constructor(
    private readonly resources: ResourceRepository,
    private readonly jobs: JobRepository,
    private readonly objectDeletions: ObjectDeletionRepository,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
    private readonly bodies: RequestBodyBudget,
    /** Present when the worker is embedded (EMBEDDED_WORKER): its figures are served here too. */
    @Optional() private readonly worker?: WorkerMetrics,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'deidflow_api_' });
    const gauge = (name: string, help: string, collect: (this: Gauge) => Promise<void> | void, labelNames: string[] = []) =>
      new Gauge({ name, help, registers: [this.registry], labelNames, collect });
    const services = this;

    gauge('orthanc_up_time_s', 'Seconds since this API process started', function () {
      this.set(Math.floor((Date.now() - services.startedAt) / 1000));
    });
    // One statistics query serves the six index gauges of a scrape (prom-client collects them together),
    // one count by state the four job gauges.
    const statistics = sharedPerScrape(() => this.resources.statistics());
    for (const level of ['patients', 'studies', 'series', 'instances'] as const) {
      gauge(`orthanc_count_${level}`, `Number of ${level} in the index`, async function () {
        this.set((await statistics())[level]);
      });
    }
    for (const name of ['orthanc_disk_size_mb', 'orthanc_uncompressed_size_mb']) {
      gauge(name, 'Size of the stored DICOM files (MB; stored as received, uncompressed)', async function () {
        this.set(Number((await statistics()).totalSize) / MEGA_BYTES);
      });
    }
    const jobsByState = sharedPerScrape(() => this.jobs.countByState());
    const jobCount = async (...states: JobState[]) => {
      const counts = await jobsByState();
      return states.reduce((sum, state) => sum + (counts[state] ?? 0), 0);
    };
    // Orthanc counts Retry and Paused jobs as pending.
    const jobGauges: [string, JobState[]][] = [
      ['orthanc_jobs_pending', [JobState.Pending, JobState.Retry, JobState.Paused]],
      ['orthanc_jobs_running', [JobState.Running]],
      ['orthanc_jobs_success', [JobState.Success]],
      ['orthanc_jobs_failed', [JobState.Failure]],
    ];
    for (const [name, states] of jobGauges) {
      gauge(name, `Jobs in state ${states.join(' or ')}`, async function () {
        this.set(await jobCount(...states));
      });
    }
    gauge(
      'deidflow_queue_tasks',
      'Per-instance tasks in the work queue, by BullMQ state (shared by every worker process)',
      async function () {
        // A stopped Redis holds BullMQ's commands until it is back: the scrape answers without these.
        let counts: Record<string, number> | undefined;
        const read = services.queue.getJobCounts(...QUEUE_STATES).then((c) => (counts = c), () => undefined);
        this.reset();
        if (!(await settlesWithin(read, QUEUE_COUNTS_TIMEOUT_MS)) || !counts) return;
        for (const state of QUEUE_STATES) this.set({ state }, counts[state] ?? 0);
      },
      ['state'],
    );
    gauge(
      'deidflow_object_deletions_pending',
      'Files of deleted instances not yet deleted from the object store (in flight, or left to the workers\' sweep)',
      async function () {
        this.set(await services.objectDeletions.pendingCount());
      },
    );
    gauge('deidflow_api_request_bodies_bytes', 'Memory reserved by request bodies being received or handled (HTTP_BODIES_MEMORY_LIMIT)', function () {
      this.set(services.bodies.reserved);
    });
    gauge('deidflow_api_requests_waiting_for_memory', 'Requests whose body waits for room under HTTP_BODIES_MEMORY_LIMIT', function () {
      this.set(services.bodies.waitingRequests);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async metrics(): Promise<string> {
    const api = await this.registry.metrics();
    return this.worker ? `${api}\n${await this.worker.registry.metrics()}` : api;
  }
}

/** `load`, run once for the gauges collected together in one scrape: callers within it share the answer. */
function sharedPerScrape<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= load().finally(() => setImmediate(() => (pending = undefined))));
}
