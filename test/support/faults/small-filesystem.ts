import { execFile } from 'node:child_process';
import { mkdtemp, open, rm, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const FILLER_NAME = 'filler~';
const CHUNK = Buffer.alloc(64 * 1024, 0x5a);

/**
 * A filesystem of its own, as small as asked (a tmpfs), that a test can fill to the last byte and
 * free again: the fs store's disk full. Mounting needs root (CI and these machines run as root).
 * The filler's name holds `~`, which no object key does: the store never takes it for an object.
 */
export interface SmallFilesystem {
  directory: string;
  /** Writes a file until the filesystem refuses more (ENOSPC); resolves with the bytes written. */
  fill(): Promise<number>;
  /** Removes what fill() wrote. */
  free(): Promise<void>;
  /** Unmounts it and removes the mount point. */
  dispose(): Promise<void>;
}

export function canMount(): boolean {
  return process.getuid?.() === 0;
}

export async function mountSmallFilesystem(sizeBytes: number): Promise<SmallFilesystem> {
  const directory = await mkdtemp(join(tmpdir(), 'deidflow-small-fs-'));
  await run('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes},mode=0700`, 'deidflow-test', directory]);
  const filler = join(directory, FILLER_NAME);
  return {
    directory,
    async fill() {
      const file = await open(filler, 'a');
      let written = 0;
      try {
        for (;;) written += (await file.write(CHUNK)).bytesWritten;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        await file.close();
      }
      return written;
    },
    free: () => rm(filler, { force: true }),
    async dispose() {
      // Lazy: a process still holding a file there (a failed test) does not keep the mount.
      await run('umount', ['--lazy', directory]);
      await rmdir(directory);
    },
  };
}
