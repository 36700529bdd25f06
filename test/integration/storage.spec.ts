import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { BufferPool, OrthancError, OrthancErrorCode } from '@deidflow/common';
import {
  FsStorage,
  INSTANCE_KEY_DIRECTORIES,
  objectKeyForInstance,
  parseS3Endpoint,
  S3Storage,
  SWEEP_MARKER,
  type ObjectStorage,
} from '@deidflow/storage';
import { startS3Server, type S3Server } from '../setup/s3-server';

const MiB = 1024 * 1024;
/** S3's smallest part: keeps the multipart path testable with small streams. */
const S3_PART_SIZE = 5 * MiB;
const INSTANCE_ID = '0a1b2c3d-4e5f6071-8293a4b5-c6d7e8f9-0a1b2c3d';

function s3Storage(endpoint: string, bucket: string): S3Storage {
  return new S3Storage({
    ...parseS3Endpoint(endpoint),
    accessKey: process.env.S3_TEST_ACCESS_KEY ?? 'S3RVER',
    secretKey: process.env.S3_TEST_SECRET_KEY ?? 'S3RVER',
    bucket,
    region: 'us-east-1',
    partSize: S3_PART_SIZE,
    idleTimeoutMs: 5000,
  });
}

/** Yields `chunks`, then fails like a client connection cut in the middle of an upload. */
function failingStream(...chunks: Buffer[]): Readable {
  return Readable.from(
    (async function* () {
      yield* chunks;
      throw new Error('connection reset by peer');
    })(),
  );
}

/** A stream in many small chunks, as an HTTP body arrives. */
function chunkedStream(data: Buffer, chunkSize = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunkSize) chunks.push(data.subarray(i, i + chunkSize));
  return Readable.from(chunks);
}

async function expectOrthancError(promise: Promise<unknown>, code: OrthancErrorCode): Promise<OrthancError> {
  const error = await promise.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(OrthancError);
  expect((error as OrthancError).code).toBe(code);
  return error as OrthancError;
}

/** The contract every driver honours; `largeObjectSize` exceeds the driver's single-request size. */
function describeObjectStorage(
  variant: string,
  setUp: () => Promise<{ storage: ObjectStorage; tearDown(): Promise<void> }>,
  largeObjectSize: number,
): void {
  const driver = variant.split(',')[0];
  describe(`ObjectStorage contract: ${variant}`, () => {
    let storage: ObjectStorage;
    let tearDown: () => Promise<void>;
    // Keys of this run only: the bucket may be shared with other test files.
    const prefix = `contract-${randomUUID()}`;
    const key = (name: string) => `${prefix}/${name}`;

    beforeAll(async () => {
      ({ storage, tearDown } = await setUp());
      await storage.init();
    });
    afterAll(() => tearDown());

    it('is the announced driver and answers ping', async () => {
      expect(storage.driver).toBe(driver);
      await storage.init(); // idempotent
      await expect(storage.ping()).resolves.toBeUndefined();
    });

    it('putIfAbsent writes a new object and leaves an existing one untouched', async () => {
      const first = randomBytes(2000);
      expect(await storage.putIfAbsent(key('once.bin'), first)).toBe(true);
      expect(await storage.putIfAbsent(key('once.bin'), randomBytes(3000))).toBe(false);
      expect((await storage.get(key('once.bin'))).equals(first)).toBe(true);
    });

    it('putIfAbsent: of concurrent writers of one key exactly one wins, and its bytes are kept', async () => {
      const candidates = Array.from({ length: 6 }, () => randomBytes(50_000));
      const written = await Promise.all(candidates.map((data) => storage.putIfAbsent(key('race.bin'), data)));
      // The fs driver refuses to replace; the s3 driver (HEAD then PUT) may let several through,
      // but the object is always one whole candidate.
      expect(written.filter(Boolean).length).toBeGreaterThanOrEqual(1);
      if (driver === 'fs') expect(written.filter(Boolean)).toHaveLength(1);
      const stored = await storage.get(key('race.bin'));
      const winner = candidates.findIndex((data) => data.equals(stored));
      expect(winner).toBeGreaterThanOrEqual(0);
      if (driver === 'fs') expect(written[winner]).toBe(true);
    });

    it('puts and gets a buffer, and overwrites it', async () => {
      const data = randomBytes(1000);
      await storage.put(key('a.bin'), data);
      expect((await storage.get(key('a.bin'))).equals(data)).toBe(true);
      const replacement = Buffer.from('second version');
      await storage.put(key('a.bin'), replacement);
      expect((await storage.get(key('a.bin'))).equals(replacement)).toBe(true);
    });

    it('gets an object into memory of a BufferPool, and the bytes are right on every driver', async () => {
      const pool = new BufferPool({ maxBytes: 4 * MiB, maxIdleBytes: 4 * MiB });
      const first = randomBytes(300_000);
      const second = randomBytes(280_000); // the same size class as the first
      await storage.put(key('pooled-1'), first);
      await storage.put(key('pooled-2'), second);
      const read = await storage.get(key('pooled-1'), pool.acquire);
      expect(read.equals(first)).toBe(true);
      pool.release(read);
      // The next read reuses that memory, over bytes of the first object: only the second's remain.
      const again = await storage.get(key('pooled-2'), pool.acquire);
      expect(again.equals(second)).toBe(true);
      // Read into the pool's memory where the size is known first: the embedded store's synchronous
      // reads, and S3 answers (Content-Length). The fs store's asynchronous path allocates its own.
      if (variant.includes('synchronous') || driver === 's3') expect(again.buffer === read.buffer).toBe(true);
    });

    it('stores instance files under their fanned-out key', async () => {
      const instanceKey = objectKeyForInstance(INSTANCE_ID);
      await storage.put(instanceKey, Buffer.from('DICM'));
      expect((await storage.get(instanceKey)).toString()).toBe('DICM');
      await storage.delete(instanceKey);
    });

    it('stores an empty object', async () => {
      await storage.put(key('empty'), Buffer.alloc(0));
      expect((await storage.get(key('empty'))).length).toBe(0);
      await storage.putStream(key('empty-stream'), Readable.from([]));
      expect(await storage.stat(key('empty-stream'))).toMatchObject({ size: 0 });
    });

    it('streams in and out, with or without a known size', async () => {
      const data = randomBytes(300 * 1024);
      await storage.putStream(key('with-size'), chunkedStream(data), data.length);
      await storage.putStream(key('without-size'), chunkedStream(data));
      for (const name of ['with-size', 'without-size']) {
        expect((await buffer(await storage.getStream(key(name)))).equals(data)).toBe(true);
      }
    });

    it('streams an object larger than one request', async () => {
      const data = randomBytes(largeObjectSize);
      await storage.putStream(key('large'), chunkedStream(data, 1 * MiB));
      await storage.putStream(key('large-sized'), chunkedStream(data, 1 * MiB), data.length);
      for (const name of ['large', 'large-sized']) {
        expect((await storage.get(key(name))).equals(data)).toBe(true);
        expect((await storage.stat(key(name))).size).toBe(data.length);
      }
    });

    it('stats an object', async () => {
      await storage.put(key('stat.bin'), Buffer.alloc(1234, 7));
      const info = await storage.stat(key('stat.bin'));
      expect(info).toMatchObject({ key: key('stat.bin'), size: 1234 });
      // When it was written (S3 keeps whole seconds).
      expect(Math.abs(info.modifiedAt.getTime() - Date.now())).toBeLessThan(60_000);
    });

    it('lists the objects under a prefix, at any depth, with their size and time, and nothing else', async () => {
      const listed = `${prefix}/listing`;
      const keys = [`${listed}/a.bin`, `${listed}/sub/b.bin`, `${listed}/sub/deeper/c.bin`, `${listed}-sibling/d.bin`];
      for (const [i, k] of keys.entries()) await storage.put(k, Buffer.alloc(10 + i, i));
      await storage.putStream(`${listed}/streamed.bin`, Readable.from([Buffer.alloc(5)]), 5);
      const all = async (p: string) => {
        const found = [];
        for await (const object of storage.list(p)) found.push(object);
        return found.sort((a, b) => a.key.localeCompare(b.key));
      };
      const objects = await all(`${listed}/`);
      expect(objects.map(({ key, size }) => ({ key, size }))).toEqual([
        { key: `${listed}/a.bin`, size: 10 },
        { key: `${listed}/streamed.bin`, size: 5 },
        { key: `${listed}/sub/b.bin`, size: 11 },
        { key: `${listed}/sub/deeper/c.bin`, size: 12 },
      ]);
      for (const object of objects) expect(Math.abs(object.modifiedAt.getTime() - Date.now())).toBeLessThan(60_000);
      // A prefix need not end at a directory: it is a prefix of keys.
      expect((await all(`${listed}/sub/de`)).map((o) => o.key)).toEqual([`${listed}/sub/deeper/c.bin`]);
      expect((await all(listed)).map((o) => o.key)).toContain(`${listed}-sibling/d.bin`);
      expect(await all(`${prefix}/nothing-here/`)).toEqual([]);
    });

    it('reports a missing object as InexistentFile (404)', async () => {
      const missing = key('missing.bin');
      const error = await expectOrthancError(storage.get(missing), OrthancErrorCode.InexistentFile);
      expect(error.httpStatus).toBe(404);
      expect(error.details).toContain(missing);
      await expectOrthancError(storage.getStream(missing), OrthancErrorCode.InexistentFile);
      await expectOrthancError(storage.stat(missing), OrthancErrorCode.InexistentFile);
      // A "directory" (a prefix of existing keys) is no object either.
      await storage.put(key('dir/child'), Buffer.from('x'));
      await expectOrthancError(storage.get(key('dir')), OrthancErrorCode.InexistentFile);
      expect(await storage.exists(key('dir'))).toBe(false);
    });

    it('tells whether an object exists', async () => {
      await storage.put(key('here'), Buffer.from('x'));
      expect(await storage.exists(key('here'))).toBe(true);
      expect(await storage.exists(key('not-here'))).toBe(false);
    });

    it('deletes idempotently', async () => {
      await storage.put(key('gone'), Buffer.from('x'));
      await storage.delete(key('gone'));
      expect(await storage.exists(key('gone'))).toBe(false);
      await expect(storage.delete(key('gone'))).resolves.toBeUndefined();
      await expect(storage.delete(key('never-was'))).resolves.toBeUndefined();
    });

    it('deletes many objects, missing ones included', async () => {
      // Top-level keys: s3rver's parallel deletes race when pruning a directory they share (its bug).
      const keys = Array.from({ length: 40 }, (_, i) => `${prefix}-many-${i}`);
      await Promise.all(keys.map((k) => storage.put(k, Buffer.from(k))));
      await storage.deleteMany([...keys, `${prefix}-never-was`]);
      const left = await Promise.all(keys.map((k) => storage.exists(k)));
      expect(left.filter(Boolean)).toHaveLength(0);
      await expect(storage.deleteMany([])).resolves.toBeUndefined();
    });

    it('leaves no object when the source stream fails', async () => {
      const failed = storage.putStream(key('failed'), failingStream(randomBytes(10_000)));
      await expect(failed).rejects.toBeInstanceOf(OrthancError);
      expect(await storage.exists(key('failed'))).toBe(false);
    });

    it('keeps the previous version when a replacing stream fails', async () => {
      await storage.put(key('kept'), Buffer.from('previous'));
      await expect(storage.putStream(key('kept'), failingStream(randomBytes(10_000)))).rejects.toThrow(
        /connection reset by peer/,
      );
      expect((await storage.get(key('kept'))).toString()).toBe('previous');
    });

    it('refuses a stream whose length differs from the announced size', async () => {
      await expectOrthancError(
        storage.putStream(key('short'), Readable.from([Buffer.alloc(10)]), 11),
        OrthancErrorCode.BadRequest,
      );
      expect(await storage.exists(key('short'))).toBe(false);
    });

    it.each(['../escape', '/etc/passwd', 'a//b', 'a/./b', 'with space', 'semi;colon', 'ünïcode', ''])(
      'refuses the key %j on every operation',
      async (badKey) => {
        const code = OrthancErrorCode.ParameterOutOfRange;
        await expectOrthancError(storage.put(badKey, Buffer.from('x')), code);
        await expectOrthancError(storage.putStream(badKey, Readable.from([Buffer.from('x')])), code);
        await expectOrthancError(storage.get(badKey), code);
        await expectOrthancError(storage.getStream(badKey), code);
        await expectOrthancError(storage.stat(badKey), code);
        await expectOrthancError(storage.exists(badKey), code);
        await expectOrthancError(storage.delete(badKey), code);
        await expectOrthancError(storage.deleteMany([key('fine'), badKey]), code);
      },
    );
  });
}

/** The files under `directory`, but the store's own sweep marker. */
async function listFiles(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name !== SWEEP_MARKER).map((e) => join(e.parentPath, e.name));
}

describeObjectStorage(
  'fs',
  async () => {
    const directory = await mkdtemp(join(tmpdir(), 'deidflow-fs-storage-'));
    return {
      storage: new FsStorage(join(directory, 'store')),
      tearDown: () => rm(directory, { recursive: true, force: true }),
    };
  },
  3 * MiB,
);

// The product's default: objects up to a limit use synchronous calls, the large one above it asynchronous ones.
describeObjectStorage(
  'fs, synchronous calls up to 1 MiB',
  async () => {
    const directory = await mkdtemp(join(tmpdir(), 'deidflow-fs-storage-'));
    return {
      storage: new FsStorage(join(directory, 'store'), { syncIoMaxBytes: 1 * MiB }),
      tearDown: () => rm(directory, { recursive: true, force: true }),
    };
  },
  3 * MiB,
);

describeObjectStorage(
  's3',
  async () => {
    const endpoint = process.env.S3_TEST_ENDPOINT;
    const bucket = process.env.S3_TEST_BUCKET;
    if (!endpoint || !bucket) {
      throw new Error('S3_TEST_ENDPOINT/S3_TEST_BUCKET missing: is test/setup/global-setup.ts used?');
    }
    return { storage: s3Storage(endpoint, bucket), tearDown: async () => undefined };
  },
  2 * S3_PART_SIZE + 1 * MiB,
);

describe('FsStorage directories made at init', () => {
  let directory: string;
  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'deidflow-fs-directories-'));
    await writeFile(join(directory, SWEEP_MARKER), ''); // no background sweep
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  async function listDirectories(): Promise<string[]> {
    const entries = await readdir(directory, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(e.parentPath, e.name)).sort();
  }

  it('holds every instance directory from the start: writing an instance creates none', async () => {
    for (const syncIoMaxBytes of [0, 4 * MiB]) {
      const storage = new FsStorage(directory, { syncIoMaxBytes, directories: INSTANCE_KEY_DIRECTORIES });
      await storage.init();
      const before = await listDirectories();
      expect(before).toHaveLength(INSTANCE_KEY_DIRECTORIES.length + 1); // and instances/ itself
      const id = `${randomBytes(4).toString('hex')}-00000000-00000000-00000000-00000000`;
      await storage.putIfAbsent(objectKeyForInstance(id), Buffer.from('DICM'));
      await storage.put(objectKeyForInstance(id.replace(/^./, 'f')), randomBytes(10_000));
      expect(await listDirectories()).toEqual(before);
    }
  });

  it('completes the directories of a store whose first start stopped midway, and keeps what it holds', async () => {
    const directories = ['d/0', 'd/1', 'd/2'];
    await new FsStorage(directory, { directories }).init();
    await rm(join(directory, 'd/2'), { recursive: true });
    await rm(join(directory, 'd/1'), { recursive: true });
    const kept = new FsStorage(directory, { directories });
    await kept.init();
    await kept.put('d/0/object', Buffer.from('kept'));
    expect(await listDirectories()).toEqual([join(directory, 'd'), ...directories.map((d) => join(directory, d))]);
    await new FsStorage(directory, { directories }).init();
    expect((await kept.get('d/0/object')).toString()).toBe('kept');
  });

  it('refuses a directory that is not a valid key', () => {
    expect(() => new FsStorage(directory, { directories: ['../outside'] })).toThrow(OrthancError);
  });
});

describe.each([
  ['asynchronous calls', 0],
  ['synchronous calls up to 4 MiB', 4 * MiB],
])('FsStorage atomic writes, %s', (_mode, syncIoMaxBytes) => {
  let directory: string;
  let storage: FsStorage;

  beforeEach(async () => {
    directory = await mkdtemp(join(tmpdir(), 'deidflow-fs-atomic-'));
    // A store swept just now: init() starts no background sweep that would race with a test's files.
    await writeFile(join(directory, SWEEP_MARKER), '');
    storage = new FsStorage(directory, { syncIoMaxBytes });
    await storage.init();
  });
  afterEach(() => rm(directory, { recursive: true, force: true }));

  it('leaves only the objects behind, no temporary file', async () => {
    await storage.put('a/b/one', Buffer.from('1'));
    await storage.putStream('a/b/two', chunkedStream(randomBytes(200_000)));
    await storage.put('a/b/one', Buffer.from('1 again'));
    await storage.putIfAbsent('a/b/three', Buffer.from('3'));
    await storage.putIfAbsent('a/b/three', Buffer.from('3 again'));
    expect((await listFiles(directory)).sort()).toEqual([join(directory, 'a/b/one'), join(directory, 'a/b/three'), join(directory, 'a/b/two')]);
  });

  it('sweeps at start at most once a day among the processes sharing the store', async () => {
    const marker = join(directory, SWEEP_MARKER);
    const abandoned = join(directory, '.lost~0123456789ab.tmp');
    const yesterday = new Date(Date.now() - 25 * 3_600_000);
    const exists = (path: string) => stat(path).then(() => true, () => false);
    const waitUntilSwept = async () => {
      for (let i = 0; i < 100 && (await exists(abandoned)); i++) await new Promise((r) => setTimeout(r, 10));
    };
    const leaveAbandoned = async () => {
      await writeFile(abandoned, 'x');
      await utimes(abandoned, yesterday, yesterday);
    };
    // The first start of a store (no marker) sweeps, and leaves the marker.
    await rm(marker);
    await leaveAbandoned();
    await new FsStorage(directory, { syncIoMaxBytes }).init();
    await waitUntilSwept();
    expect(await exists(abandoned)).toBe(false);
    expect(await exists(marker)).toBe(true);
    // A second process starting now does not sweep.
    await leaveAbandoned();
    await new FsStorage(directory, { syncIoMaxBytes }).init();
    await new Promise((r) => setTimeout(r, 100));
    expect(await exists(abandoned)).toBe(true);
    // A day later, the next start sweeps.
    await utimes(marker, yesterday, yesterday);
    await new FsStorage(directory, { syncIoMaxBytes }).init();
    await waitUntilSwept();
    expect(await exists(abandoned)).toBe(false);
  });

  it('sweeps away the temporary files of writers that died, and nothing else', async () => {
    await storage.put('instances/ab/cd/kept.dcm', Buffer.from('kept'));
    const abandoned = join(directory, 'instances/ab/cd/.lost.dcm~0123456789ab.tmp');
    const inFlight = join(directory, 'instances/ab/.new.dcm~ba9876543210.tmp');
    const lookalike = join(directory, 'instances/ab/cd/notes.tmp');
    for (const path of [abandoned, inFlight, lookalike]) await writeFile(path, 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 3_600_000);
    for (const path of [abandoned, lookalike]) await utimes(path, twoHoursAgo, twoHoursAgo);
    expect(await storage.sweepAbandonedTemporaries()).toBe(1);
    expect((await listFiles(directory)).sort()).toEqual([inFlight, join(directory, 'instances/ab/cd/kept.dcm'), lookalike].sort());
    // A write in progress is not an object; the sweep's marker is not one either.
    const listed: string[] = [];
    for await (const object of storage.list('')) listed.push(object.key);
    expect(listed.sort()).toEqual(['instances/ab/cd/kept.dcm', 'instances/ab/cd/notes.tmp']);
  });

  it('removes the temporary file of a failed stream', async () => {
    await storage.put('x/kept', Buffer.from('kept'));
    await expect(storage.putStream('x/failed', failingStream(randomBytes(100_000)))).rejects.toThrow(OrthancError);
    await expect(storage.putStream('x/kept', failingStream(randomBytes(100_000)))).rejects.toThrow(OrthancError);
    expect(await listFiles(directory)).toEqual([join(directory, 'x/kept')]);
  });

  it('never shows a partial object to a concurrent reader', async () => {
    const versions = [randomBytes(2 * MiB), randomBytes(2 * MiB)];
    await storage.put('race', versions[0]);
    const reads: Buffer[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing) reads.push(await storage.get('race'));
    })();
    for (let i = 0; i < 10; i++) {
      if (i % 3 === 0) await storage.put('race', versions[i % 2]);
      else await storage.putStream('race', chunkedStream(versions[i % 2]));
    }
    writing = false;
    await reader;
    expect(reads.length).toBeGreaterThan(0);
    for (const read of reads) expect(read.equals(versions[0]) || read.equals(versions[1])).toBe(true);
    expect(await listFiles(directory)).toEqual([join(directory, 'race')]);
  });
});

describe('S3Storage', () => {
  it('creates its bucket on init', async () => {
    const storage = s3Storage(process.env.S3_TEST_ENDPOINT ?? '', `created-${Date.now()}`);
    await expectOrthancError(storage.ping(), OrthancErrorCode.InternalError);
    await storage.init();
    await storage.init();
    await expect(storage.ping()).resolves.toBeUndefined();
  });

  it('leaves no object when a multipart upload fails after its first part', async () => {
    const storage = s3Storage(process.env.S3_TEST_ENDPOINT ?? '', process.env.S3_TEST_BUCKET ?? '');
    const key = `multipart-${randomUUID()}`;
    await expect(storage.putStream(key, failingStream(randomBytes(S3_PART_SIZE + 1)))).rejects.toThrow(OrthancError);
    expect(await storage.exists(key)).toBe(false);
  });

  describe('when the server goes away', () => {
    let directory: string;
    let server: S3Server;
    let storage: S3Storage;

    beforeAll(async () => {
      // Our own directory, so that the objects survive a stop() and a restart.
      directory = await mkdtemp(join(tmpdir(), 'deidflow-s3-faults-'));
      server = await startS3Server({ directory, buckets: ['faults'] });
      storage = s3Storage(server.endpoint, 'faults');
    });
    afterAll(async () => {
      await server.stop().catch(() => undefined);
      await rm(directory, { recursive: true, force: true });
    });

    it('fails with retryable errors while it is down, then works again', async () => {
      await storage.put('before', Buffer.from('stored before the outage'));
      await server.stop();
      const attempts = [
        () => storage.put('during', Buffer.from('x')),
        () => storage.get('before'),
        () => storage.exists('before'),
        () => storage.ping(),
      ];
      for (const attempt of attempts) {
        const error = await expectOrthancError(attempt(), OrthancErrorCode.InternalError);
        expect(error.isPermanent).toBe(false);
        expect(error.httpStatus).toBe(503);
        // Refused, or reset when a pooled keep-alive socket to the dead server is reused.
        expect(error.details).toMatch(/ECONNREFUSED|ECONNRESET/);
      }
      server = await startS3Server({ port: server.port, directory, buckets: ['faults'] });
      expect((await storage.get('before')).toString()).toBe('stored before the outage');
      await storage.put('after', Buffer.from('x'));
    });
  });

  it('reports an answer cut short as a retryable error, read into a pool or not', async () => {
    // Every GET announces 1,000 bytes, sends 500 and closes the connection.
    const cutting = (socket: Socket) =>
      socket.once('data', () => {
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n' + 'x'.repeat(500));
      });
    await againstRawServer(cutting, 2000, async (storage) => {
      const pool = new BufferPool({ maxBytes: MiB, maxIdleBytes: MiB });
      for (const allocate of [undefined, pool.acquire]) {
        const error = await storage.get('x', allocate).then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(error).toBeInstanceOf(OrthancError);
        expect((error as OrthancError).isPermanent).toBe(false);
      }
    });
  });

  it('writes with If-None-Match: *, and a 412 (created meanwhile by another writer) means already there', async () => {
    // A server with conditional writes (MinIO, S3), played by hand: the HEAD finds nothing, then
    // another writer wins the race, so the conditional PUT is refused.
    const requests: Pick<IncomingMessage, 'method' | 'headers'>[] = [];
    const server = createHttpServer((request, response) => {
      requests.push({ method: request.method, headers: request.headers });
      request.resume().on('end', () => {
        if (request.method === 'HEAD') response.writeHead(404).end();
        else {
          response.writeHead(412, { 'content-type': 'application/xml' });
          response.end('<?xml version="1.0" encoding="UTF-8"?><Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>');
        }
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const storage = new S3Storage({ ...parseS3Endpoint(`http://127.0.0.1:${port}`), accessKey: 'a', secretKey: 'b', bucket: 'any', region: 'us-east-1' });
      expect(await storage.putIfAbsent('instances/raced.dcm', Buffer.from('mine'))).toBe(false);
      expect(requests.map((r) => r.method)).toEqual(['HEAD', 'PUT']);
      expect(requests[1].headers['if-none-match']).toBe('*');
    } finally {
      server.close();
    }
  });

  it('signs and checksums a PUT with the SHA-256 it is given (or its own), and hashes nothing else', async () => {
    const puts: { headers: IncomingMessage['headers']; body: Buffer }[] = [];
    const server = createHttpServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        puts.push({ headers: request.headers, body: Buffer.concat(chunks) });
        response.writeHead(200, { etag: '"e"' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const storage = new S3Storage({ ...parseS3Endpoint(`http://127.0.0.1:${port}`), accessKey: 'a', secretKey: 'b', bucket: 'any', region: 'us-east-1' });
      const data = Buffer.from('DICM bytes');
      const digest = createHash('sha256').update(data).digest();
      const other = createHash('sha256').update('other bytes').digest();
      await storage.put('instances/a.dcm', data);
      await storage.put('instances/b.dcm', data, digest.toString('hex'));
      // The caller's digest is trusted as given: S3 and MinIO refuse bytes that do not match it.
      await storage.put('instances/c.dcm', data, other.toString('hex'));
      expect(puts.map((p) => [p.headers['x-amz-content-sha256'], p.headers['x-amz-checksum-sha256'], p.headers['content-md5']])).toEqual([
        [digest.toString('hex'), digest.toString('base64'), undefined],
        [digest.toString('hex'), digest.toString('base64'), undefined],
        [other.toString('hex'), other.toString('base64'), undefined],
      ]);
      expect(puts.every((p) => p.body.equals(data) && p.headers['content-length'] === String(data.length))).toBe(true);
    } finally {
      server.close();
    }
  });

  it('gives up on a server that accepts but never answers', async () => {
    await againstRawServer(() => undefined, 300, async (storage) => {
      const error = await expectOrthancError(storage.stat('x'), OrthancErrorCode.InternalError);
      expect(error.details).toMatch(/ETIMEDOUT/);
      expect(error.isPermanent).toBe(false);
      expect(error.httpStatus).toBe(503);
    });
  });
});

/** An S3Storage pointed at a raw TCP server of the test's (`onConnection` plays the server). */
async function againstRawServer(onConnection: (socket: Socket) => void, idleTimeoutMs: number, use: (storage: S3Storage) => Promise<void>): Promise<void> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  try {
    await use(
      new S3Storage({ ...parseS3Endpoint(`http://127.0.0.1:${port}`), accessKey: 'a', secretKey: 'b', bucket: 'any', region: 'us-east-1', idleTimeoutMs }),
    );
  } finally {
    server.close();
  }
}
