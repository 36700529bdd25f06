import { Module } from '@nestjs/common';
import { BufferPool } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { CompletionBatcher } from './handlers/completion-batcher';
import { FinalizeJobHandler } from './handlers/finalize-job.handler';
import { JobRecoveryService } from './handlers/job-recovery.service';
import { PlanCache } from './handlers/plan-cache';
import { ProcessInstanceHandler } from './handlers/process-instance.handler';
import { ModificationProcessor } from './modification.processor';

/**
 * BullMQ processors and their handlers. Imported by apps/worker's own process, and by the API
 * when EMBEDDED_WORKER is on. Needs the infrastructure modules (config, database, storage, queue,
 * core, jobs) from the importing application.
 */
const MiB = 1024 * 1024;

@Module({
  providers: [
    ModificationProcessor,
    ProcessInstanceHandler,
    CompletionBatcher,
    FinalizeJobHandler,
    PlanCache,
    JobRecoveryService,
    {
      // Two buffers per instance in flight (source, output); objects up to 4 MiB, a typical CT or MR slice.
      provide: BufferPool,
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) =>
        new BufferPool({ maxBytes: 4 * MiB, maxIdleBytes: Math.max(8, 2 * config.WORKER_CONCURRENCY) * MiB }),
    },
  ],
})
export class WorkerModule {}
