import { Client } from 'pg';
import { loadConfig } from '@deidflow/config';
import { ChangeLogService } from '../../apps/api/src/changes/change-log.service';
import { ChangeLogMonitor } from '../../apps/worker/src/handlers/change-log-monitor';
import { ChangeRepository, ChangeRow, PrismaService, ResourceRepository } from '@deidflow/database';
import { ChangeType, RESOURCE_TYPE } from '@deidflow/common';
import { generateSyntheticStudy, parseInstance, ParsedInstance } from '@deidflow/dicom';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

const object = (p: ParsedInstance) => ({ objectKey: `k/${p.ids.instance}`, fileSize: 1, sha256: '0'.repeat(64) });

/**
 * The change log on the real Postgres: numbered in the order changes commit, whatever order their
 * writers took, so that a reader going on from its last Seq misses none; the monitor's marks
 * (CompletedSeries, Stable*) logged once with two monitors at work.
 */
describe('change log (real Postgres)', () => {
  const database = testDatabase();
  let prisma: PrismaService;
  let changes: ChangeRepository;
  let resources: ResourceRepository;
  let instances: ParsedInstance[];
  const clients: Client[] = [];

  const client = async () => {
    const c = new Client({ connectionString: process.env.DATABASE_URL });
    await c.connect();
    clients.push(c);
    return c;
  };
  const appendPending = (c: Client, id: string) =>
    c.query('INSERT INTO pending_changes (change_type, resource_type, resource_id) VALUES ($1, $2, $3)', [ChangeType.NewInstance, RESOURCE_TYPE.Instance, id.padEnd(44, '0')]);
  const read = (since = 0): Promise<ChangeRow[]> => changes.read(5_000, (log) => log.page({ since, limit: 1000 }));
  /** Makes every resource look as if its last instance arrived `seconds` ago (one statement: one now(), as an index write). */
  const age = (seconds: number) =>
    prisma.$executeRawUnsafe(
      `WITH p AS (UPDATE patients SET last_update = now() - make_interval(secs => $1)),
            st AS (UPDATE studies SET last_update = now() - make_interval(secs => $1))
       UPDATE series SET last_update = now() - make_interval(secs => $1)`,
      seconds,
    );

  beforeAll(() => {
    prisma = database();
    changes = new ChangeRepository(prisma);
    resources = new ResourceRepository(prisma);
    instances = generateSyntheticStudy({ instances: 3, imageSize: 8, seed: 21 }).map((i) => parseInstance(i.bytes));
  });
  beforeEach(() => resetDatabase());
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.end()));
  });

  it('numbers a change that commits late after the ones that committed before it, never before them', async () => {
    const slow = await client();
    const fast = await client();
    await slow.query('BEGIN');
    await appendPending(slow, 'slow'); // appended first (lower id), committed last
    await appendPending(fast, 'fast');

    const firstRead = await read();
    expect(firstRead.map((c) => c.resourceId.replace(/0+$/, ''))).toEqual(['fast']);

    await slow.query('COMMIT');
    const secondRead = await read(firstRead[firstRead.length - 1].seq);
    // A reader going on from its Last finds it: numbered after what it saw.
    expect(secondRead.map((c) => c.resourceId.replace(/0+$/, ''))).toEqual(['slow']);
    expect(secondRead[0].seq).toBeGreaterThan(firstRead[0].seq);
  });

  it('leaves the numbering to a sequencer at work; a reader waits for it a while, then reads what is numbered', async () => {
    await appendPending(await client(), 'one');
    const holder = await client();
    await holder.query('BEGIN');
    await holder.query(`SELECT pg_advisory_xact_lock(x'646569646368'::bigint)`);
    expect(await changes.sequence()).toBe(0);
    // A reader gives up after its wait and reads without the lock: nothing numbered.
    expect(await changes.read(100, async (log, locked) => ({ locked, rows: await log.page({ since: 0, limit: 10 }) }))).toEqual({ locked: false, rows: [] });

    let waited = false;
    const waiting = changes.read(10_000, async (log, locked) => {
      waited = true;
      return { locked, rows: await log.page({ since: 0, limit: 10 }) };
    });
    await new Promise((r) => setTimeout(r, 200));
    expect(waited).toBe(false);
    await holder.query('COMMIT');
    const { locked, rows } = await waiting;
    expect(locked).toBe(true);
    expect(rows.map((c) => c.resourceId.replace(/0+$/, ''))).toEqual(['one']);
  });

  it('never answers an empty page with a Last beyond what the reader has seen (another sequencer\'s numbers not committed)', async () => {
    await resources.storeInstance(instances[0], object(instances[0]));
    const seen = await read();
    const last = seen[seen.length - 1].seq;
    const service = new ChangeLogService(changes);
    expect(await service.page({ since: last })).toEqual({ Changes: [], Done: true, Last: last });

    // A sequencer (another process) numbers a change and has not committed yet.
    const sequencer = await client();
    await sequencer.query('BEGIN');
    await sequencer.query(`SELECT pg_advisory_xact_lock(x'646569646368'::bigint)`);
    await sequencer.query(`INSERT INTO changes (change_type, resource_type, resource_id, date) VALUES (2, 4, $1, now())`, ['late'.padEnd(44, '0')]);
    // The number it took is not a Last to go on from: a client would skip its change.
    expect(await service.page({ since: last })).toEqual({ Changes: [], Done: true, Last: last });
    await sequencer.query('COMMIT');
    const page = await service.page({ since: last });
    expect(page.Changes).toEqual([expect.objectContaining({ Seq: last + 1, ChangeType: 'NewInstance' })]);
  });

  it('logs what the index statement creates: NewInstance, then the new ancestors of the instance that created them', async () => {
    for (const parsed of instances) await resources.storeInstance(parsed, object(parsed));
    await resources.storeInstance(instances[0], object(instances[0])); // already stored: nothing
    const [first, second, third] = instances;
    expect((await read()).map((c) => [ChangeType[c.changeType], c.resourceId])).toEqual([
      ['NewInstance', first.ids.instance],
      ['NewSeries', first.ids.series],
      ['NewStudy', first.ids.study],
      ['NewPatient', first.ids.patient],
      ['NewInstance', second.ids.instance],
      ['NewInstance', third.ids.instance],
    ]);
  });

  it('logs each resource stable once, with two monitors at it, and again after a new instance', async () => {
    const [first, second] = instances;
    await resources.storeInstance(first, object(first));
    await age(120);
    const marked = await Promise.all([changes.markCompletedAndStable(60), changes.markCompletedAndStable(60)]);
    expect(marked.reduce((n, m) => n + m.stable, 0)).toBe(3);
    const stable = (await read()).filter((c) => ChangeType[c.changeType].startsWith('Stable'));
    expect(stable.map((c) => [ChangeType[c.changeType], c.resourceId])).toEqual([
      ['StableSeries', first.ids.series],
      ['StableStudy', first.ids.study],
      ['StablePatient', first.ids.patient],
    ]);

    // Not yet StableAge old: nothing; a new instance makes its ancestors unstable again, whatever the second.
    await resources.storeInstance(second, object(second));
    const unstable = await prisma.$queryRawUnsafe<{ is_stable: boolean }[]>('SELECT is_stable FROM series WHERE id = $1', first.ids.series);
    expect(unstable).toEqual([{ is_stable: false }]);
    expect((await changes.markCompletedAndStable(60)).stable).toBe(0);
    await age(120);
    expect((await changes.markCompletedAndStable(60)).stable).toBe(3);
  });

  it('logs CompletedSeries once the series holds the instances it announces, once, before it is stable', async () => {
    const [first, second] = instances;
    await resources.storeInstance(first, object(first));
    // Announces 2 instances, as IndexInSeries 1 and 2 (the synthetic instances' InstanceNumber).
    await prisma.$executeRawUnsafe('UPDATE series SET expected_instances = 2 WHERE id = $1', first.ids.series);
    expect((await changes.markCompletedAndStable(60)).completedSeries).toBe(0);
    await resources.storeInstance(second, object(second));
    const marked = await Promise.all([changes.markCompletedAndStable(60), changes.markCompletedAndStable(60)]);
    expect(marked.reduce((n, m) => n + m.completedSeries, 0)).toBe(1);
    await age(120);
    await changes.markCompletedAndStable(60);
    const logged = (await read()).map((c) => ChangeType[c.changeType]).filter((t) => !t.startsWith('New'));
    expect(logged).toEqual(['CompletedSeries', 'StableSeries', 'StableStudy', 'StablePatient']);
  });

  it('forgets that a series\' completion was logged when a new instance arrives in it, whatever the second', async () => {
    const [first, second, third] = instances;
    await resources.storeInstance(first, object(first));
    await prisma.$executeRawUnsafe('UPDATE series SET expected_instances = 2 WHERE id = $1', first.ids.series);
    await resources.storeInstance(second, object(second));
    expect((await changes.markCompletedAndStable(60)).completedSeries).toBe(1);
    // Within the second of the last update (the throttle of last_update would skip the row).
    await prisma.$executeRawUnsafe('UPDATE series SET last_update = now() WHERE id = $1', first.ids.series);
    await resources.storeInstance(third, object(third));
    const [row] = await prisma.$queryRawUnsafe<{ completion_logged: boolean }[]>('SELECT completion_logged FROM series WHERE id = $1', first.ids.series);
    expect(row.completion_logged).toBe(false);
    // Three instances of two announced: not complete, nothing logged again.
    expect((await changes.markCompletedAndStable(60)).completedSeries).toBe(0);
  });

  it('DELETE empties the log and the pending changes; Seq goes on', async () => {
    await resources.storeInstance(instances[0], object(instances[0]));
    const before = await read();
    await appendPending(await client(), 'pending');
    await changes.clear();
    expect(await read()).toEqual([]);
    expect(await changes.read(5_000, (log) => log.lastSeq())).toBe(before[before.length - 1].seq);
    await resources.storeInstance(instances[1], object(instances[1]));
    expect((await read())[0].seq).toBe(before[before.length - 1].seq + 1);
  });

  it('deletes the changes older than CHANGE_LOG_RETENTION_DAYS, oldest first, and none when it is 0', async () => {
    for (const parsed of instances) await resources.storeInstance(parsed, object(parsed));
    const logged = await read();
    // The first four (the first instance and its new ancestors) logged ten days ago.
    await prisma.$executeRawUnsafe(`UPDATE changes SET date = now() - interval '10 days' WHERE seq <= $1`, logged[3].seq);
    const monitor = (days: number) => new ChangeLogMonitor({ ...loadConfig(process.env), CHANGE_LOG_RETENTION_DAYS: days }, changes);
    expect(await monitor(0).prune()).toBe(0);
    expect(await monitor(30).prune()).toBe(0);
    expect(await monitor(7).prune()).toBe(4);
    expect(await read()).toEqual(logged.slice(4));
  });
});
