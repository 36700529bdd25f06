import { JobRepository, PrismaService } from '@deidflow/database';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/** The jobs' history read in pages (GET /jobs?expand), against the real Postgres. */
describe('JobRepository.summaryPages (real Postgres)', () => {
  const database = testDatabase();
  let prisma: PrismaService;
  let jobs: JobRepository;

  beforeAll(() => {
    prisma = database();
    jobs = new JobRepository(prisma);
  });
  beforeEach(() => resetDatabase());

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
