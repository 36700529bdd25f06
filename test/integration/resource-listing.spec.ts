import { PrismaService, ResourceRepository } from '@deidflow/database';
import { parseFindRequest } from '@deidflow/dicom';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/** GET /{level} and /tools/find read in pages (ResourceRepository.idPages, findPages), against the real Postgres. */
describe('ResourceRepository.idPages and findPages (real Postgres)', () => {
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
       SELECT md5(g::text) || lpad(g::text, 12, '0'), 'P' || g, jsonb_build_object('PatientID', 'P' || g), timestamptz '2026-01-01' + make_interval(secs => (g / 4) / 1000.0)
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

  async function found(body: Record<string, unknown>, pageSize: number): Promise<string[][]> {
    const all: string[][] = [];
    for await (const ids of resources.findPages(parseFindRequest({ Level: 'Patient', ...body }), pageSize)) all.push(ids);
    return all;
  }

  it('/tools/find: every match once, oldest first, a page at a time, with Since and Limit across pages', async () => {
    const everything = await found({ Query: {} }, 1000);
    expect(everything.map((ids) => ids.length)).toEqual([1000, 1000, 503]);
    expect(everything.flat()).toEqual(oldestFirst);
    expect((await found({ Query: {}, Since: 10, Limit: 2001 }, 1000)).map((ids) => ids.length)).toEqual([1000, 1000, 1]);
    expect((await found({ Query: {}, Since: 10, Limit: 2001 }, 1000)).flat()).toEqual(oldestFirst.slice(10, 2011));
    // A constraint: patients P1, P10-P19, P100-P199, P1000-P1999 (1,111), whose order is not the IDs'.
    const matching = (await prisma.$queryRawUnsafe<{ id: string }[]>(`SELECT id FROM patients WHERE patient_id LIKE 'P1%' ORDER BY created_at, id`)).map((r) => r.id);
    expect(matching).toHaveLength(1111);
    expect((await found({ Query: { PatientID: 'P1*' } }, 100)).flat()).toEqual(matching);
    expect(await found({ Query: {}, Since: 2503 }, 1000)).toEqual([]);
  });

  it('gives nothing for limit=0 or a since past the end', async () => {
    expect(await pages({ limit: 0 }, 1000)).toEqual([]);
    expect(await pages({ since: PATIENTS }, 1000)).toEqual([]);
  });
});
