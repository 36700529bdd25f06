import { randomBytes } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { access, link, mkdir, open, readFile, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
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

export interface FsStorageOptions {
  /** Objects up to this size are read synchronously (see get); 0 reads everything asynchronously. */
  syncReadMaxBytes?: number;
}

/**
 * Objects as files under one directory. Writes go to a temporary file next to the target
 * (same filesystem), are fsync'ed, then renamed over it: a reader or a crash never sees half
 * a file. Temporary names contain `~`, which no valid key may contain, so they never clash.
 */
export class FsStorage implements ObjectStorage {
  readonly driver = 'fs' as const;
  readonly root: string;
  private readonly syncReadMaxBytes: number;

  constructor(directory: string, options: FsStorageOptions = {}) {
    this.root = resolve(directory);
    this.syncReadMaxBytes = options.syncReadMaxBytes ?? 0;
  }

  async init(): Promise<void> {
    await mkdir(this.root, { recursive: true }).catch((err) => {
      throw fsError(err, 'create the storage directory', this.root);
    });
  }

  async put(key: string, data: Buffer): Promise<void> {
    await this.writeAtomically(key, async (file) => {
      await file.writeFile(data);
    });
  }

  /**
   * The new file is linked to its name, which fails when the name exists: nothing is replaced even
   * by a concurrent writer. A cheap existence check first spares the write of an object already there.
   */
  async putIfAbsent(key: string, data: Buffer): Promise<boolean> {
    if (existsSync(this.pathOf(key))) return false;
    let created = true;
    await this.writeAtomically(
      key,
      (file) => file.writeFile(data),
      async (temporary, path) => {
        try {
          await link(temporary, path);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
          created = false;
        }
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

  /**
   * Small objects (a CT or MR slice) are read synchronously: from the page cache that is a memcpy
   * of ~0.1 ms, while an async readFile is six thread-pool round trips (open, fstat, reads, close)
   * whose wake-ups cost ~2 ms per object on the 2-vCPU VMs measured in BENCHMARKS.md. Larger
   * objects, where a cold read could hold the event loop for long, stay asynchronous.
   */
  async get(key: string): Promise<Buffer> {
    const path = this.pathOf(key);
    try {
      return (this.syncReadMaxBytes > 0 && readSmallFileSync(path, this.syncReadMaxBytes)) || (await readFile(path));
    } catch (err) {
      throw missingOr(err, key, 'read');
    }
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
      return { key, size: info.size };
    } catch (err) {
      throw missingOr(err, key, 'stat');
    }
  }

  async exists(key: string): Promise<boolean> {
    return existsByStat(() => this.stat(key));
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

  private pathOf(key: string): string {
    assertValidObjectKey(key);
    return join(this.root, key);
  }

  /** `publish` gives the finished temporary file its name (default: rename over any previous object). */
  private async writeAtomically(
    key: string,
    write: (file: FileHandle) => Promise<void>,
    publish: (temporary: string, path: string) => Promise<void> = rename,
  ): Promise<void> {
    const path = this.pathOf(key);
    const directory = dirname(path);
    const temporary = join(directory, `.${basename(path)}~${randomBytes(6).toString('hex')}.tmp`);
    const file = await openNew(temporary).catch((err) => {
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
    await syncDirectory(directory).catch((err) => {
      throw fsError(err, 'sync the directory of', key);
    });
  }
}

/** The whole file when it is at most `maxBytes` long, otherwise undefined (read it asynchronously). */
function readSmallFileSync(path: string, maxBytes: number): Buffer | undefined {
  const fd = openSync(path, 'r');
  try {
    const { size } = fstatSync(fd);
    if (size > maxBytes) return undefined;
    const data = Buffer.allocUnsafe(size);
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

/** Opens a fresh file, creating its fan-out directories only the first time they are needed. */
async function openNew(path: string): Promise<FileHandle> {
  try {
    return await open(path, 'wx');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dirname(path), { recursive: true });
    return open(path, 'wx');
  }
}

/** Makes the rename itself durable: without it a crash can forget a file already reported stored. */
async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
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
