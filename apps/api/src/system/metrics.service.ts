import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Optional } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { collectDefaultMetrics, Gauge, Registry } from 'prom-client';
import { settlesWithin } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { JobRepository, JobState, ObjectDeletionRepository, ResourceRepository } from '@deidflow/database';
import { QueueName } from '@deidflow/queue';
import { WorkerMetrics } from '../../../worker/src/metrics/worker-metrics';
import { HEALTH_PROBE_TIMEOUT_MS } from '../health/health.controller';
import { RequestBodyBudget } from '../http/request-body-budget';

const MEGA_BYTES = 1024 * 1024;
const QUEUE_STATES = ['waiting', 'prioritized', 'active', 'delayed', 'failed'] as const;

/**
 * Orthanc's `/tools/metrics-prometheus`: its index and job metrics under Orthanc's names (so that
 * existing dashboards work), plus the API process's own (`deidflow_api_*`, prom-client's defaults)
 * and the depth of the work queue shared with the workers. Index, job and queue figures are read
 * at scrape time: every API process reports the same values, whichever one is scraped. With
 * Postgres or Redis down the scrape still answers, without the figures read from it, and
 * `deidflow_dependency_up` says which.
 */
@Injectable()
export class MetricsService {
  private readonly registry = new Registry();
  /** The figures read from Postgres: collected apart, so that the scrape can go on without them. */
  private readonly indexRegistry = new Registry();
  private readonly dependencyUp: Gauge;
  private readonly queueTasks: Gauge;
  private readonly startedAt = Date.now();

  constructor(
    private readonly resources: ResourceRepository,
    private readonly jobs: JobRepository,
    private readonly objectDeletions: ObjectDeletionRepository,
    @InjectQueue(QueueName.Modification) private readonly queue: Queue,
    private readonly bodies: RequestBodyBudget,
    @Inject(APP_CONFIG) config: Pick<AppConfig, 'QUEUE_MAX_TASKS'>,
    /** Present when the worker is embedded (EMBEDDED_WORKER): its figures are served here too. */
    @Optional() private readonly worker?: WorkerMetrics,
  ) {
    collectDefaultMetrics({ register: this.registry, prefix: 'deidflow_api_' });
    const gauge = (name: string, help: string, collect: (this: Gauge) => Promise<void> | void, registry = this.registry) =>
      new Gauge({ name, help, registers: [registry], collect });
    const indexGauge = (name: string, help: string, collect: (this: Gauge) => Promise<void>) => gauge(name, help, collect, this.indexRegistry);
    const services = this;
    this.dependencyUp = new Gauge({
      name: 'deidflow_dependency_up',
      help: 'Whether the service answered this scrape in time (1) or not (0): its figures are absent then',
      labelNames: ['service'],
      registers: [this.registry],
    });

    gauge('orthanc_up_time_s', 'Seconds since this API process started', function () {
      this.set(Math.floor((Date.now() - services.startedAt) / 1000));
    });
    // One statistics query serves the six index gauges of a scrape (prom-client collects them together),
    // one count by state the four job gauges.
    const statistics = sharedPerScrape(() => this.resources.statistics());
    for (const level of ['patients', 'studies', 'series', 'instances'] as const) {
      indexGauge(`orthanc_count_${level}`, `Number of ${level} in the index`, async function () {
        this.set((await statistics())[level]);
      });
    }
    for (const name of ['orthanc_disk_size_mb', 'orthanc_uncompressed_size_mb']) {
      indexGauge(name, 'Size of the stored DICOM files (MB; stored as received, uncompressed)', async function () {
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
      indexGauge(name, `Jobs in state ${states.join(' or ')}`, async function () {
        this.set(await jobCount(...states));
      });
    }
    this.queueTasks = new Gauge({
      name: 'deidflow_queue_tasks',
      help: 'Per-instance tasks in the work queue, by BullMQ state (shared by every worker process)',
      labelNames: ['state'],
      registers: [this.registry],
    });
    const occupancy = sharedPerScrape(() => this.jobs.queueOccupancy());
    indexGauge('deidflow_queue_claimed_tasks', 'Per-instance tasks claimed for the work queue and not done, across jobs (bounded by QUEUE_MAX_TASKS)', async function () {
      this.set((await occupancy()).queuedTasks);
    });
    indexGauge('deidflow_jobs_waiting_for_room', 'Jobs with instances left and none in the work queue: waiting for room under QUEUE_MAX_TASKS', async function () {
      this.set((await occupancy()).jobsWaiting);
    });
    indexGauge('deidflow_jobs_being_listed', 'Jobs answered before their instances were listed (large asynchronous submissions): a worker\'s listing is queued or under way', async function () {
      this.set((await services.jobs.unexpandedJobs()).length);
    });
    gauge('deidflow_queue_max_tasks', 'QUEUE_MAX_TASKS: per-instance tasks the work queue holds at most, across jobs', function () {
      this.set(config.QUEUE_MAX_TASKS);
    });
    indexGauge(
      'deidflow_object_deletions_pending',
      'Files of deleted instances not yet deleted from the object store (in flight, or left to the workers\' sweep)',
      async function () {
        this.set(await services.objectDeletions.pendingCount());
      },
    );
    gauge('deidflow_api_request_bodies_bytes', 'Memory reserved by request bodies being received or handled, and by instance-level anonymize/modify calls (HTTP_BODIES_MEMORY_LIMIT)', function () {
      this.set(services.bodies.reserved);
    });
    gauge('deidflow_api_requests_waiting_for_memory', 'Requests whose body, or instance-level anonymize/modify call, waits for room under HTTP_BODIES_MEMORY_LIMIT', function () {
      this.set(services.bodies.waitingCount);
    });
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  async metrics(): Promise<string> {
    const [index, queueCounts] = await Promise.all([
      answerWithin(this.indexRegistry.metrics()),
      answerWithin(this.queue.getJobCounts(...QUEUE_STATES)),
    ]);
    this.dependencyUp.set({ service: 'postgres' }, index === undefined ? 0 : 1);
    this.dependencyUp.set({ service: 'redis' }, queueCounts === undefined ? 0 : 1);
    this.queueTasks.reset();
    for (const state of queueCounts ? QUEUE_STATES : []) this.queueTasks.set({ state }, queueCounts![state] ?? 0);
    const parts = [index ?? '', await this.registry.metrics(), this.worker ? await this.worker.registry.metrics() : ''];
    return parts.filter((part) => part !== '').join('\n');
  }
}

/**
 * What `read` answers within HEALTH_PROBE_TIMEOUT_MS (well inside Prometheus' 10 s scrape timeout);
 * undefined when it failed or the time ran out (it goes on, unheard).
 */
async function answerWithin<T>(read: Promise<T>): Promise<T | undefined> {
  let answer: T | undefined;
  const answered = await settlesWithin(
    read.then((value) => (answer = value)),
    HEALTH_PROBE_TIMEOUT_MS,
  ).catch(() => false);
  return answered ? answer : undefined;
}

/** `load`, run once for the gauges collected together in one scrape: callers within it share the answer. */
function sharedPerScrape<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => (pending ??= load().finally(() => setImmediate(() => (pending = undefined))));
}
