import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, fsync, ftruncateSync, mkdirSync, openSync, readSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { access, link, mkdir, open, opendir, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Readable } from 'node:stream';
import { Allocate, OrthancError, OrthancErrorCode } from '@deidflow/common';
import { assertValidObjectKey } from './object-key';
import { readChunks } from './read-chunks';
import {
  inexistentObject,
  existsByStat,
  streamSizeMismatch,
  type ObjectStat,
  type ObjectStorage,
} from './object-storage';

const DELETE_CONCURRENCY = 32;
/** temporaryPathFor's names. */
const TEMPORARY_NAME = /^\..+~[0-9a-f]{12}\.tmp$/;
/** A temporary file this old belongs to no write in progress: its writer died. */
const ABANDONED_AFTER_MS = 60 * 60_000;
/**
 * When the last sweep started (its mtime), so that the processes sharing a store walk it at most
 * once a day between them. `~` is in no valid key: it cannot clash with an object.
 */
export const SWEEP_MARKER = '~last-sweep';
const SWEEP_EVERY_MS = 24 * 60 * 60_000;

export interface FsStorageOptions {
  /**
   * Objects up to this size are read and written with synchronous system calls, all but the
   * fsyncs (see the class comment); 0 keeps every call asynchronous.
   */
  syncIoMaxBytes?: number;
  /**
   * Directories (keys' prefixes, such as INSTANCE_KEY_DIRECTORIES) made, and made durable, at init:
   * writes then never create them one by one.
   */
  directories?: readonly string[];
}

/**
 * Objects as files under one directory. Writes go to a temporary file next to the target
 * (same filesystem), are fsync'ed, then renamed over it: a reader or a crash never sees half
 * a file. Temporary names contain `~`, which no valid key may contain, so they never clash.
 * The exception, for speed, is putIfAbsent of a small object (createSmall): written in place.
 *
 * Objects up to `syncIoMaxBytes` (a CT or MR slice) use synchronous open/read/write/close/rename
 * calls, and only the fsyncs, which wait for the disk, go to the thread pool. On a local
 * filesystem those calls are page-cache work of microseconds, while every thread-pool round trip
 * costs a wake-up: on the 2-vCPU VMs of BENCHMARKS.md an async read of a 527 kB object took
 * ~2.4 ms against ~0.14 ms, and a write went from ~10 round trips to 2 (+22% job throughput).
 * Larger objects (multi-frame), or any object with syncIoMaxBytes = 0 (say, a network
 * filesystem), use asynchronous calls throughout.
 */
export class FsStorage implements ObjectStorage {
  readonly driver = 'fs' as const;
  readonly root: string;
  private readonly syncIoMaxBytes: number;
  private readonly directories: readonly string[];

  constructor(directory: string, options: FsStorageOptions = {}) {
    this.root = resolve(directory);
    this.syncIoMaxBytes = options.syncIoMaxBytes ?? 0;
    this.directories = options.directories ?? [];
    this.directories.forEach(assertValidObjectKey);
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true }).catch((err) => {
      throw fsError(err, 'create the storage directory', this.root);
    });
    await this.makeDirectories().catch((err) => {
      throw fsError(err, 'create the directories of', this.root);
    });
    // In the background: a large store has many directories, and nothing waits for this.
    void this.sweepIfDue().catch(() => undefined);
  }

  /**
   * The directories of options.directories, made once per store (in order: when the last one is
   * there, all are) and durable in their parents before this process writes anything. Otherwise a
   * young store created a directory for nearly every object: a failed open, a mkdir and one more
   * directory fsync per write (BENCHMARKS.md, ninth session). Every start syncs the parents again:
   * another process may have just made the directories and not synced them yet.
   */
  private async makeDirectories(): Promise<void> {
    if (this.directories.length === 0) return;
    const paths = this.directories.map((directory) => join(this.root, directory));
    if (!existsSync(paths[paths.length - 1])) for (const path of paths) mkdirSync(path, { recursive: true });
    const parents = new Set<string>();
    for (const path of paths) {
      for (let parent = dirname(path); parent.startsWith(this.root) && !parents.has(parent); parent = dirname(parent)) parents.add(parent);
    }
    await Promise.all([...parents].map(syncDirectory));
  }

  /** sweepAbandonedTemporaries, unless a process sharing this store started one within a day. */
  private async sweepIfDue(): Promise<void> {
    const marker = join(this.root, SWEEP_MARKER);
    const last = await stat(marker).then((info) => info.mtimeMs, () => 0);
    if (Date.now() - last < SWEEP_EVERY_MS) return;
    await writeFile(marker, `${new Date().toISOString()}\n`);
    await this.sweepAbandonedTemporaries();
  }

  /**
   * Removes the temporary files of writes whose process died before renaming or linking them
   * (older than an hour: no write takes that long). Walks the store one directory at a time.
   * Resolves to the number removed.
   */
  async sweepAbandonedTemporaries(olderThanMs = ABANDONED_AFTER_MS): Promise<number> {
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    for await (const { name, path } of filesUnder(this.root, '')) {
      if (!TEMPORARY_NAME.test(name)) continue;
      const info = await stat(path).catch(() => undefined);
      if (info && info.mtimeMs < cutoff && (await unlink(path).then(() => true, () => false))) removed++;
    }
    return removed;
  }

  async put(key: string, data: Buffer): Promise<void> {
    if (this.isSmall(data.length)) {
      await this.writeSmall(key, data);
      return;
    }
    await this.writeAtomically(key, async (file) => {
      await file.writeFile(data);
    });
  }

  /**
   * Nothing is replaced, even by a concurrent writer: a small object is created under its name with
   * O_EXCL (see createSmall); a large one is written aside and linked to its name, which fails when
   * the name exists. A cheap existence check first spares the write of an object already there.
   */
  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    if (this.isSmall(data.length)) return this.createSmall(key, data);
    if (existsSync(this.pathOf(key))) return false;
    let created = true;
    await this.writeAtomically(
      key,
      (file) => file.writeFile(data),
      async (temporary, path) => {
        created = await linkUnlessExists(temporary, path);
        await unlink(temporary);
      },
    );
    return created;
  }

  async putStream(key: string, stream: Readable, size?: number): Promise<void> {
    await this.writeAtomically(key, async (file) => {
      let written = 0;
      for await (const chunk of readChunks(stream, key)) {
        await file.writeFile(chunk); // unlike write(), loops until the whole chunk is written
        written += chunk.length;
      }
      if (size !== undefined && written !== size) throw streamSizeMismatch(key, size, written);
    });
  }

  /** Small objects are read synchronously (see the class comment): one open, fstat, read, close. */
  async get(key: string, allocate: Allocate = Buffer.allocUnsafe): Promise<Buffer> {
    const path = this.pathOf(key);
    let data: Buffer | undefined;
    try {
      data = this.syncIoMaxBytes > 0 ? readSmallFileSync(path, this.syncIoMaxBytes, allocate) : undefined;
      if (!data) return await readFileInto(path, allocate);
    } catch (err) {
      throw missingOr(err, key, 'read');
    }
    // A loop of reads must not hold the event loop: let pending I/O run between two of them.
    await new Promise(setImmediate);
    return data;
  }

  async getStream(key: string): Promise<Readable> {
    const path = this.pathOf(key);
    // Opening first reports a missing object here rather than as a later stream error.
    let file: FileHandle;
    try {
      file = await open(path, 'r');
    } catch (err) {
      throw missingOr(err, key, 'open');
    }
    return file.createReadStream();
  }

  async stat(key: string): Promise<ObjectStat> {
    const path = this.pathOf(key);
    try {
      const info = await stat(path);
      if (!info.isFile()) throw inexistentObject(key);
      return { key, size: info.size, modifiedAt: info.mtime };
    } catch (err) {
      throw missingOr(err, key, 'stat');
    }
  }

  async exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
  }

  /** Temporary files of writes in progress are not objects. */
  async *list(prefix: string): AsyncIterable<ObjectStat> {
    // The deepest directory the prefix names whole: `instances/0a` of `instances/0a1`.
    const slash = prefix.lastIndexOf('/');
    const start = slash < 0 ? '' : prefix.slice(0, slash);
    if (start !== '') assertValidObjectKey(start);
    const files = filesUnder(start === '' ? this.root : join(this.root, start), start === '' ? '' : `${start}/`, (key) => key.startsWith(prefix) || prefix.startsWith(key + '/'));
    try {
      for await (const { key, name, path } of files) {
        if (!key.startsWith(prefix) || TEMPORARY_NAME.test(name) || key === SWEEP_MARKER) continue;
        const info = await stat(path).catch(() => undefined); // deleted meanwhile
        if (info) yield { key, size: info.size, modifiedAt: info.mtime };
      }
    } catch (err) {
      throw fsError(err, 'list', prefix || '/');
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathOf(key);
    try {
      await unlink(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(err, 'delete', key);
    }
  }

  async deleteMany(keys: string[]): Promise<void> {
    keys.forEach(assertValidObjectKey);
    for (let i = 0; i < keys.length; i += DELETE_CONCURRENCY) {
      await Promise.all(keys.slice(i, i + DELETE_CONCURRENCY).map((key) => this.delete(key)));
    }
  }

  async ping(): Promise<void> {
    await access(this.root, constants.R_OK | constants.W_OK).catch((err) => {
      throw fsError(err, 'access the storage directory', this.root);
    });
  }

  /** Handled with synchronous calls (see the class comment). */
  private isSmall(size: number): boolean {
    return this.syncIoMaxBytes > 0 && size <= this.syncIoMaxBytes;
  }

  private pathOf(key: string): string {
    assertValidObjectKey(key);
    return join(this.root, key);
  }

  /**
   * putIfAbsent for a small object, written in place: created under its own name with O_EXCL (an
   * existing object is left alone, false returned), filled by synchronous writes, then the file and
   * its directory fsynced. No temporary name, no link: one directory change instead of three, and
   * the directory's fsync finds it already in the journal commit that the file's fsync waited for.
   *
   * The price: until the call resolves the object may be incomplete, in another process's view
   * and after a crash (see ObjectStorage.putIfAbsent). A failed call empties its file rather than
   * unlinking the name, which another writer's whole object may have taken meanwhile.
   */
  private async createSmall(key: string, data: Buffer): Promise<boolean> {
    const path = this.pathOf(key);
    let fd: number;
    let newDirectories: string | undefined;
    try {
      ({ fd, newDirectories } = openNewSync(path, this.root));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw fsError(err, 'create a file for', key);
    }
    try {
      writeFullySync(fd, data);
      await fsyncAsync(fd);
    } catch (err) {
      ignoreErrors(() => ftruncateSync(fd)); // frees the space (ENOSPC) of what no index will point to
      throw fsError(err, 'write', key);
    } finally {
      ignoreErrors(() => closeSync(fd)); // after a successful fsync, nothing of the write depends on it
    }
    await syncNewEntry(dirname(path), newDirectories, key);
    return true;
  }

  /** writeAtomically for a small object: synchronous calls but the two fsyncs (file, then directory). */
  private async writeSmall(key: string, data: Buffer): Promise<void> {
    const path = this.pathOf(key);
    const directory = dirname(path);
    const temporary = temporaryPathFor(path);
    let fd: number;
    let newDirectories: string | undefined;
    try {
      ({ fd, newDirectories } = openNewSync(temporary, this.root));
    } catch (err) {
      throw fsError(err, 'create a file for', key);
    }
    try {
      writeFullySync(fd, data);
      await fsyncAsync(fd);
      closeSync(fd);
      fd = -1;
      renameSync(temporary, path);
    } catch (err) {
      if (fd >= 0) ignoreErrors(() => closeSync(fd));
      ignoreErrors(() => unlinkSync(temporary));
      throw err instanceof OrthancError ? err : fsError(err, 'write', key);
    }
    await syncNewEntry(directory, newDirectories, key);
  }

  /** `publish` gives the finished temporary file its name (default: rename over any previous object). */
  private async writeAtomically(
    key: string,
    write: (file: FileHandle) => Promise<void>,
    publish: (temporary: string, path: string) => Promise<void> = rename,
  ): Promise<void> {
    const path = this.pathOf(key);
    const directory = dirname(path);
    const temporary = temporaryPathFor(path);
    const { file, newDirectories } = await openNew(temporary, this.root).catch((err) => {
      throw fsError(err, 'create a file for', key);
    });
    try {
      await write(file);
      await file.sync();
      await file.close();
      await publish(temporary, path);
    } catch (err) {
      await file.close().catch(() => undefined);
      await unlink(temporary).catch(() => undefined);
      throw err instanceof OrthancError ? err : fsError(err, 'write', key);
    }
    await Promise.all(directoriesToSync(directory, newDirectories).map(syncDirectory)).catch((err) => {
      throw fsError(err, 'sync the directory of', key);
    });
  }
}

/**
 * The regular files under `directory` (keys from `keyPrefix`), in the subdirectories `enter` accepts,
 * depth first. A directory is read, then closed, before its subdirectories: one directory handle
 * open at a time. The requests and jobs of this process run between two directories. A directory
 * deleted meanwhile is skipped.
 */
async function* filesUnder(
  directory: string,
  keyPrefix: string,
  enter: (key: string) => boolean = () => true,
): AsyncGenerator<{ key: string; name: string; path: string }> {
  await new Promise(setImmediate);
  let entries;
  try {
    entries = await opendir(directory);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  const subdirectories: string[] = [];
  for await (const entry of entries) {
    const key = keyPrefix + entry.name;
    if (entry.isDirectory()) {
      if (enter(key)) subdirectories.push(entry.name);
    } else if (entry.isFile()) yield { key, name: entry.name, path: join(directory, entry.name) };
  }
  for (const name of subdirectories) yield* filesUnder(join(directory, name), `${keyPrefix}${name}/`, enter);
}

/** The whole file when it is at most `maxBytes` long, otherwise undefined (read it asynchronously). */
function readSmallFileSync(path: string, maxBytes: number, allocate: Allocate): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > maxBytes) return undefined;
    const data = allocate(size);
    let offset = 0;
    while (offset < size) {
      const read = readSync(fd, data, offset, size - offset, offset);
      if (read === 0) return data.subarray(0, offset); // truncated meanwhile: what is there, like readFile
      offset += read;
    }
    return data;
  } finally {
    closeSync(fd);
  }
}

/** The whole file, read asynchronously into memory from `allocate` (a multi-frame object: the pool keeps its pages for the next one). */
async function readFileInto(path: string, allocate: Allocate): Promise<Buffer> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const data = allocate(size);
    let offset = 0;
    while (offset < size) {
      const { bytesRead } = await file.read(data, offset, size - offset, offset);
      if (bytesRead === 0) return data.subarray(0, offset); // truncated meanwhile: what is there, like readFile
      offset += bytesRead;
    }
    return data;
  } finally {
    await file.close();
  }
}

function temporaryPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}~${randomBytes(6).toString('hex')}.tmp`);
}

const fsyncAsync = promisify(fsync);

function ignoreErrors(action: () => void): void {
  try {
    action();
  } catch {
    // cleanup after a failure: the original error is the one reported
  }
}

/** link(2) refuses an existing name: false when an object was there already. */
async function linkUnlessExists(temporary: string, path: string): Promise<boolean> {
  return link(temporary, path).then(() => true, falseIfExisted);
}

function falseIfExisted(err: unknown): false {
  if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
  throw err;
}

/** openNew, synchronously. */
function openNewSync(path: string, root: string): { fd: number; newDirectories?: string } {
  try {
    return { fd: openSync(path, 'wx') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const newDirectories = mkdirSync(dirname(path), { recursive: true }) ?? createdByAnother(root, path);
    return { fd: openSync(path, 'wx'), newDirectories };
  }
}

/**
 * Opens a fresh file, creating its fan-out directories only the first time they are needed.
 * `newDirectories`: the topmost directory that may not be durable in its parent yet, if any.
 */
async function openNew(path: string, root: string): Promise<{ file: FileHandle; newDirectories?: string }> {
  try {
    return { file: await open(path, 'wx') };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    const newDirectories = (await mkdir(dirname(path), { recursive: true })) ?? createdByAnother(root, path);
    return { file: await open(path, 'wx'), newDirectories };
  }
}

/**
 * The directories were missing, then mkdir found them: another writer created them meanwhile and
 * may not have synced them yet. This writer syncs the whole chain below the root itself (rare).
 */
function createdByAnother(root: string, path: string): string {
  return join(root, relative(root, path).split(sep)[0]);
}

/**
 * The directories to fsync once a file is in `directory`: that one (the new name in it), and when
 * `topmostNew` .. `directory` were just created, the parent of each (their names in them). Without
 * these a crash can forget a file already reported stored, with the directory it was in.
 */
export function directoriesToSync(directory: string, topmostNew?: string): string[] {
  const directories = [directory];
  if (topmostNew === undefined) return directories;
  for (let created = directory; dirname(created) !== created; created = dirname(created)) {
    directories.push(dirname(created));
    if (created === topmostNew) break;
  }
  return directories;
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** write(2) until every byte of `data` is in the file. */
function writeFullySync(fd: number, data: Buffer): void {
  for (let written = 0; written < data.length; ) written += writeSync(fd, data, written);
}

/** The fsyncs of directoriesToSync for a small object's new name (synchronous open and close). */
async function syncNewEntry(directory: string, topmostNew: string | undefined, key: string): Promise<void> {
  try {
    await Promise.all(directoriesToSync(directory, topmostNew).map(syncDirectoryOpenedSync));
  } catch (err) {
    throw fsError(err, 'sync the directory of', key);
  }
}

/** syncDirectory with synchronous open and close: only the fsync goes to the thread pool. */
async function syncDirectoryOpenedSync(directory: string): Promise<void> {
  const fd = openSync(directory, 'r');
  try {
    await fsyncAsync(fd);
  } finally {
    closeSync(fd);
  }
}

function missingOr(err: unknown, key: string, operation: string): OrthancError {
  if (err instanceof OrthancError) return err;
  const code = (err as NodeJS.ErrnoException).code;
  // A key naming a directory (`instances`) is as missing as an absent file.
  if (code === 'ENOENT' || code === 'EISDIR' || code === 'ENOTDIR') return inexistentObject(key);
  return fsError(err, operation, key);
}

function fsError(err: unknown, operation: string, subject: string): OrthancError {
  const code = (err as NodeJS.ErrnoException).code ?? 'unknown error';
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new OrthancError(OrthancErrorCode.FullStorage, `Cannot ${operation} ${subject}: ${code}`);
  }
  return new OrthancError(OrthancErrorCode.InternalError, `Filesystem storage cannot ${operation} ${subject}: ${code}`);
}
