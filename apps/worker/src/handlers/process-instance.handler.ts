import { Inject, Injectable, Logger } from '@nestjs/common';
import { BufferPool, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { InstanceContext, JobCounters, JobRepository, JobState, StoredObject } from '@deidflow/database';
import { DerivedInstance, ParsedInstance } from '@deidflow/dicom';
import { JobEnqueuer } from '@deidflow/jobs';
import type { ProcessInstancePayload } from '@deidflow/queue';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';
import { WorkerMetrics } from '../metrics/worker-metrics';
import { CompletionBatcher } from './completion-batcher';
import { InstanceMemoryBudget } from './instance-memory-budget';
import { ModalityStoreHandler } from './modality-store.handler';
import { JobPlan, PlanCache } from './plan-cache';

const ACTIVE: JobState[] = [JobState.Pending, JobState.Running, JobState.Retry];

/**
 * One source instance of a job: read it, apply the plan, store the result, record lineage, count it.
 * Safe under at-least-once delivery: the output's ID and object key derive from the job secret, the
 * index and metadata writes are idempotent, and the counter moves only when the row leaves PENDING.
 * Two database round trips per instance at most: the context with the source's row, then the
 * statement that indexes the output and completes the instance, shared with the instances that
 * finish at the same time (CompletionBatcher).
 */
@Injectable()
export class ProcessInstanceHandler {
  private readonly logger = new Logger(ProcessInstanceHandler.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly store: InstanceStoreService,
    private readonly plans: PlanCache,
    private readonly completions: CompletionBatcher,
    private readonly enqueuer: JobEnqueuer,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
    private readonly buffers: BufferPool,
    private readonly memory: InstanceMemoryBudget,
    private readonly metrics: WorkerMetrics,
    private readonly modalityStore: ModalityStoreHandler,
  ) {
    // Large sources and results come back job after job: their memory is kept, as much as the
    // instances may hold (fresh pages cost ~90 ms per 33 MB buffer on these VMs, BENCHMARKS.md).
    buffers.keepLargeBuffers(memory.capacity);
  }

  /** `isLastAttempt`: a transient failure on the last try counts as a failed instance. */
  async handle(payload: ProcessInstancePayload, isLastAttempt: boolean): Promise<void> {
    const { jobId, sourceInstanceId } = payload;
    const startedAt = performance.now();
    const context = await this.jobs.instanceContext(jobId, sourceInstanceId);
    // Deleted, canceled, paused or resubmitted since this was queued, or already done: nothing to do.
    if (!context || context.generation !== payload.generation || !ACTIVE.includes(context.state)) {
      this.metrics.instanceDone('skipped');
      return;
    }
    if (context.instanceState !== 'PENDING') {
      // Already done: a redelivery after the completion committed but before the finalize was
      // enqueued (worker killed, connection lost at COMMIT). Enqueueing it again is harmless.
      this.metrics.instanceDone('skipped');
      await this.afterInstance(jobId, context, context.priority);
      return;
    }
    if (context.state === JobState.Pending) await this.jobs.markRunning(jobId);

    let counters: JobCounters | null;
    try {
      counters = await this.derive(payload, context.source);
      this.metrics.instanceDone(counters ? 'processed' : 'skipped', startedAt);
    } catch (err) {
      const permanent = err instanceof OrthancError && err.isPermanent;
      if (!permanent && !isLastAttempt) {
        // BullMQ retries with backoff. The message names services and codes, not DICOM values.
        this.logger.warn({ jobId, sourceInstanceId, err: (err as Error).message }, 'instance will be retried');
        this.metrics.instanceDone('retried');
        throw err;
      }
      const reason = err instanceof OrthancError ? (err.details ?? err.message) : 'Internal error';
      const errorCode = err instanceof OrthancError ? err.code : OrthancErrorCode.InternalError;
      this.logger.warn({ jobId, sourceInstanceId, reason, errorCode, permanent }, 'instance failed');
      counters = await this.jobs.completeInstance(jobId, sourceInstanceId, payload.generation, { error: reason, errorCode });
      this.metrics.instanceDone(counters ? 'failed' : 'skipped');
    }
    await this.afterInstance(jobId, counters, context.priority);
  }

  /** Records an instance as failed once (no-op when it already left PENDING). */
  async recordFailure(payload: ProcessInstancePayload, reason: string): Promise<void> {
    const context = await this.jobs.instanceContext(payload.jobId, payload.sourceInstanceId);
    if (!context || context.generation !== payload.generation) return;
    const counters = await this.jobs.completeInstance(payload.jobId, payload.sourceInstanceId, payload.generation, {
      error: `Processing failed: ${reason.slice(0, 200)}`,
      errorCode: OrthancErrorCode.InternalError,
    });
    if (counters) this.metrics.instanceDone('failed');
    await this.afterInstance(payload.jobId, counters, context.priority);
  }

  /** The instance's work: its derived instance stored and indexed, or (a store job) its file sent to a modality. */
  private async derive(payload: ProcessInstancePayload, source: InstanceContext['source']): Promise<JobCounters | null> {
    const { jobId, sourceInstanceId } = payload;
    if (!source) throw deletedSource(sourceInstanceId);
    const plan = await this.plans.get(jobId);
    if (plan.kind === 'store') return this.modalityStore.send(payload, plan.request);
    const { output, object } = await this.rewriteWithinBudget(plan, source, sourceInstanceId);
    const outputIds = output.ids;
    // Orthanc's AnonymizedFrom / ModifiedFrom: on every level whose Orthanc ID changed (SEMANTICS.md A.5).
    const name = plan.request.operation === 'anonymize' ? 'AnonymizedFrom' : 'ModifiedFrom';
    const metadata = [{ resourceId: outputIds.instance, name, value: sourceInstanceId }];
    for (const level of ['series', 'study', 'patient'] as const) {
      if (outputIds[level] !== source.ancestors[level]) {
        metadata.push({ resourceId: outputIds[level], name, value: source.ancestors[level] });
      }
    }
    // Usually the output is new: indexed in the same statement that completes the instance.
    return this.completions.complete({
      jobId,
      sourceInstanceId,
      outputInstanceId: outputIds.instance,
      operation: plan.request.operation,
      requestDigest: plan.digest,
      metadata,
      stored: object ? { parsed: output, object } : undefined,
    });
  }

  /**
   * rewrite(), once the memory of its source and result fits within WORKER_INSTANCES_MEMORY_LIMIT.
   */
  private async rewriteWithinBudget(plan: JobPlan, source: NonNullable<InstanceContext['source']>, sourceInstanceId: string) {
    const reserved = await this.memory.reserve(this.buffers.rewriteMemory(source.fileSize));
    try {
      return await this.rewrite(plan, source.objectKey, sourceInstanceId);
    } finally {
      this.memory.release(reserved);
    }
  }

  /**
   * The source read, rewritten by the plan, and the result stored. Both buffers are pooled memory,
   * handed back once used: the source after the rewrite, the result once written and hashed
   * (ParsedInstance holds strings only, nothing refers to these bytes afterwards).
   */
  private async rewrite(plan: JobPlan, objectKey: string, sourceInstanceId: string): Promise<{ output: ParsedInstance; object: StoredObject | null }> {
    const bytes = await this.storage.get(objectKey, this.buffers.acquire).catch((err: unknown) => {
      throw err instanceof OrthancError && err.code === OrthancErrorCode.InexistentFile ? deletedSource(sourceInstanceId) : err;
    });
    let derived: DerivedInstance;
    try {
      derived = plan.modification.derive(bytes, this.buffers.acquire);
    } finally {
      this.buffers.release(bytes);
    }
    const { file, parsed: output } = derived;
    try {
      if (output.ids.instance === sourceInstanceId) {
        // Same identifiers: the result would replace its own source. Orthanc needs OverwriteInstances
        // for that; DeidFlow never overwrites a stored instance.
        throw OrthancError.badRequest(
          `The modification keeps every identifier of instance ${sourceInstanceId}: its result would overwrite the source`,
        );
      }
      const object = await this.store.writeObject(Buffer.from(file.buffer, file.byteOffset, file.byteLength), output);
      return { output, object };
    } finally {
      this.buffers.release(file);
    }
  }

  /** The job moved: the queue gets its next windows (or another job's) as it runs low, and it is finalized after its last instance. */
  private async afterInstance(jobId: string, counters: JobCounters | null, priority: number): Promise<void> {
    if (!counters) return;
    this.enqueuer.afterProgress(counters);
    if (counters.ready && counters.processedCount + counters.failedCount >= counters.instancesCount) {
      await this.enqueuer.enqueueFinalize(jobId, counters.generation, priority);
    }
  }
}

function deletedSource(sourceInstanceId: string): OrthancError {
  return new OrthancError(OrthancErrorCode.UnknownResource, `Source instance ${sourceInstanceId} was deleted while the job ran`);
}
