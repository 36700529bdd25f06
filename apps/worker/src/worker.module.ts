import { Module } from '@nestjs/common';
import { ChangeLogMonitor } from './handlers/change-log-monitor';
import { CompletionBatcher } from './handlers/completion-batcher';
import { FinalizeJobHandler } from './handlers/finalize-job.handler';
import { InstanceMemoryBudget } from './handlers/instance-memory-budget';
import { JobRecoveryService } from './handlers/job-recovery.service';
import { JobRetentionService } from './handlers/job-retention.service';
import { ObjectDeletionSweeper } from './handlers/object-deletion-sweeper';
import { OrphanObjectSweeper } from './handlers/orphan-object-sweeper';
import { PlanCache } from './handlers/plan-cache';
import { AssociationPool } from './handlers/association-pool';
import { ModalityStoreHandler } from './handlers/modality-store.handler';
import { ProcessInstanceHandler } from './handlers/process-instance.handler';
import { WorkerMetrics } from './metrics/worker-metrics';
import { ModificationProcessor } from './modification.processor';

/**
 * BullMQ processors and their handlers. Imported by apps/worker's own process, and by the API
 * when EMBEDDED_WORKER is on. Needs the infrastructure modules (config, database, storage, queue,
 * core, jobs) from the importing application.
 */
@Module({
  providers: [ModificationProcessor, ProcessInstanceHandler, ModalityStoreHandler, AssociationPool, CompletionBatcher, InstanceMemoryBudget, FinalizeJobHandler, PlanCache, JobRecoveryService, JobRetentionService, ObjectDeletionSweeper, OrphanObjectSweeper, ChangeLogMonitor, WorkerMetrics],
  exports: [WorkerMetrics],
})
export class WorkerModule {}
