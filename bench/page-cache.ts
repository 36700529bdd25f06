/**
 * Brings the machine's memory to the state of a server that has run for a while: full of page
 * cache, so that the pages of newly written files come from reclaiming old cache.
 *
 * Why: a freshly booted VM hands out free pages instead, and a VM whose balloon reports free pages
 * to its host (virtio-balloon free page reporting, as on the VMs of BENCHMARKS.md) pays a host fault
 * the first time each such page is touched. On the seventh session's VM that cost ~1 ms of kernel
 * time per 527 kB file written (`copy_folio_from_iter_atomic`, a third of the worker's samples): the
 * 10k bulk job, writing 5 GB of new files, paid it on every instance, while the 500-instance
 * scenarios, deleting their outputs between repetitions, mostly reused pages. With the memory
 * filled first, the bulk job ran at 599 instead of 369 inst/s.
 *
 * How: one file of the free memory (less headroom for the stack), written, synced so that its pages
 * are clean and reclaimable, and removed when the benchmark ends.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, unlinkSync } from 'node:fs';
import { open, statfs, unlink } from 'node:fs/promises';
import { join } from 'node:path';

const GiB = 2 ** 30;
/** Left free for the stack's processes (API, workers, Postgres, Redis, s3rver) and the harness. */
const MEMORY_HEADROOM = 3 * GiB;
/** Disk space left free beside the fill (the store, Postgres' files and the bench data share it). */
const DISK_HEADROOM = 10 * GiB;
/** Below this there is nothing worth filling. */
const SMALLEST_FILL = GiB;
const CHUNK = 8 * 2 ** 20;
/** Fill files not removed yet, for removePageCacheFillsSync. */
const existing = new Set<string>();
/** Fills made by this process so far: each has a file of its own. */
let fillsMade = 0;

export interface PageCacheFill {
  bytes: number;
  ms: number;
  /** Why nothing was filled, when nothing was. */
  skipped?: string;
  remove(): Promise<void>;
}

/** The fill size: MemFree less the headroom, within the disk space of `directory`. */
export async function pageCacheFillSize(directory: string): Promise<{ bytes: number; skipped?: string }> {
  const memFree = memFreeBytes();
  if (memFree === undefined) return { bytes: 0, skipped: 'no /proc/meminfo' };
  const disk = await statfs(directory);
  const bytes = Math.min(memFree - MEMORY_HEADROOM, disk.bavail * disk.bsize - DISK_HEADROOM);
  if (bytes < SMALLEST_FILL) return { bytes: 0, skipped: `little to fill (${(memFree / GiB).toFixed(1)} GiB free memory, ${((disk.bavail * disk.bsize) / GiB).toFixed(0)} GiB free disk)` };
  return { bytes: Math.floor(bytes / CHUNK) * CHUNK };
}

export async function fillPageCache(directory: string): Promise<PageCacheFill> {
  const started = process.hrtime.bigint();
  const { bytes, skipped } = await pageCacheFillSize(directory);
  const path = join(directory, `deidflow-bench-page-cache-${process.pid}-${fillsMade++}`);
  const remove = async () => {
    existing.delete(path);
    await unlink(path).catch(() => undefined);
  };
  if (skipped) return { bytes: 0, ms: 0, skipped, remove: async () => undefined };
  // Not zeros: nothing along the way should get to treat the pages as empty.
  const chunk = randomBytes(CHUNK);
  const file = await open(path, 'wx');
  existing.add(path);
  try {
    for (let written = 0; written < bytes; written += CHUNK) await file.write(chunk, 0, CHUNK);
    await file.datasync();
  } catch (err) {
    await file.close();
    await remove();
    throw err;
  }
  await file.close();
  return { bytes, ms: Number(process.hrtime.bigint() - started) / 1e6, remove };
}

/** For an interrupted run (SIGINT), on its way out. */
export function removePageCacheFillsSync(): void {
  for (const path of existing) {
    try {
      unlinkSync(path);
    } catch {
      // already gone
    }
  }
  existing.clear();
}

function memFreeBytes(): number | undefined {
  try {
    const match = /^MemFree:\s+(\d+) kB$/m.exec(readFileSync('/proc/meminfo', 'utf8'));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
