import { Injectable, Logger } from '@nestjs/common';
import { OrthancErrorCode, ResourceLevel } from '@deidflow/common';
import { ResourceDeletionService } from '@deidflow/core';
import { JobRepository, JobState, LabelRepository, Prisma } from '@deidflow/database';
import { JobEventsService, MODALITY_STORE_JOB, singleOutput } from '@deidflow/jobs';
import type { FinalizeJobPayload } from '@deidflow/queue';

const ERROR_DETAILS_LIMIT = 20;

/**
 * The end of a job, once all its instances are done: the output Orthanc answers (the new resource,
 * or every new resource for bulk jobs), the final state, the labels of the sources copied to the
 * outputs with KeepLabels, the deletion of the sources when KeepSource is false (only after
 * success), and the announcement to waiting REST calls.
 */
@Injectable()
export class FinalizeJobHandler {
  private readonly logger = new Logger(FinalizeJobHandler.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly deletion: ResourceDeletionService,
    private readonly events: JobEventsService,
    private readonly labels: LabelRepository,
  ) {}

  async handle(payload: FinalizeJobPayload): Promise<void> {
    const job = await this.jobs.find(payload.jobId);
    // A paused job is finished by its resume (which enqueues the finalize again), not behind the user's back.
    const settled: JobState[] = [JobState.Success, JobState.Failure, JobState.Paused];
    if (!job || job.generation !== payload.generation || settled.includes(job.state)) return;
    if (!job.ready || job.processedCount + job.failedCount < job.instancesCount) return;

    // A bulk job's output lists every new resource: Postgres writes it (finish), it never comes here.
    // A store's was written at its submission, and it has nothing else to do at its end.
    const isStore = job.type === MODALITY_STORE_JOB;
    const output = isStore ? (job.output as Prisma.InputJsonValue) : job.level === 'Bulk' ? 'bulk' : singleOutput(job.level as ResourceLevel, await this.jobs.anyOutput(job.id));
    const failed = job.failedCount > 0 && !job.permissive;
    let errorDetails = '';
    let errorCode = 0;
    if (failed) {
      const failures = await this.jobs.failedInstances(job.id, ERROR_DETAILS_LIMIT);
      // Orthanc's job takes the error of its first failed instance.
      errorCode = failures[0]?.errorCode ?? OrthancErrorCode.InternalError;
      errorDetails =
        `${job.failedCount} of ${job.instancesCount} instances failed: ` +
        failures.map((f) => `${f.sourceInstanceId} (${f.error ?? 'unknown error'})`).join('; ') +
        (job.failedCount > failures.length ? '; ...' : '');
    }
    // Before the sources may go: their labels are what is copied.
    if (!isStore && (job.request as { keepLabels?: boolean }).keepLabels) await this.labels.copyToOutputsOfJob(job.id);
    if (!isStore && !failed && !job.keepSource) await this.deleteSources(job.id);
    const finished = await this.jobs.finish(job.id, job.generation, {
      state: failed ? JobState.Failure : JobState.Success,
      output,
      errorCode,
      errorDetails,
    });
    if (finished) {
      this.logger.log({ jobId: job.id, state: failed ? 'Failure' : 'Success', instances: job.instancesCount, failed: job.failedCount }, 'job finished');
      await this.events.publishEnded({ jobId: job.id, state: failed ? JobState.Failure : JobState.Success });
    }
  }

  /**
   * KeepSource: false — after success only, and never an instance that is also an output
   * (JobRepository.sourcesToDelete); a statement per batch of sources. A finalize that dies half-way
   * is run again and goes on with the sources left.
   */
  private async deleteSources(jobId: string): Promise<void> {
    for await (const sources of this.jobs.sourcesToDelete(jobId)) await this.deletion.deleteResources('Instance', sources);
  }
}
