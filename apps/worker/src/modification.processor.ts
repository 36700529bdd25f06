import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Inject, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import type { Job } from 'bullmq';
import { FinalizeJobPayload, JobName, ProcessInstancePayload, QueueName } from '@deidflow/queue';
import { FinalizeJobHandler } from './handlers/finalize-job.handler';
import { ProcessInstanceHandler } from './handlers/process-instance.handler';

/** The processor of the modification queue: dispatches each BullMQ job to its handler by name. */
@Processor(QueueName.Modification)
export class ModificationProcessor extends WorkerHost implements OnApplicationBootstrap {
  private readonly logger = new Logger(ModificationProcessor.name);

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly processInstance: ProcessInstanceHandler,
    private readonly finalizeJob: FinalizeJobHandler,
  ) {
    super();
  }

  onApplicationBootstrap(): void {
    this.worker.concurrency = this.config.WORKER_CONCURRENCY;
  }

  async process(job: Job): Promise<void> {
    switch (job.name) {
      case JobName.ProcessInstance:
        return this.processInstance.handle(job.data as ProcessInstancePayload, job.attemptsMade + 1 >= (job.opts.attempts ?? 1));
      case JobName.FinalizeJob:
        return this.finalizeJob.handle(job.data as FinalizeJobPayload);
      default:
        this.logger.warn({ name: job.name }, 'unknown job name: ignored');
    }
  }
}
