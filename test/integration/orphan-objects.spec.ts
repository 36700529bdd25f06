import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { loadConfig } from '@deidflow/config';
import { InstanceStoreService, OrphanObjectService } from '@deidflow/core';
import { ObjectDeletionRepository, PrismaService, ResourceRepository } from '@deidflow/database';
import { generateSyntheticStudy, parseInstance } from '@deidflow/dicom';
import { FsStorage, objectKeyForInstance, parseS3Endpoint, S3Storage, type ObjectStorage } from '@deidflow/storage';
import { InstanceMemoryBudget } from '../../apps/worker/src/handlers/instance-memory-budget';
import { OrphanObjectSweeper } from '../../apps/worker/src/handlers/orphan-object-sweeper';
import { WorkerMetrics } from '../../apps/worker/src/metrics/worker-metrics';
import { resetDatabase } from '../support/app-harness';
import { testDatabase } from '../support/database';

const HOUR = 60 * 60_000;

/**
 * The store's orphan objects (instance files no index row points to) on the real Postgres, on an
 * fs store and on the S3 test server: which go, which stay, and the lock that keeps the sweep from
 * deleting an orphan that its instance, stored again, is replacing.
 */
describe.each(['fs', 's3'] as const)('orphan objects (real Postgres, %s store)', (driver) => {
  const database = testDatabase();
  let prisma: PrismaService;
  let deletions: ObjectDeletionRepository;
  let storage: ObjectStorage;
  let store: InstanceStoreService;
  let orphans: OrphanObjectService;
  let directory: string | undefined;

  beforeAll(() => {
    prisma = database();
    deletions = new ObjectDeletionRepository(prisma);
  });
  beforeEach(async () => {
    await resetDatabase();
    if (driver === 'fs') {
      directory = await mkdtemp(join(tmpdir(), 'deidflow-orphans-'));
      storage = new FsStorage(directory);
    } else {
      // A bucket of its own: the sweep lists every instance object of its store.
      storage = new S3Storage({
        ...parseS3Endpoint(process.env.S3_TEST_ENDPOINT!),
        accessKey: process.env.S3_TEST_ACCESS_KEY ?? 'S3RVER',
        secretKey: process.env.S3_TEST_SECRET_KEY ?? 'S3RVER',
        bucket: `orphans-${randomUUID().slice(0, 8)}`,
        region: 'us-east-1',
      });
    }
    await storage.init();
    store = new InstanceStoreService(new ResourceRepository(prisma), deletions, storage);
    orphans = new OrphanObjectService(deletions, storage);
  });
  afterEach(() => (directory ? rm(directory, { recursive: true, force: true }) : undefined));

  /** Three instances: the first two indexed with their files, the third's file written alone (an orphan). */
  async function storeWithOrphan(seed: number) {
    const [indexed, queued, orphan] = generateSyntheticStudy({ instances: 3, imageSize: 8, seed }).map((i) => Buffer.from(i.bytes));
    const ids = [];
    for (const bytes of [indexed, queued]) ids.push((await store.store(bytes)).parsed.ids.instance);
    const orphanId = parseInstance(orphan).ids.instance;
    await storage.put(objectKeyForInstance(orphanId), orphan);
    return { indexedId: ids[0], queuedId: ids[1], orphanId, orphan };
  }

  it('deletes the old objects no index row points to, and nothing else', async () => {
    const { indexedId, queuedId, orphanId } = await storeWithOrphan(1);
    // A file whose deletion is queued (its rows gone, the deletion cut short) is the deletion sweep's.
    await prisma.$executeRawUnsafe('DELETE FROM instances WHERE id = $1', queuedId);
    await prisma.$executeRawUnsafe(`INSERT INTO object_deletions (object_key, instance_id, deletion_id) VALUES ($1, $2, $3::uuid)`, objectKeyForInstance(queuedId), queuedId, randomUUID());
    await storage.put('instances/not-an-instance.bin', Buffer.from('x'));
    await storage.put('exports/report.zip', Buffer.from('x'));

    // Written just now: too young to be an orphan (a write about to be indexed).
    expect(await orphans.deleteOrphans(HOUR)).toEqual({ examined: 0, deleted: 0 });
    expect(await storage.exists(objectKeyForInstance(orphanId))).toBe(true);

    // Two hours later.
    expect(await orphans.deleteOrphans(HOUR, Date.now() + 2 * HOUR)).toEqual({ examined: 3, deleted: 1 });
    expect(await storage.exists(objectKeyForInstance(orphanId))).toBe(false);
    for (const id of [indexedId, queuedId]) expect(await storage.exists(objectKeyForInstance(id))).toBe(true);
    for (const key of ['instances/not-an-instance.bin', 'exports/report.zip']) expect(await storage.exists(key)).toBe(true);
    expect((await store.readFile((await new ResourceRepository(prisma).findInstance(indexedId))!)).length).toBeGreaterThan(0);
  });

  it('lets the instance of an orphan be stored again afterwards', async () => {
    const { orphanId, orphan } = await storeWithOrphan(2);
    expect((await orphans.deleteOrphans(HOUR, Date.now() + 2 * HOUR)).deleted).toBe(1);
    const { status } = await store.store(orphan);
    expect(status).toBe('Success');
    expect(await storage.exists(objectKeyForInstance(orphanId))).toBe(true);
    expect((await orphans.deleteOrphans(HOUR, Date.now() + 2 * HOUR)).deleted).toBe(0);
  });

  if (driver === 'fs') {
    it('waits for an orphan being replaced by its instance stored again, then sees it fresh and keeps it', async () => {
      const { orphanId, orphan } = await storeWithOrphan(3);
      const key = objectKeyForInstance(orphanId);
      const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
      await utimes(join(directory!, key), twoHoursAgo, twoHoursAgo);

      let sweep: Promise<{ examined: number; deleted: number }> | undefined;
      let presentDuringTheWrite: boolean | undefined;
      const replaced = await deletions.replaceUnindexed(key, orphanId, async () => {
        // The object's lock is held: the sweep, started now, must wait for it rather than delete.
        sweep = orphans.deleteOrphans(HOUR);
        await new Promise((resolve) => setTimeout(resolve, 500));
        presentDuringTheWrite = await storage.exists(key);
        await storage.put(key, orphan);
      });
      expect(replaced).toBe(true);
      expect(presentDuringTheWrite).toBe(true);
      expect(await sweep).toEqual({ examined: 1, deleted: 0 });
      expect(await storage.exists(key)).toBe(true);
    });
  }
});

describe('OrphanObjectSweeper: one sweep per interval across the workers', () => {
  const database = testDatabase();
  const prefix = `deidflow-orphan-claim-${randomUUID().slice(0, 8)}`;
  let directory: string;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), 'deidflow-orphans-'));
  });
  afterAll(async () => {
    const redis = new Redis(loadConfig(process.env).REDIS_URL);
    await redis.del(`${prefix}:maintenance:orphan-sweep`);
    redis.disconnect();
    await rm(directory, { recursive: true, force: true });
  });

  it('sweeps in the first worker that asks, not in the others until the interval has passed', async () => {
    const storage = new FsStorage(directory);
    await storage.init();
    const config = { ...loadConfig(process.env), QUEUE_PREFIX: prefix, STORE_ORPHAN_SWEEP_INTERVAL_MS: 1500, STORE_ORPHAN_MIN_AGE_MS: HOUR };
    const metrics = new WorkerMetrics(new InstanceMemoryBudget(config));
    const sweeper = () => new OrphanObjectSweeper(config, new OrphanObjectService(new ObjectDeletionRepository(database()), storage), metrics);
    const [first, second] = [sweeper(), sweeper()];
    // An orphan two hours old: the sweep that runs deletes it, and counts it.
    const orphanKey = objectKeyForInstance('0a1b2c3d-4e5f6071-8293a4b5-c6d7e8f9-0a1b2c3d');
    await storage.put(orphanKey, Buffer.from('DICM'));
    const twoHoursAgo = new Date(Date.now() - 2 * HOUR);
    await utimes(join(directory, orphanKey), twoHoursAgo, twoHoursAgo);
    expect(await first.sweepIfDue()).toBe(true);
    expect(await storage.exists(orphanKey)).toBe(false);
    expect(await metrics.registry.getSingleMetricAsString('deidflow_store_orphan_objects_deleted_total')).toMatch(/_total 1$/m);
    expect(await second.sweepIfDue()).toBe(false);
    expect(await first.sweepIfDue()).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 1600));
    expect(await second.sweepIfDue()).toBe(true);
  });
});
