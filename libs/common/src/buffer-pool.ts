/** How buffers are obtained: a pool's acquire(), or a plain allocation. */
export type Allocate = (size: number) => Buffer;

export interface BufferPoolOptions {
  /** Larger requests are plain allocations, never kept. */
  maxBytes: number;
  /** Memory kept while free in buffers of up to LARGE_BUFFER_BYTES, all size classes together; beyond it, released buffers are left to the GC. */
  maxIdleBytes: number;
  /** The same for larger buffers (multi-frame objects); none kept when absent (see keepLargeBuffers). */
  maxIdleLargeBytes?: number;
  /** A free large buffer unused this long is let go (default 30 s): a process done with large files shrinks back. */
  largeIdleMs?: number;
}

const SMALLEST_CLASS = 64 * 1024;
/** Above this, size classes are eighths of a power of two (at most 12.5% unused), and free buffers age out. */
export const LARGE_BUFFER_BYTES = 4 * 1024 * 1024;
const DEFAULT_LARGE_IDLE_MS = 30_000;

/**
 * Memory for object-sized buffers (a source read from storage, the rewritten output), reused from
 * one instance to the next. A fresh buffer is fresh pages, and on the VMs this runs on a page fault
 * is expensive: reading a 527 kB object into a new buffer measured ~0.3-1 ms of kernel time, into a
 * reused one ~0.1 ms; the first write into a new 33 MB buffer ~90 ms, into a reused one 2 ms
 * (BENCHMARKS.md).
 *
 * The caller owns a buffer from acquire() until it hands it back with release(), and must not
 * touch it (or any view of it) afterwards. Contents are not cleared: whoever fills one writes every
 * byte it returns. release() ignores buffers the pool did not make, so it is safe on any Buffer.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly made = new WeakSet<ArrayBuffer>();
  private idleSmall = 0;
  private idleLarge = 0;
  /** When each free large buffer was released. */
  private readonly largeReleasedAt = new Map<ArrayBuffer, number>();
  private sweeper: NodeJS.Timeout | undefined;
  private readonly largeIdleMs: number;
  private maxIdleLargeBytes: number;

  constructor(private readonly options: BufferPoolOptions) {
    this.largeIdleMs = options.largeIdleMs ?? DEFAULT_LARGE_IDLE_MS;
    this.maxIdleLargeBytes = options.maxIdleLargeBytes ?? 0;
  }

  /**
   * Keeps up to `maxIdleBytes` of free large buffers from now on. Only where large buffers come
   * back at a steady rate (a worker's sources and results) is it worth it: a kept buffer lives long
   * enough to reach V8's old generation, so once let go it is freed at the next major GC, which an
   * API busy with small uploads may not run for minutes (its RSS stayed ~90 MB higher after 40
   * large uploads), where a buffer dropped at once goes with the next scavenge.
   */
  keepLargeBuffers(maxIdleBytes: number): void {
    this.maxIdleLargeBytes = maxIdleBytes;
  }

  /** `size` bytes, uninitialized. */
  readonly acquire: Allocate = (size) => {
    if (!this.holds(size)) return Buffer.allocUnsafeSlow(size);
    const capacity = this.capacityFor(size);
    let memory = this.free.get(capacity)?.pop();
    if (memory) this.forgetIdle(memory);
    else {
      memory = new ArrayBuffer(capacity);
      this.made.add(memory);
    }
    return Buffer.from(memory, 0, size);
  };

  /** Whether a buffer of this size comes from (and may go back to) the pool. */
  holds(size: number): boolean {
    return size > 0 && size <= this.options.maxBytes;
  }

  /** The memory a buffer of `size` bytes takes: its size class when pooled. */
  capacityFor(size: number): number {
    if (!this.holds(size)) return size;
    if (size > LARGE_BUFFER_BYTES) {
      const step = 2 ** Math.floor(Math.log2(size - 1)) / 8;
      return Math.ceil(size / step) * step;
    }
    let capacity = SMALLEST_CLASS;
    while (capacity < size) capacity *= 2;
    return capacity;
  }

  /**
   * The memory a rewrite of an object of `size` bytes holds at its peak: the source and the result,
   * each whole in this pool's memory (the result is about the source's size).
   */
  rewriteMemory(size: number): number {
    return 2 * this.capacityFor(size);
  }

  /**
   * Hands a buffer back: once, by its owner. A no-op for buffers of other origins; a repeated release
   * is ignored while the memory is still free, but would corrupt its next owner's data after that.
   */
  release(buffer: Uint8Array | undefined): void {
    const memory = buffer?.buffer as ArrayBuffer | undefined;
    if (!memory || !this.made.has(memory)) return;
    const capacity = memory.byteLength;
    const large = capacity > LARGE_BUFFER_BYTES;
    const room = large ? this.maxIdleLargeBytes - this.idleLarge : this.options.maxIdleBytes - this.idleSmall;
    const list = this.free.get(capacity) ?? [];
    if (capacity > room || list.includes(memory)) return;
    list.push(memory);
    this.free.set(capacity, list);
    if (!large) {
      this.idleSmall += capacity;
      return;
    }
    this.idleLarge += capacity;
    this.largeReleasedAt.set(memory, Date.now());
    // Unref'd: an idle pool never keeps the process alive.
    this.sweeper ??= setInterval(() => this.sweep(), this.largeIdleMs / 2).unref();
  }

  /** Lets go of the free large buffers unused for `largeIdleMs` (at `now`). */
  sweep(now = Date.now()): void {
    for (const [memory, releasedAt] of this.largeReleasedAt) {
      if (now - releasedAt < this.largeIdleMs) continue;
      const list = this.free.get(memory.byteLength)!;
      list.splice(list.indexOf(memory), 1);
      this.forgetIdle(memory);
    }
  }

  /** Bytes held by free buffers. */
  get idleBytes(): number {
    return this.idleSmall + this.idleLarge;
  }

  /** `memory` is no longer free: taken again, or let go. */
  private forgetIdle(memory: ArrayBuffer): void {
    if (memory.byteLength <= LARGE_BUFFER_BYTES) {
      this.idleSmall -= memory.byteLength;
      return;
    }
    this.idleLarge -= memory.byteLength;
    this.largeReleasedAt.delete(memory);
    if (this.largeReleasedAt.size === 0 && this.sweeper) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}
