import type { JsonText } from '@deidflow/common';
import { JobRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance } from '@deidflow/dicom';
import { JobControlService, JobEnqueuer, JobEventsService } from '@deidflow/jobs';
import { bareSourceId, createSubmittedJob, onJobsDatabase } from '../support/database';

/** The jobs' history read in pages (GET /jobs?expand), against the real Postgres. */
describe('JobRepository.summaryPages (real Postgres)', () => {
  let prisma: PrismaService;
  let jobs: JobRepository;
  onJobsDatabase((db) => ({ prisma, jobs } = db));

  it('gives every job once, oldest first, across pages whose edges fall inside runs of equal creation times', async () => {
    // 1,203 jobs, three per millisecond: page edges (every 100) land between jobs created together.
    await prisma.$executeRawUnsafe(
      `INSERT INTO jobs (id, is_anonymization, request, secret, level, source_resources, created_at)
       SELECT gen_random_uuid(), true, '{}', repeat('s', 64), 'Study', '[]', timestamptz '2026-01-01' + make_interval(secs => (g / 3) / 1000.0)
       FROM generate_series(0, 1202) g`,
    );
    const expected = (await prisma.$queryRawUnsafe<{ id: string }[]>('SELECT id::text FROM jobs ORDER BY created_at, id')).map((r) => r.id);

    const pages: string[][] = [];
    for await (const page of jobs.summaryPages(100)) pages.push(page.map((job) => job.id));
    expect(pages.map((page) => page.length)).toEqual([...Array(12).fill(100), 3]);
    expect(pages.flat()).toEqual(expected);
    expect(new Set(await jobs.listIds())).toEqual(new Set(expected));
  });

  it('reads what the listing shows, not the request, the secret or the sources', async () => {
    await prisma.$executeRawUnsafe(
      `INSERT INTO jobs (id, is_anonymization, request, secret, level, source_resources) VALUES (gen_random_uuid(), true, '{"Replace":{}}', repeat('s', 64), 'Study', '["x"]')`,
    );
    const [[job]] = await collect(jobs.summaryPages());
    expect(Object.keys(job).sort()).toEqual(
      ['completedAt', 'createdAt', 'errorCode', 'errorDetails', 'failedCount', 'id', 'instancesCount', 'isAnonymization', 'keepSource', 'level', 'output', 'priority', 'processedCount', 'startedAt', 'state', 'type', 'userData'].sort(),
    );
    expect(job.createdAt).toBeInstanceOf(Date);
  });

  it('gives no page when there is no job', async () => {
    expect(await collect(jobs.summaryPages())).toEqual([]);
  });
});

async function collect<T>(pages: AsyncIterable<T>): Promise<T[]> {
  const all: T[] = [];
  for await (const page of pages) all.push(page);
  return all;
}

/** GET /jobs/{id} of a single-resource job under way (real Postgres): its new resource once one instance is done. */
describe('JobControlService.get: a running job\'s output so far (real Postgres)', () => {
  let prisma: PrismaService;
  let jobs: JobRepository;
  onJobsDatabase((db) => ({ prisma, jobs } = db));

  // The enqueuer and the events are not used by reads.
  const control = () => new JobControlService(jobs, {} as JobEnqueuer, {} as JobEventsService);
  const content = async (id: string) => (JSON.parse((await control().get(id) as JsonText).text) as { Content: Record<string, unknown> }).Content;

  it('shows ID, Path, PatientID and Type as soon as one instance is done, as Orthanc\'s SingleOutput', async () => {
    const id = await createSubmittedJob(prisma, jobs, 2);
    await prisma.$executeRawUnsafe(`UPDATE jobs SET state = 'Running' WHERE id = $1::uuid`, id);
    expect(await content(id)).not.toHaveProperty('ID');

    // One output indexed and its instance row done.
    const output = parseInstance(generateSyntheticStudy({ instances: 1, imageSize: 8, seed: 5 })[0].bytes);
    await new ResourceRepository(prisma).storeInstance(output, { objectKey: 'instances/x/y.dcm', fileSize: 1, sha256: 'a'.repeat(64) });
    await prisma.$executeRawUnsafe(
      `UPDATE job_instances SET state = 'DONE', output_instance_id = $3 WHERE job_id = $1::uuid AND source_instance_id = $2`,
      id,
      bareSourceId(1),
      output.ids.instance,
    );
    await prisma.$executeRawUnsafe(`UPDATE jobs SET processed_count = 1 WHERE id = $1::uuid`, id);
    expect(await content(id)).toMatchObject({ ID: output.ids.study, Path: `/studies/${output.ids.study}`, PatientID: output.ids.patient, Type: 'Study' });
  });
});
