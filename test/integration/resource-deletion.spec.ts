import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@deidflow/config';
import { InstanceStoreService, LEFTOVER_DELETION_AFTER_MS, ResourceDeletionService } from '@deidflow/core';
import { ObjectDeletionRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance, ParsedInstance } from '@deidflow/dicom';
import { FsStorage, objectKeyForInstance } from '@deidflow/storage';
import { resetDatabase } from '../support/app-harness';

/**
 * Deletions on the real Postgres and an fs store: the set-based deletion of KeepSource: false
 * sources, and the queue of files to delete that outlives a process dying between the index and
 * the store.
 */
describe('resource deletion (real Postgres, fs store)', () => {
  let prisma: PrismaService;
  let resources: ResourceRepository;
  let queue: ObjectDeletionRepository;
  let storage: FsStorage;
  let deletion: ResourceDeletionService;
  let storageDir: string;

  beforeAll(async () => {
    prisma = new PrismaService(loadConfig(process.env));
    resources = new ResourceRepository(prisma);
    queue = new ObjectDeletionRepository(prisma);
  });
  beforeEach(async () => {
    await resetDatabase();
    storageDir = await mkdtemp(join(tmpdir(), 'deidflow-deletion-'));
    storage = new FsStorage(storageDir);
    await storage.init();
    const store = new InstanceStoreService(resources, storage);
    deletion = new ResourceDeletionService(resources, queue, store, storage);
  });
  afterEach(() => rm(storageDir, { recursive: true, force: true }));
  afterAll(() => prisma.onModuleDestroy());

  /** 1 patient, 2 studies, 2 series each, 3 instances per series; stored with their files. */
  async function storeStudies(seed: number): Promise<ParsedInstance[]> {
    const study = generateSyntheticStudy({ instances: 12, studies: 2, series: 2, imageSize: 8, seed });
    const store = new InstanceStoreService(resources, storage);
    for (const instance of study) await store.store(Buffer.from(instance.bytes));
    return study.map((i) => parseInstance(i.bytes));
  }

  const exists = async (table: string, id: string) =>
    (await prisma.$queryRawUnsafe<unknown[]>(`SELECT 1 FROM ${table} WHERE id = $1`, id)).length > 0;
  const queued = async () => (await prisma.$queryRaw<{ object_key: string }[]>`SELECT object_key FROM object_deletions ORDER BY 1`).map((r) => r.object_key);

  it('deletes instances and the parents they empty, in one statement, and leaves the rest', async () => {
    const instances = await storeStudies(1);
    const [a, b] = [instances[0].ids, instances[6].ids];
    const firstSeries = instances.filter((i) => i.ids.series === a.series);
    const secondStudy = instances.filter((i) => i.ids.study === b.study);
    expect(firstSeries).toHaveLength(3);
    expect(secondStudy).toHaveLength(6);
    await prisma.resourceMetadata.createMany({
      data: [a.series, b.study, a.study].map((resourceId) => ({ resourceId, name: 'AnonymizedFrom', value: 'x' })),
    });

    // The first study's first series whole, the second study whole, and one ID that is no instance.
    const ids = [...firstSeries, ...secondStudy].map((i) => i.ids.instance);
    const deleted = await deletion.deleteInstances([...ids, 'f'.repeat(8) + '-00000000-00000000-00000000-00000000']);

    expect(deleted.objectKeys.sort()).toEqual(ids.map(objectKeyForInstance).sort());
    const parents = [a.series, b.study, ...new Set(secondStudy.map((i) => i.ids.series))];
    expect(deleted.deletedIds.sort()).toEqual([...ids, ...parents].sort());
    expect(await exists('series', a.series)).toBe(false);
    expect(await exists('studies', a.study)).toBe(true); // its second series is left
    expect(await exists('studies', b.study)).toBe(false);
    expect(await exists('patients', a.patient)).toBe(true);
    expect((await prisma.resourceMetadata.findMany()).map((m) => m.resourceId)).toEqual([a.study]);
    for (const id of ids) expect(await storage.exists(objectKeyForInstance(id))).toBe(false);
    expect(await queued()).toEqual([]);
    expect(await resources.statistics()).toMatchObject({ patients: 1, studies: 1, series: 1, instances: 3 });

    // The rest: the patient goes too. A repeated call finds nothing left to delete.
    const rest = instances.filter((i) => !ids.includes(i.ids.instance)).map((i) => i.ids.instance);
    expect((await deletion.deleteInstances(rest)).deletedIds).toContain(a.patient);
    expect(await deletion.deleteInstances(rest)).toEqual({ objectKeys: [], deletedIds: [] });
    expect(await resources.statistics()).toEqual({ patients: 0, studies: 0, series: 0, instances: 0, totalSize: 0n });
  });

  it('leaves the files of a deletion cut short queued, and the sweep deletes them later', async () => {
    const instances = await storeStudies(2);
    const keys = instances.map((i) => objectKeyForInstance(i.ids.instance));
    // A process that dies after the index's transaction: the rows are gone, the files queued.
    await resources.deleteResource('Patient', instances[0].ids.patient);
    await resources.deleteInstances([]); // nothing: no statement error on an empty batch
    expect(await queued()).toEqual([...keys].sort());
    // One of them uploaded again since, under the same key: its file is the new instance's.
    const again = generateSyntheticStudy({ instances: 12, studies: 2, series: 2, imageSize: 8, seed: 2 })[5];
    await new InstanceStoreService(resources, storage).store(Buffer.from(again.bytes));

    // Not yet: a deletion queued a moment ago may still be on its way.
    expect(await deletion.sweepLeftovers()).toBe(0);
    expect(await queued()).toHaveLength(12);
    // Later: two sweeps at once (two workers) share the work, each file deleted once.
    const later = Date.now() + LEFTOVER_DELETION_AFTER_MS + 1000;
    const swept = await Promise.all([deletion.sweepLeftovers(later), deletion.sweepLeftovers(later)]);
    expect(swept[0] + swept[1]).toBe(11);
    expect(await queued()).toEqual([]);
    for (const [n, key] of keys.entries()) expect(await storage.exists(key)).toBe(n === 5);
    expect(await resources.instanceExists(instances[5].ids.instance)).toBe(true);
  });
});
