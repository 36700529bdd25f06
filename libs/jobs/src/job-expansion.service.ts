import { Inject, Injectable, Logger } from '@nestjs/common';
import { OrthancErrorCode, RESOURCE_LEVELS, type ResourceLevel } from '@deidflow/common';
import { APP_CONFIG, type AppConfig } from '@deidflow/config';
import { JobRepository, JobState } from '@deidflow/database';
import { JobEnqueuer } from './job-enqueuer.service';

/**
 * Resources whose instances one statement adds to a job: 200 studies of 500 instances are 100,000
 * rows, ~1.2 s here (BENCHMARKS.md, twelfth session). One statement for a cohort of 10,000 such
 * studies would run a minute.
 */
const RESOURCES_PER_STATEMENT = 200;

const FINISHED: readonly JobState[] = [JobState.Success, JobState.Failure];

/** A resource a job starts from, as its row lists it (`sourceResources`). */
export interface SourceResource {
  ID: string;
  Type: ResourceLevel;
}

/**
 * A job's instance rows: one per source instance below the resources it names. Rows are what a
 * submission costs in proportion to its size (~12 µs each here): a cohort of thousands of studies is
 * millions of them, a minute or more, past the timeout of a proxy in front of the API (whose client
 * would then submit it again). So an asynchronous submission lists the rows itself only up to
 * SUBMISSION_LISTING_MAX_INSTANCES and in one statement's worth of resources; past either, it
 * answers at once and a worker adds them (an expand-job task), then queues the job's work. A
 * synchronous one lists them all (its caller waits for the whole job anyway). The rows are added
 * idempotently: a retried expansion (worker killed), or one after a submission stopped at its
 * limit, adds only what is missing.
 */
@Injectable()
export class JobExpansionService {
  private readonly logger = new Logger(JobExpansionService.name);

  constructor(
    private readonly jobs: JobRepository,
    private readonly enqueuer: JobEnqueuer,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** Whether the submission of a job from these resources hands its rows to a worker without listing any. */
  expandsInWorker(sources: readonly SourceResource[], synchronous: boolean): boolean {
    return !synchronous && sources.length > RESOURCES_PER_STATEMENT;
  }

  /**
   * The rows a submission adds before it answers: all of them when synchronous; otherwise
   * SUBMISSION_LISTING_MAX_INSTANCES at most. False when the job holds more: a worker is to list it
   * (the rows already added stay, and are not added twice).
   */
  async addInstancesBeforeAnswer(jobId: string, sources: readonly SourceResource[], synchronous: boolean): Promise<boolean> {
    if (synchronous) return this.addInstances(jobId, sources);
    let allowed = this.config.SUBMISSION_LISTING_MAX_INSTANCES;
    for (const [level, ids] of statementsOf(sources)) {
      // One more than allowed looked at: a job of exactly the limit is still listed here.
      const listed = await this.jobs.addInstancesUpTo(jobId, level, ids, allowed + 1);
      if (listed > allowed) return false;
      allowed -= listed;
    }
    return true;
  }

  /**
   * Adds the rows, a few hundred resources per statement (no statement comes near
   * DATABASE_STATEMENT_TIMEOUT_MS). `stillWanted`, asked before each statement: false stops (the
   * job was canceled); returns whether every statement ran.
   */
  async addInstances(jobId: string, sources: readonly SourceResource[], stillWanted: () => Promise<boolean> = async () => true): Promise<boolean> {
    for (const [level, ids] of statementsOf(sources)) {
      if (!(await stillWanted())) return false;
      await this.jobs.addInstancesOf(jobId, level, ids);
    }
    return true;
  }

  /**
   * The expand-job task: the job's rows, then it is ready and its work queued (in its turn: a paused
   * job stays paused, and its resume queues it). A job canceled meanwhile stops here, unready; a
   * resubmit queues its expansion again.
   */
  async expand(jobId: string): Promise<void> {
    const job = await this.jobs.find(jobId);
    if (!job || job.ready || FINISHED.includes(job.state)) return;
    const startedAt = performance.now();
    const stillWanted = async () => {
      const counters = await this.jobs.counters(jobId);
      return counters !== null && !FINISHED.includes(counters.state);
    };
    if (!(await this.addInstances(jobId, job.sourceResources as unknown as SourceResource[], stillWanted))) return;
    const counters = await this.jobs.markReady(jobId);
    this.logger.log({ jobId, instances: counters.instancesCount, ms: Math.round(performance.now() - startedAt) }, 'instances of a job listed');
    await this.enqueuer.enqueuePendingOrFinalize(jobId, job.priority);
  }

  /**
   * The expansion failed its last attempt (the database unreachable for minutes, or a statement
   * past its timeout): the job fails, saying so, rather than waiting for job recovery to queue a
   * listing that may fail the same way forever. A resubmit lists it again.
   */
  async recordFailure(jobId: string, reason: string): Promise<void> {
    const failed = await this.jobs.failUnfinished(jobId, OrthancErrorCode.InternalError, `Listing the instances of the job failed: ${reason.slice(0, 200)}`);
    if (failed) this.logger.warn({ jobId, reason: reason.slice(0, 200) }, 'listing the instances of a job failed; the job failed');
  }
}

/** The statements of a listing: the resources of each level, top-down, a few hundred at a time. */
function* statementsOf(sources: readonly SourceResource[]): Generator<[ResourceLevel, string[]]> {
  for (const level of RESOURCE_LEVELS) {
    const ids = sources.filter((source) => source.Type === level).map((source) => source.ID);
    for (let start = 0; start < ids.length; start += RESOURCES_PER_STATEMENT) yield [level, ids.slice(start, start + RESOURCES_PER_STATEMENT)];
  }
}
