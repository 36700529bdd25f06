import { Inject, Injectable, Logger } from '@nestjs/common';
import { LEVEL_PATH, OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { JobRepository, JobState, Prisma, ResourceRepository } from '@deidflow/database';
import { JobEventsService } from '@deidflow/jobs';
import type { FinalizeJobPayload } from '@deidflow/queue';
import { OBJECT_STORAGE, ObjectStorage } from '@deidflow/storage';

const ERROR_DETAILS_LIMIT = 20;

/**
 * The end of a job, once all its instances are done: the output Orthanc answers (the new resource,
 * or every new resource for bulk jobs), the final state, the deletion of the sources when
 * KeepSource is false (only after success), and the announcement to waiting REST calls.
 */
@Injectable()
export class FinalizeJobHandler {
  private readonly logger = new Logger(FinalizeJobHandler.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly resources: ResourceRepository,
    private readonly events: JobEventsService,
    @Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage,
  ) {}

  async handle(payload: FinalizeJobPayload): Promise<void> {
    const job = await this.jobs.find(payload.jobId);
    // A paused job is finished by its resume (which enqueues the finalize again), not behind the user's back.
    const settled: JobState[] = [JobState.Success, JobState.Failure, JobState.Paused];
    if (!job || job.generation !== payload.generation || settled.includes(job.state)) return;
    if (!job.ready || job.processedCount + job.failedCount < job.instancesCount) return;

    const outputs = await this.jobs.outputHierarchy(job.id);
    const output = job.level === 'Bulk' ? bulkOutput(outputs) : singleOutput(job.level as ResourceLevel, outputs[0]);
    const failed = job.failedCount > 0 && !job.permissive;
    let errorDetails = '';
    if (failed) {
      const failures = await this.jobs.failedInstances(job.id, ERROR_DETAILS_LIMIT);
      errorDetails =
        `${job.failedCount} of ${job.instancesCount} instances failed: ` +
        failures.map((f) => `${f.sourceInstanceId} (${f.error ?? 'unknown error'})`).join('; ') +
        (job.failedCount > failures.length ? '; ...' : '');
    }
    if (!failed && !job.keepSource) await this.deleteSources(outputs);
    const finished = await this.jobs.finish(job.id, {
      state: failed ? JobState.Failure : JobState.Success,
      output: output as Prisma.InputJsonValue,
      errorCode: failed ? OrthancErrorCode.InternalError : 0,
      errorDetails,
    });
    if (finished) {
      this.logger.log({ jobId: job.id, state: failed ? 'Failure' : 'Success', instances: job.instancesCount, failed: job.failedCount }, 'job finished');
      await this.events.publishEnded({ jobId: job.id, state: failed ? JobState.Failure : JobState.Success });
    }
  }

  /** KeepSource: false — after success only, and never an instance that is also an output. */
  private async deleteSources(outputs: OutputRow[]): Promise<void> {
    const outputIds = new Set(outputs.map((o) => o.instance));
    for (const { source } of outputs) {
      if (outputIds.has(source)) continue;
      const deleted = await this.resources.deleteResource('Instance', source);
      if (deleted) await this.storage.deleteMany(deleted.objectKeys);
    }
  }
}

type OutputRow = { source: string; instance: string; series: string; study: string; patient: string };

/** Orthanc's SingleOutput: the new resource at the level of the route, and its patient. */
function singleOutput(level: ResourceLevel, any: OutputRow | undefined): Record<string, unknown> {
  if (!any) return {};
  const id = { Patient: any.patient, Study: any.study, Series: any.series, Instance: any.instance }[level];
  return { ID: id, Path: `/${LEVEL_PATH[level]}/${id}`, PatientID: any.patient, Type: level };
}

/** Orthanc's MultipleOutputs: every new patient, study, series and instance. */
function bulkOutput(outputs: OutputRow[]): Record<string, unknown> {
  const seen = new Map<string, ResourceLevel>();
  for (const o of outputs) {
    seen.set(o.patient, 'Patient');
    seen.set(o.study, 'Study');
    seen.set(o.series, 'Series');
    seen.set(o.instance, 'Instance');
  }
  return { Resources: [...seen].map(([id, level]) => ({ ID: id, Path: `/${LEVEL_PATH[level]}/${id}`, Type: level })) };
}
