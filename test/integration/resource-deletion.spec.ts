import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { InstanceStoreService, LEFTOVER_DELETION_AFTER_MS, ResourceDeletionService } from '@deidflow/core';
import { ObjectDeletionRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance, ParsedInstance } from '@deidflow/dicom';
import { FsStorage, objectKeyForInstance } from '@deidflow/storage';
import { Client } from 'pg';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

/**
 * Deletions on the real Postgres and an fs store: one statement per deletion whatever its size,
 * Orthanc's cascade, and the queue of files to delete that outlives a process dying between the
 * index and the store.
 */
describe('resource deletion (real Postgres, fs store)', () => {
  let prisma: PrismaService;
  let resources: ResourceRepository;
  let queue: ObjectDeletionRepository;
  let storage: FsStorage;
  let store: InstanceStoreService;
  let deletion: ResourceDeletionService;
  let storageDir: string;

  const database = testDatabase();

  beforeAll(() => {
    prisma = database();
    resources = new ResourceRepository(prisma);
    queue = new ObjectDeletionRepository(prisma);
  });
  beforeEach(async () => {
    await resetDatabase();
    storageDir = await mkdtemp(join(tmpdir(), 'deidflow-deletion-'));
    storage = new FsStorage(storageDir);
    await storage.init();
    store = new InstanceStoreService(resources, queue, storage);
    deletion = new ResourceDeletionService(resources, queue, store, storage);
  });
  afterEach(() => rm(storageDir, { recursive: true, force: true }));

  /** 1 patient, 2 studies, 2 series each, 3 instances per series; stored with their files. */
  async function storeStudies(seed: number): Promise<ParsedInstance[]> {
    const study = generateSyntheticStudy({ instances: 12, studies: 2, series: 2, imageSize: 8, seed });
    for (const instance of study) await store.store(Buffer.from(instance.bytes));
    return study.map((i) => parseInstance(i.bytes));
  }

  const exists = async (table: string, id: string) =>
    (await prisma.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM ${table} WHERE id = $1`, id)).length > 0;
  const queuedCount = async () => Number((await prisma.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM object_deletions`)[0].n);
  const fileExists = (instanceId: string) => storage.exists(objectKeyForInstance(instanceId));
  const addMetadata = (...ids: string[]) =>
    prisma.resourceMetadata.createMany({ data: ids.map((resourceId) => ({ resourceId, name: 'AnonymizedFrom', value: 'x' })) });
  const metadataOwners = async () => (await prisma.resourceMetadata.findMany({ orderBy: { resourceId: 'asc' } })).map((m) => m.resourceId);

  it('deletes instances and the parents they empty (KeepSource: false), and leaves the rest', async () => {
    const instances = await storeStudies(1);
    const [a, b] = [instances[0].ids, instances[6].ids];
    const firstSeries = instances.filter((i) => i.ids.series === a.series);
    const secondStudy = instances.filter((i) => i.ids.study === b.study);
    expect(firstSeries).toHaveLength(3);
    expect(secondStudy).toHaveLength(6);
    await addMetadata(a.series, b.study, a.study, firstSeries[0].ids.instance);

    // The first study's first series whole, the second study whole, and one ID that is no instance.
    const ids = [...firstSeries, ...secondStudy].map((i) => i.ids.instance);
    const deleted = await deletion.deleteResources('Instance', [...ids, 'ffffffff-00000000-00000000-00000000-00000000']);

    const parents = [a.series, b.study, ...new Set(secondStudy.map((i) => i.ids.series))];
    expect(deleted.deletedIds.sort()).toEqual([...ids, ...parents].sort());
    expect(await exists('series', a.series)).toBe(false);
    expect(await exists('studies', a.study)).toBe(true); // its second series is left
    expect(await exists('studies', b.study)).toBe(false);
    expect(await exists('patients', a.patient)).toBe(true);
    expect(await metadataOwners()).toEqual([a.study]);
    for (const id of ids) expect(await fileExists(id)).toBe(false);
    expect(await queuedCount()).toBe(0);
    expect(await resources.statistics()).toMatchObject({ patients: 1, studies: 1, series: 1, instances: 3 });

    // The rest: the patient goes too. A repeated call finds nothing left to delete.
    const rest = instances.filter((i) => !ids.includes(i.ids.instance)).map((i) => i.ids.instance);
    expect((await deletion.deleteResources('Instance', rest)).deletedIds).toContain(a.patient);
    expect((await deletion.deleteResources('Instance', rest)).deletedIds).toEqual([]);
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
  });

  it('deletes a resource of any level with its descendants, their metadata and files, and answers the remaining ancestor', async () => {
    const instances = await storeStudies(2);
    const [a, b] = [instances[0].ids, instances[6].ids];
    const inSeries = instances.filter((i) => i.ids.series === a.series).map((i) => i.ids.instance);
    await addMetadata(a.series, inSeries[1], b.study, instances[7].ids.series, instances[8].ids.instance, a.patient);

    expect(await deletion.deleteResource('Series', a.series)).toEqual({ deletedIds: [a.series], remainingAncestor: { id: a.study, level: 'Study' } });
    for (const id of inSeries) expect(await fileExists(id)).toBe(false);
    expect(await deletion.deleteResource('Study', b.study)).toEqual({ deletedIds: [b.study], remainingAncestor: { id: a.patient, level: 'Patient' } });
    expect(await metadataOwners()).toEqual([a.patient]);
    expect(await deletion.deleteResource('Series', a.series)).toBeNull();
    // The last series of the last study: the patient goes with it.
    const last = instances.find((i) => i.ids.study === a.study && i.ids.series !== a.series)!.ids;
    const deleted = await deletion.deleteResource('Series', last.series);
    expect(deleted).toEqual({ deletedIds: expect.arrayContaining([last.series, a.study, a.patient]), remainingAncestor: null });
    expect(await metadataOwners()).toEqual([]);
    for (const instance of instances) expect(await fileExists(instance.ids.instance)).toBe(false);
    expect(await queuedCount()).toBe(0);
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
  });

  // 150,000: more IDs than a spread into push() takes (the deletion of the tenth session did that).
  it('deletes a patient of 150,000 instances in one call (one statement, no list of instances in Node)', async () => {
    // Index rows only (no files: their deletion finds nothing, as after a crash), written by SQL.
    const id = (prefix: string, n: string) => `('${prefix}' || lpad(to_hex(${n}), 7, '0') || '-00000000-00000000-00000000-00000000')`;
    await prisma.$executeRawUnsafe(`INSERT INTO patients (id, patient_id, main_dicom_tags) VALUES (${id('a', '1')}, 'BIG', '{}')`);
    await prisma.$executeRawUnsafe(`INSERT INTO studies (id, patient_id, study_instance_uid, main_dicom_tags) VALUES (${id('b', '1')}, ${id('a', '1')}, '1.2', '{}')`);
    await prisma.$executeRawUnsafe(`INSERT INTO series (id, study_id, series_instance_uid, main_dicom_tags)
      SELECT ${id('c', 'g')}, ${id('b', '1')}, '1.2.' || g, '{}' FROM generate_series(1, 30) g`);
    await prisma.$executeRawUnsafe(`INSERT INTO instances (id, series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, main_dicom_tags, object_key, file_size)
      SELECT ${id('d', 'g')}, ${id('c', '(g % 30 + 1)')}, '1.2.3.' || g, '1.2', '1.2.840.10008.1.2.1', '{}', 'instances/000/big-' || g || '.dcm', 1000
      FROM generate_series(1, 150000) g`);
    const patient = 'a0000001-00000000-00000000-00000000-00000000';
    expect(await resources.statistics()).toMatchObject({ patients: 1, series: 30, instances: 150_000 });

    expect(await deletion.deleteResource('Patient', patient)).toEqual({ deletedIds: [patient], remainingAncestor: null });
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
    expect(await queuedCount()).toBe(0);
  }, 60_000);

  it('never takes with an emptied parent an instance stored into it meanwhile (an upload racing the deletion)', async () => {
    const [first, second] = generateSyntheticStudy({ instances: 2, series: 1, imageSize: 8, seed: 4 });
    await store.store(Buffer.from(first.bytes));
    const [a, b] = [parseInstance(first.bytes), parseInstance(second.bytes)];
    expect(b.ids.series).toBe(a.ids.series);
    // The second instance's upload, under way: its row written, not yet committed (it holds its series).
    const upload = new Client({ connectionString: process.env.DATABASE_URL });
    await upload.connect();
    try {
      await upload.query('BEGIN');
      await upload.query(
        `INSERT INTO instances (id, series_id, sop_instance_uid, sop_class_uid, transfer_syntax_uid, main_dicom_tags, object_key, file_size)
         VALUES ($1, $2, 'racing', '1.2', '1.2.840.10008.1.2.1', '{}', $3, 1)`,
        [b.ids.instance, b.ids.series, objectKeyForInstance(b.ids.instance)],
      );
      // The deletion of the series' only committed instance: it would leave the series empty.
      const deleting = deletion.deleteResources('Instance', [a.ids.instance]);
      // Once the deletion waits for the upload's locks (a run where it came after would prove nothing).
      for (let waited = 0; ; waited += 20) {
        const { rows } = await upload.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (rows[0].n > 0) break;
        if (waited > 5000) throw new Error('the deletion never waited for the upload');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      await upload.query('COMMIT');
      const deleted = await deleting;
      expect(deleted.deletedIds).toEqual([a.ids.instance]);
    } finally {
      await upload.end();
    }
    expect(await resources.instanceExists(b.ids.instance)).toBe(true);
    expect(await exists('series', b.ids.series)).toBe(true);
    expect(await resources.statistics()).toMatchObject({ patients: 1, studies: 1, series: 1, instances: 1 });
  });

  it('leaves the files of a deletion cut short queued, and the sweep deletes them later', async () => {
    const instances = await storeStudies(3);
    // A process that dies after the index's statement: the rows are gone, the files queued.
    await resources.deleteResources('Patient', [instances[0].ids.patient], randomUUID());
    await resources.deleteResources('Instance', [], randomUUID()); // nothing: no statement error on an empty batch
    expect(await queuedCount()).toBe(12);
    // One of them uploaded again since, under the same key: its file is the new instance's, no longer queued.
    const again = generateSyntheticStudy({ instances: 12, studies: 2, series: 2, imageSize: 8, seed: 3 })[5];
    await store.store(Buffer.from(again.bytes));
    expect(await queuedCount()).toBe(11);
    // A file queued before its instance was stored again by another way (a process killed between
    // the unlink and the end of its batch): the sweep must leave it too.
    await prisma.$executeRaw`INSERT INTO object_deletions (object_key, instance_id, deletion_id)
                             VALUES (${objectKeyForInstance(instances[5].ids.instance)}, ${instances[5].ids.instance}, ${randomUUID()}::uuid)`;

    // Not yet: a deletion queued a moment ago may still be on its way.
    expect(await deletion.sweepLeftovers()).toBe(0);
    expect(await queuedCount()).toBe(12);
    // Later: two sweeps at once (two workers) share the work, each file deleted once.
    const later = Date.now() + LEFTOVER_DELETION_AFTER_MS + 1000;
    const swept = await Promise.all([deletion.sweepLeftovers(later), deletion.sweepLeftovers(later)]);
    expect(swept[0] + swept[1]).toBe(11);
    expect(await queuedCount()).toBe(0);
    for (const [n, instance] of instances.entries()) expect(await fileExists(instance.ids.instance)).toBe(n === 5);
    expect(await resources.instanceExists(instances[5].ids.instance)).toBe(true);
  });

  it('never deletes the file of an instance stored again while its old file is being deleted', async () => {
    const [instance] = generateSyntheticStudy({ instances: 1, imageSize: 8, seed: 5 });
    const bytes = Buffer.from(instance.bytes);
    const { ids } = parseInstance(bytes);
    await store.store(bytes);
    // The deletion's file deletion, held just before it unlinks (a slow store, a big batch).
    let reached!: () => void;
    const atUnlink = new Promise<void>((resolve) => (reached = resolve));
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const deleteMany = storage.deleteMany.bind(storage);
    storage.deleteMany = async (keys) => {
      reached();
      await released;
      return deleteMany(keys);
    };
    const deleting = deletion.deleteResource('Instance', ids.instance);
    await atUnlink;

    // The same instance sent again meanwhile: it must not be written before the old file is gone.
    let uploaded = false;
    const upload = store.store(bytes).then((stored) => ((uploaded = true), stored));
    for (let waited = 0; !uploaded && !(await waitingForLock()); waited += 20) {
      if (waited > 5000) throw new Error('the upload neither finished nor waited');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(uploaded).toBe(false);
    release();
    expect(await deleting).toEqual({ deletedIds: [ids.instance, ids.series, ids.study, ids.patient], remainingAncestor: null });
    expect((await upload).status).toBe('Success');

    const row = await store.findInstanceOrThrow(ids.instance);
    expect((await store.readFile(row)).equals(bytes)).toBe(true);
    expect(await queuedCount()).toBe(0);
  });

  const waitingForLock = async () =>
    (await prisma.$queryRaw<{ n: number }[]>`SELECT count(*)::int AS n FROM pg_stat_activity
                                              WHERE datname = current_database() AND wait_event_type = 'Lock'`)[0].n > 0;
});
