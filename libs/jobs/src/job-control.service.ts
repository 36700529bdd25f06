import { Injectable } from '@nestjs/common';
import { isOrthancErrorCode, JsonAnswer, OrthancError, OrthancErrorCode, type ResourceLevel } from '@deidflow/common';
import { JobRepository, JobRow, JobState } from '@deidflow/database';
import { JobEnqueuer } from './job-enqueuer.service';
import { JobEventsService } from './job-events.service';
import { formatJob, isFinished, jobContent, OutputResourcePages, singleOutput } from './job-format';

/**
 * Orthanc's jobs API (JobsRegistry): reads, and the transitions it allows. A refused transition or
 * an unknown job is a 400 for POST actions (Orthanc's RestApiOutput), a 404 for GET/DELETE.
 */
@Injectable()
export class JobControlService {
  constructor(
    private readonly jobs: JobRepository,
    private readonly enqueuer: JobEnqueuer,
    private readonly events: JobEventsService,
  ) {}

  async listIds(): Promise<string[]> {
    return this.jobs.listIds();
  }

  /** Every job as GET /jobs/{id} shows it, oldest first, a page at a time (GET /jobs?expand streams them). */
  async *expandedPages(): AsyncGenerator<JsonAnswer[]> {
    const now = new Date();
    for await (const page of this.jobs.summaryPages()) yield page.map((job) => formatJob(job, this.outputResources(job.id), now));
  }

  /**
   * A synchronous call's answer: waits for the job to end, then its Content; a failed job is the
   * HTTP error of its ErrorCode, as Orthanc's JobsRegistry::SubmitAndWait.
   */
  async contentWhenFinished(jobId: string): Promise<JsonAnswer> {
    await this.events.waitFor(jobId, async () => {
      const state = (await this.jobs.counters(jobId))?.state;
      return state !== undefined && isFinished(state);
    });
    const finished = await this.findOr404(jobId);
    if (finished.state === JobState.Failure) {
      const code = isOrthancErrorCode(finished.errorCode) ? finished.errorCode : OrthancErrorCode.InternalError;
      throw new OrthancError(code, finished.errorDetails || 'The job failed');
    }
    return jobContent(finished, this.outputResources(finished.id));
  }

  async get(id: string): Promise<JsonAnswer> {
    const job = await this.findOr404(id);
    return formatJob(await this.withOutputSoFar(job), this.outputResources(job.id));
  }

  /**
   * A single-resource job shows its new resource as soon as one instance is done, as Orthanc's
   * (SingleOutput is filled by the first instance); the job row gets it only at the end.
   */
  private async withOutputSoFar(job: JobRow): Promise<JobRow> {
    if (isFinished(job.state) || job.level === 'Bulk' || job.output !== null || job.processedCount === 0) return job;
    return { ...job, output: singleOutput(job.level as ResourceLevel, await this.jobs.anyOutput(job.id)) };
  }

  /** Where a finished bulk job's new resources are read from, when its answer gets to them. */
  outputResources(jobId: string): OutputResourcePages {
    return () => this.jobs.outputResourcePages(jobId);
  }

  async findOr404(id: string): Promise<JobRow> {
    const job = isUuid(id) ? await this.jobs.find(id) : null;
    if (!job) throw new OrthancError(OrthancErrorCode.InexistentItem, `Unknown job: ${id}`);
    return job;
  }

  /**
   * Pending/Retry/Paused/Running → Failure (CanceledJob), but for a job in its final step, which ends
   * as its finalize ends it (JobRepository.cancel). Finished jobs: nothing happens, `{}` all the same.
   */
  async cancel(id: string): Promise<void> {
    const job = await this.findForAction(id);
    const canceled = await this.jobs.cancel(job.id);
    if (canceled) await this.events.publishEnded({ jobId: job.id, state: JobState.Failure });
  }

  /** Pending/Retry/Running → Paused; queued work is skipped until resume. */
  async pause(id: string): Promise<void> {
    const job = await this.findForAction(id);
    await this.jobs.transition(job.id, [JobState.Pending, JobState.Retry, JobState.Running], { state: JobState.Paused });
  }

  /** Paused → Pending only. */
  async resume(id: string): Promise<void> {
    const job = await this.findForAction(id);
    if (!(await this.jobs.resume(job.id))) throw refused(job, 'resume', 'Paused');
    await this.requeue(job);
  }

  /** Failure → Pending only; every instance is done again (outputs already stored are found again). */
  async resubmit(id: string): Promise<void> {
    const job = await this.findForAction(id);
    if (!(await this.jobs.reset(job.id))) throw refused(job, 'resubmit', 'Failure');
    await this.requeue(job);
  }

  async delete(id: string): Promise<void> {
    const job = await this.findOr404(id);
    if (!(await this.jobs.delete(job.id))) {
      throw new OrthancError(OrthancErrorCode.InexistentItem, 'Only a finished job can be deleted');
    }
  }

  /**
   * Its PENDING instances queued again (or waiting for room); finalized at once when none is left.
   * A job whose rows are not all there (canceled while a worker listed them, or its submission
   * interrupted) has them added by a worker first, from the resources its row names.
   */
  private async requeue(job: JobRow): Promise<void> {
    if (await this.jobs.queueExpansion(job.id)) {
      await this.enqueuer.enqueueExpansion(job.id);
      return;
    }
    await this.enqueuer.enqueuePendingOrFinalize(job.id, job.priority);
  }

  private async findForAction(id: string): Promise<JobRow> {
    const job = isUuid(id) ? await this.jobs.find(id) : null;
    if (!job) throw new OrthancError(OrthancErrorCode.BadRequest, `Unknown job: ${id}`);
    return job;
  }
}

function refused(job: JobRow, action: string, from: string): OrthancError {
  return OrthancError.badRequest(`Cannot ${action} a job in state ${job.state} (only from ${from})`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function isUuid(value: string): boolean {
  return UUID.test(value);
}
