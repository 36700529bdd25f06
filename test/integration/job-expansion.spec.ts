import { randomUUID } from 'node:crypto';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { Queue } from 'bullmq';
import { loadConfig } from '@deidflow/config';
import { JobRepository, JobState, ResourceRepository } from '@deidflow/database';
import type { Job } from 'bullmq';
import { generateSyntheticStudy, parseInstance } from '@deidflow/dicom';
import { JobControlService, JobEnqueuer, JobEventsService, JobExpansionService, JobSubmissionService, PatientNamesService } from '@deidflow/jobs';
import { expandJobId, JobName } from '@deidflow/queue';
import type { FinalizeJobHandler } from '../../apps/worker/src/handlers/finalize-job.handler';
import { JobRecoveryService } from '../../apps/worker/src/handlers/job-recovery.service';
import type { ProcessInstanceHandler } from '../../apps/worker/src/handlers/process-instance.handler';
import { ModificationProcessor } from '../../apps/worker/src/modification.processor';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/**
 * A large asynchronous submission answers once its job is recorded; a worker adds its instance rows
 * (an expand-job task), then queues its work. Real Postgres and Redis (a BullMQ queue of its own);
 * no worker takes the tasks: the test runs the expansion itself, as the worker's processor does.
 */
describe('a large asynchronous submission, its instances listed by a worker (real Postgres and Redis)', () => {
  const database = testDatabase();
  const connection = { url: process.env.REDIS_URL, maxRetriesPerRequest: null };
  const config = loadConfig({ ...process.env, QUEUE_WINDOW_PER_JOB: '1000', QUEUE_MAX_TASKS: '5000' });
  let queue: Queue;
  let jobs: JobRepository;
  let expansion: JobExpansionService;
  let submission: JobSubmissionService;
  let control: JobControlService;
  let instanceIds: string[];
  let seriesIds: string[];
  let studyId: string;

  beforeAll(async () => {
    Logger.overrideLogger(false);
    await resetDatabase();
    const resources = new ResourceRepository(database());
    // 250 instances in 2 series: listed one by one, more resources than one statement takes (200).
    const parsed = generateSyntheticStudy({ instances: 250, series: 2, imageSize: 8, seed: 31 }).map((i) => parseInstance(i.bytes));
    for (const instance of parsed) await resources.storeInstance(instance, { objectKey: `k/${instance.ids.instance}`, fileSize: 1, sha256: 'a'.repeat(64) });
    instanceIds = parsed.map((p) => p.ids.instance);
    seriesIds = [...new Set(parsed.map((p) => p.ids.series))];
    studyId = parsed[0].ids.study;
  });
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  beforeEach(async () => {
    await database().$executeRawUnsafe('TRUNCATE jobs CASCADE');
    queue = new Queue(`expansion-${randomUUID()}`, { connection, prefix: process.env.QUEUE_PREFIX });
    jobs = new JobRepository(database());
    const enqueuer = new JobEnqueuer(jobs, queue, config);
    expansion = new JobExpansionService(jobs, enqueuer, config);
    submission = new JobSubmissionService(jobs, new ResourceRepository(database()), enqueuer, expansion, new PatientNamesService(jobs));
    // Cancel publishes the job's end for waiting calls: nobody waits here.
    control = new JobControlService(jobs, enqueuer, { publishEnded: async () => undefined } as unknown as JobEventsService);
  });

  afterEach(async () => {
    await queue.obliterate({ force: true });
    await queue.close();
  });

  const tasks = async () => (await queue.getJobs(['prioritized', 'waiting'])).map((task) => ({ id: task.id, name: task.name }));
  /** Submits a bulk job of the 250 instances and their 2 series; the job as the submission left it. */
  const submitBulk = async (body: object, resources = [...instanceIds, ...seriesIds]) => {
    const { jobId } = await submission.submit({ operation: 'anonymize', target: 'Bulk', body: { Resources: resources, ...body } });
    return { job: (await jobs.find(jobId))! };
  };

  it('answers before the rows exist; the expansion adds each instance once, queues the job, and is not repeated', async () => {
    const { job } = await submitBulk({ Asynchronous: true });
    expect(job).toMatchObject({ ready: false, expansionQueued: true, instancesCount: 0, state: JobState.Pending });
    expect(await tasks()).toEqual([{ id: expandJobId(job.id), name: JobName.ExpandJob }]);

    await expansion.expand(job.id);
    // Every instance named twice (by itself, and through its series in another statement): counted once.
    expect(await jobs.counters(job.id)).toMatchObject({ ready: true, instancesCount: 250, queuedCount: 250 });
    const queued = (await tasks()).filter((task) => task.name === JobName.ProcessInstance);
    expect(queued).toHaveLength(250);

    await expansion.expand(job.id); // the task delivered again (its worker was killed after the work): nothing more
    expect(await jobs.counters(job.id)).toMatchObject({ instancesCount: 250, queuedCount: 250 });
  });

  it('lists the rows before answering a synchronous submission, or one of a few resources', async () => {
    const synchronous = (await submitBulk({})).job;
    const few = (await submitBulk({ Asynchronous: true }, seriesIds)).job;
    for (const job of [synchronous, few]) expect(job).toMatchObject({ ready: true, expansionQueued: false, instancesCount: 250 });
    expect((await tasks()).filter((task) => task.name === JobName.ExpandJob)).toEqual([]);
  });

  it('lists up to SUBMISSION_LISTING_MAX_INSTANCES before answering an asynchronous job; a worker lists the rest, each instance once', async () => {
    const submitStudy = async (listingLimit: number, body: object) => {
      const limited = loadConfig({ ...process.env, QUEUE_WINDOW_PER_JOB: '1000', SUBMISSION_LISTING_MAX_INSTANCES: String(listingLimit) });
      const enqueuer = new JobEnqueuer(jobs, queue, limited);
      const limitedExpansion = new JobExpansionService(jobs, enqueuer, limited);
      const limitedSubmission = new JobSubmissionService(jobs, new ResourceRepository(database()), enqueuer, limitedExpansion, new PatientNamesService(jobs));
      const { jobId } = await limitedSubmission.submit({ operation: 'anonymize', target: 'Study', resourceId: studyId, body });
      return { job: (await jobs.find(jobId))!, expansion: limitedExpansion };
    };

    // One resource of 250 instances, 100 allowed: the answer comes after 101 rows (one past the limit).
    const { job, expansion: limitedExpansion } = await submitStudy(100, { Asynchronous: true });
    expect(job).toMatchObject({ ready: false, expansionQueued: true, instancesCount: 101, state: JobState.Pending });
    expect(await tasks()).toEqual([{ id: expandJobId(job.id), name: JobName.ExpandJob }]);
    await limitedExpansion.expand(job.id);
    expect(await jobs.counters(job.id)).toMatchObject({ ready: true, instancesCount: 250, queuedCount: 250 });

    // Exactly the limit, or a synchronous call (its caller waits for the whole job): listed before the answer.
    for (const [limit, body] of [[250, { Asynchronous: true }], [100, {}]] as const) {
      const listed = (await submitStudy(limit, body)).job;
      expect(listed).toMatchObject({ ready: true, expansionQueued: false, instancesCount: 250 });
    }
    expect((await tasks()).filter((task) => task.name === JobName.ExpandJob)).toHaveLength(1);
  });

  it('stops listing a job canceled meanwhile; its resubmit lists it again, whole', async () => {
    const { job } = await submitBulk({ Asynchronous: true });
    const addInstancesOf = jobs.addInstancesOf.bind(jobs);
    let statements = 0;
    jest.spyOn(jobs, 'addInstancesOf').mockImplementation(async (...args) => {
      const added = await addInstancesOf(...args);
      if (++statements === 1) await control.cancel(job.id); // canceled after the first statement
      return added;
    });
    await expansion.expand(job.id);
    expect(statements).toBe(1);
    const canceled = await jobs.find(job.id);
    expect(canceled).toMatchObject({ state: JobState.Failure, ready: false, instancesCount: 250 }); // the series' statement ran
    expect((await tasks()).filter((task) => task.name === JobName.ProcessInstance)).toEqual([]);

    await queue.obliterate({ force: true }); // the worker took the first expansion task
    await control.resubmit(job.id);
    expect(await tasks()).toEqual([{ id: expandJobId(job.id), name: JobName.ExpandJob }]);
    await expansion.expand(job.id);
    expect(statements).toBe(4); // series, then the instances in two statements
    expect(await jobs.counters(job.id)).toMatchObject({ state: JobState.Pending, ready: true, instancesCount: 250, generation: 1 });
    expect((await tasks()).filter((task) => task.name === JobName.ProcessInstance)).toHaveLength(250);
  });

  it('a paused job is listed whole but waits for its resume to be queued', async () => {
    const { job } = await submitBulk({ Asynchronous: true });
    await control.pause(job.id);
    await expansion.expand(job.id);
    expect(await jobs.counters(job.id)).toMatchObject({ state: JobState.Paused, ready: true, instancesCount: 250, queuedCount: 0 });
    expect((await tasks()).filter((task) => task.name === JobName.ProcessInstance)).toEqual([]);
    await control.resume(job.id);
    expect((await tasks()).filter((task) => task.name === JobName.ProcessInstance)).toHaveLength(250);
  });

  it('job recovery queues the expansion again when the queue lost it, and never fails such a job as an interrupted submission', async () => {
    const { job } = await submitBulk({ Asynchronous: true });
    await queue.obliterate({ force: true }); // Redis lost it
    await database().$executeRawUnsafe(`UPDATE jobs SET created_at = now() - interval '1 hour' WHERE id = $1::uuid`, job.id);
    const recovery = new JobRecoveryService(config, jobs, new JobEnqueuer(jobs, queue, config));
    await recovery.recover(true);
    expect(await jobs.find(job.id)).toMatchObject({ state: JobState.Pending, ready: false });
    expect(await tasks()).toEqual([{ id: expandJobId(job.id), name: JobName.ExpandJob }]);
  });

  it('fails the job, saying why, when its listing failed its last attempt; a resubmit lists it again', async () => {
    const { job } = await submitBulk({ Asynchronous: true });
    const processor = new ModificationProcessor(config, {} as ProcessInstanceHandler, {} as FinalizeJobHandler, expansion);
    const task = { name: JobName.ExpandJob, data: { jobId: job.id }, opts: { attempts: 8 } };
    await processor.onFailed({ ...task, attemptsMade: 7 } as unknown as Job, new Error('statement timeout'));
    expect(await jobs.find(job.id)).toMatchObject({ state: JobState.Pending }); // BullMQ tries again
    await processor.onFailed({ ...task, attemptsMade: 8 } as unknown as Job, new Error('statement timeout'));
    expect(await jobs.find(job.id)).toMatchObject({
      state: JobState.Failure,
      errorCode: -1, // InternalError
      errorDetails: 'Listing the instances of the job failed: statement timeout',
      completedAt: expect.any(Date),
    });
    await control.resubmit(job.id);
    await expansion.expand(job.id);
    expect(await jobs.counters(job.id)).toMatchObject({ state: JobState.Pending, ready: true, instancesCount: 250 });
  });
});
