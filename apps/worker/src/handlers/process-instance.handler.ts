import { Inject, Injectable, Logger } from '@nestjs/common';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { InstanceStoreService } from '@deidflow/core';
import { JobRepository, JobState, LineageRepository, MetadataRepository, ResourceRepository } from '@deidflow/database';
import { JobEnqueuer } from '@deidflow/jobs';
import type { ProcessInstancePayload } from '@deidflow/queue';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';
import { PlanCache } from './plan-cache';

const ACTIVE: JobState[] = [JobState.Pending, JobState.Running, JobState.Retry];

/**
 * One source instance of a job: read it, apply the plan, store the result, record lineage, count it.
 * Safe under at-least-once delivery: the output's ID and object key derive from the job secret, the
 * index and metadata writes are idempotent, and the counter moves only when the row leaves PENDING.
 */
@Injectable()
export class ProcessInstanceHandler {
  private readonly logger = new Logger(ProcessInstanceHandler.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly resources: ResourceRepository,
    private readonly metadata: MetadataRepository,
    private readonly lineage: LineageRepository,
    private readonly store: InstanceStoreService,
    private readonly plans: PlanCache,
    private readonly enqueuer: JobEnqueuer,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  /** `isLastAttempt`: a transient failure on the last try counts as a failed instance. */
  async handle(payload: ProcessInstancePayload, isLastAttempt: boolean): Promise<void> {
    const { jobId, sourceInstanceId } = payload;
    const counters = await this.jobs.counters(jobId);
    // Deleted, canceled, paused or resubmitted since this was queued: nothing to do now.
    if (!counters || counters.generation !== payload.generation || !ACTIVE.includes(counters.state)) return;
    if ((await this.jobs.instanceState(jobId, sourceInstanceId)) !== 'PENDING') return;
    if (counters.state === JobState.Pending) await this.jobs.markRunning(jobId);

    let outputInstanceId: string;
    try {
      outputInstanceId = await this.derive(jobId, sourceInstanceId);
    } catch (err) {
      const permanent = err instanceof OrthancError && err.isPermanent;
      if (!permanent && !isLastAttempt) throw err; // BullMQ retries with backoff
      const reason = err instanceof OrthancError ? (err.details ?? err.message) : 'Internal error';
      this.logger.warn({ jobId, sourceInstanceId, reason, permanent }, 'instance failed');
      await this.complete(jobId, sourceInstanceId, { error: reason });
      return;
    }
    await this.complete(jobId, sourceInstanceId, { outputInstanceId });
  }

  /** Records an instance as failed once (no-op when it already left PENDING). */
  async recordFailure(payload: ProcessInstancePayload, reason: string): Promise<void> {
    const counters = await this.jobs.counters(payload.jobId);
    if (!counters || counters.generation !== payload.generation) return;
    await this.complete(payload.jobId, payload.sourceInstanceId, { error: `Processing failed: ${reason.slice(0, 200)}` });
  }

  private async derive(jobId: string, sourceInstanceId: string): Promise<string> {
    const plan = await this.plans.get(jobId);
    const source = await this.resources.findInstance(sourceInstanceId);
    if (!source) {
      throw new OrthancError(OrthancErrorCode.UnknownResource, `Source instance ${sourceInstanceId} was deleted while the job ran`);
    }
    const bytes = await this.storage.get(source.objectKey).catch((err: unknown) => {
      if (err instanceof OrthancError && err.code === OrthancErrorCode.InexistentFile) {
        throw new OrthancError(OrthancErrorCode.UnknownResource, `Source instance ${sourceInstanceId} was deleted while the job ran`);
      }
      throw err;
    });
    const output = plan.modification.apply(bytes);
    const { parsed } = await this.store.store(Buffer.from(output.buffer, output.byteOffset, output.byteLength));
    const outputIds = parsed.ids;
    const operation = plan.request.operation;
    await this.lineage.record({
      outputInstanceId: outputIds.instance,
      sourceInstanceId,
      jobId,
      operation,
      requestDigest: plan.digest,
    });
    // Orthanc's AnonymizedFrom / ModifiedFrom: on every level whose Orthanc ID changed (SEMANTICS.md A.5).
    const sourceIds = await this.resources.ancestorsOfInstance(sourceInstanceId);
    const name = operation === 'anonymize' ? 'AnonymizedFrom' : 'ModifiedFrom';
    const links = [{ resourceId: outputIds.instance, name, value: sourceInstanceId }];
    if (sourceIds) {
      for (const level of ['series', 'study', 'patient'] as const) {
        if (outputIds[level] !== sourceIds[level]) links.push({ resourceId: outputIds[level], name, value: sourceIds[level] });
      }
    }
    await this.metadata.setIfAbsent(links);
    return outputIds.instance;
  }

  private async complete(jobId: string, sourceInstanceId: string, outcome: { outputInstanceId: string } | { error: string }) {
    const counters = await this.jobs.completeInstance(jobId, sourceInstanceId, outcome);
    if (counters?.ready && counters.processedCount + counters.failedCount >= counters.instancesCount) {
      const job = await this.jobs.find(jobId);
      await this.enqueuer.enqueueFinalize(jobId, counters.generation, job?.priority ?? 0);
    }
  }
}
