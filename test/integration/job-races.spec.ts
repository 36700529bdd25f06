import { OrthancErrorCode } from '@deidflow/common';
import { JobRepository, JobState, PrismaService } from '@deidflow/database';
import { bareSourceId, createSubmittedJob, onJobsDatabase } from '../support/database';

/**
 * What a worker's late step does to a job that moved on meanwhile (real Postgres): a cancel, a
 * resubmit or a resume between a task's start and its end. Each statement names the generation it
 * belongs to, and a cancel spares a job in its final step.
 */
describe('JobRepository: late steps of a job that moved on (real Postgres)', () => {
  let prisma: PrismaService;
  let jobs: JobRepository;
  onJobsDatabase((db) => ({ prisma, jobs } = db));

  const job = async (id: string) => (await jobs.find(id))!;
  const failure = { error: 'x', errorCode: OrthancErrorCode.BadFileFormat };
  const finishing = { state: JobState.Success, output: {}, errorCode: 0, errorDetails: '' };
  /** A job's instances all done (each through a recorded failure, as Permissive would accept). */
  const completeAll = async (id: string, instances: number, generation: number) => {
    for (let n = 1; n <= instances; n++) await jobs.completeInstance(id, bareSourceId(n), generation, failure);
  };

  it('does not end a resubmitted job with the finalize of its previous pass', async () => {
    const id = await createSubmittedJob(prisma, jobs, 2);
    const first = (await job(id)).generation;
    await completeAll(id, 2, first);
    // The finalize of the first pass is under way; the job is canceled, then resubmitted.
    await prisma.$executeRawUnsafe(`UPDATE jobs SET state = 'Failure', error_code = 37, completed_at = now() WHERE id = $1::uuid`, id);
    expect(await jobs.reset(id)).toBe(true);
    const second = (await job(id)).generation;
    expect(second).toBeGreaterThan(first);
    // The old finalize now ends: nothing happens to the new pass.
    expect(await jobs.finish(id, first, finishing)).toBe(false);
    expect((await job(id)).state).toBe(JobState.Pending);
    // The new pass's own finalize does.
    await completeAll(id, 2, second);
    expect(await jobs.finish(id, second, finishing)).toBe(true);
    expect((await job(id)).state).toBe(JobState.Success);
  });

  it('does not record the failure of an earlier pass in the rows its successor reset', async () => {
    const id = await createSubmittedJob(prisma, jobs, 2);
    const first = (await job(id)).generation;
    await prisma.$executeRawUnsafe(`UPDATE jobs SET state = 'Failure', completed_at = now() WHERE id = $1::uuid`, id);
    await jobs.reset(id);
    // A task of the first pass, still in hand, fails now.
    expect(await jobs.completeInstance(id, bareSourceId(1), first, failure)).toBeNull();
    expect((await job(id)).failedCount).toBe(0);
    const [row] = await prisma.$queryRawUnsafe<{ state: string }[]>(`SELECT state FROM job_instances WHERE job_id = $1::uuid AND source_instance_id = $2`, id, bareSourceId(1));
    expect(row.state).toBe('PENDING');
    // The same failure in the running pass counts.
    expect(await jobs.completeInstance(id, bareSourceId(1), (await job(id)).generation, failure)).toMatchObject({ failedCount: 1 });
  });

  it('cancels a job with instances left, but not one in its final step, which ends as its finalize ends it', async () => {
    const running = await createSubmittedJob(prisma, jobs, 2);
    await jobs.completeInstance(running, bareSourceId(1), (await job(running)).generation, failure);
    expect(await jobs.cancel(running)).toBe(true);
    expect(await job(running)).toMatchObject({ state: JobState.Failure, errorCode: OrthancErrorCode.CanceledJob });
    expect(await jobs.cancel(running)).toBe(false); // ended already

    const last = await createSubmittedJob(prisma, jobs, 2);
    const generation = (await job(last)).generation;
    await completeAll(last, 2, generation);
    // The finalize may be deleting the sources of KeepSource: false right now.
    expect(await jobs.cancel(last)).toBe(false);
    expect(await jobs.finish(last, generation, finishing)).toBe(true);
    expect((await job(last)).state).toBe(JobState.Success);
  });
});
