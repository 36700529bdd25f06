import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { settlesWithin } from '@deidflow/common';
import { APP_CONFIG, AppConfig, loadConfig } from '@deidflow/config';
import type { Job } from 'bullmq';
import { JobExpansionService } from '@deidflow/jobs';
import { ExpandJobPayload, FinalizeJobPayload, JobName, ProcessInstancePayload, QueueName } from '@deidflow/queue';
import { FinalizeJobHandler } from './handlers/finalize-job.handler';
import { ProcessInstanceHandler } from './handlers/process-instance.handler';

/** The processor of the modification queue: dispatches each BullMQ job to its handler by name. */
// Decorator options are fixed when the class is defined: read from the environment, like the rest
// of the worker's configuration (validated again at start by AppConfigModule).
const startupConfig = loadConfig();

@Processor(QueueName.Modification, {
  lockDuration: startupConfig.WORKER_LOCK_DURATION_MS,
  stalledInterval: startupConfig.WORKER_STALLED_INTERVAL_MS,
})
export class ModificationProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger(ModificationProcessor.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly processInstance: ProcessInstanceHandler,
    private readonly finalizeJob: FinalizeJobHandler,
    private readonly expansion: JobExpansionService,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.WORKER_CONCURRENCY;
  }

  /**
   * Stop taking jobs and let those in hand finish while Postgres and the store are still connected.
   * @nestjs/bullmq closes the worker only at onApplicationShutdown, after DatabaseModule (a global
   * module, destroyed after this one) has ended its pool: in-flight instances then failed with
   * "Cannot use a pool after calling end on the pool" and waited for a retry.
   *
   * pause() then close(true), not close(): BullMQ's close() never settles when its blocking
   * connection is reconnecting at that moment (it waits for an 'end' event ioredis never emits:
   * taskforcesh/bullmq#4065, #4656), and once begun, every later close(), forced or not and
   * @nestjs/bullmq's included, returns that same promise: the process hung at shutdown. pause() waits
   * for the jobs in hand just as close() does, but within the grace period, and leaves close(true)
   * (which waits for nothing) available. Instances still in hand past the grace period are delivered
   * again once their hold expires: each is idempotent.
   */
  async onModuleDestroy(): Promise<void> {
    const graceMs = this.config.WORKER_SHUTDOWN_GRACE_MS;
    const unfinished = await settlesWithin(this.worker.pause(), graceMs).then(
      (drained) => (drained ? undefined : 'instances still in hand at the end of the grace period'),
      (err: Error) => `pausing failed: ${err.message}`,
    );
    if (unfinished) this.logger.warn({ graceMs, reason: unfinished }, 'closing the worker without waiting any longer');
    await this.worker.close(true);
  }

  async process(job: Job): Promise<void> {
    switch (job.name) {
      case JobName.ProcessInstance:
        return this.processInstance.handle(job.data as ProcessInstancePayload, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      case JobName.FinalizeJob:
        return this.finalizeJob.handle(job.data as FinalizeJobPayload);
      case JobName.ExpandJob:
        return this.expansion.expand((job.data as ExpandJobPayload).jobId);
      default:
        this.logger.warn({ name: job.name }, 'unknown job name: ignored');
    }
  }

  /** Redis connection errors (BullMQ reconnects by itself): a log line, not a raw stack trace on stdout. */
  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.warn({ err: error.message }, 'worker: Redis connection error');
  }

  /**
   * A BullMQ job can also fail outside the handler's own accounting (stalled too often, or the
   * database unreachable on the last attempt): the instance is then recorded as failed here, so
   * that its job still ends; a listing of a job's instances that failed for good fails the job.
   */
  @OnWorkerEvent('failed')
  async onFailed(job: Job | undefined, error: Error): Promise<void> {
    if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return; // BullMQ will try again
    try {
      if (job.name === JobName.ProcessInstance) await this.processInstance.recordFailure(job.data as ProcessInstancePayload, error.message);
      if (job.name === JobName.ExpandJob) await this.expansion.recordFailure((job.data as ExpandJobPayload).jobId, error.message);
    } catch (err) {
      this.logger.error({ err: (err as Error).message, jobId: (job.data as { jobId: string }).jobId, task: job.name }, 'could not record a failure');
    }
  }
}
