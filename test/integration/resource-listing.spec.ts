import { PrismaService, ResourceRepository } from '@deidflow/database';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/** GET /{level} read in pages (ResourceRepository.idPages), against the real Postgres. */
describe('ResourceRepository.idPages (real Postgres)', () => {
  const PATIENTS = 2503;
  const database = testDatabase();
  let prisma: PrismaService;
  let resources: ResourceRepository;
  let oldestFirst: string[];

  beforeAll(async () => {
    prisma = database();
    resources = new ResourceRepository(prisma);
    await resetDatabase();
    // Four patients per millisecond: page edges land between patients that arrived together.
    await prisma.$executeRawUnsafe(
      `INSERT INTO patients (id, patient_id, main_dicom_tags, created_at)
       SELECT md5(g::text) || lpad(g::text, 12, '0'), 'P' || g, '{}', timestamptz '2026-01-01' + make_interval(secs => (g / 4) / 1000.0)
       FROM generate_series(0, ${PATIENTS - 1}) g`,
    );
    oldestFirst = (await prisma.$queryRawUnsafe<{ id: string }[]>('SELECT id FROM patients ORDER BY created_at, id')).map((r) => r.id);
  });
  afterAll(() => resetDatabase());

  async function pages(page: { since?: number; limit?: number }, pageSize: number): Promise<string[][]> {
    const all: string[][] = [];
    for await (const ids of resources.idPages('Patient', page, pageSize)) all.push(ids);
    return all;
  }

  it('lists every ID once, oldest first, page after page', async () => {
    const listed = await pages({}, 1000);
    expect(listed.map((ids) => ids.length)).toEqual([1000, 1000, 503]);
    expect(listed.flat()).toEqual(oldestFirst);
  });

  it('skips `since` and stops at `limit`, across pages (Orthanc\'s since/limit)', async () => {
    const listed = await pages({ since: 10, limit: 2001 }, 1000);
    expect(listed.map((ids) => ids.length)).toEqual([1000, 1000, 1]);
    expect(listed.flat()).toEqual(oldestFirst.slice(10, 2011));
    expect((await pages({ since: 2500, limit: 100 }, 1000)).flat()).toEqual(oldestFirst.slice(2500));
  });

  it('gives nothing for limit=0 or a since past the end', async () => {
    expect(await pages({ limit: 0 }, 1000)).toEqual([]);
    expect(await pages({ since: PATIENTS }, 1000)).toEqual([]);
  });
});
