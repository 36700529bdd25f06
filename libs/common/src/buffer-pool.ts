/** How buffers are obtained: a pool's acquire(), or a plain allocation. */
export type Allocate = (size: number) => Buffer;

export interface BufferPoolOptions {
  /** Larger requests are plain allocations, never kept. */
  maxBytes: number;
  /** Memory kept while free, all size classes (powers of two) together; beyond it, released buffers are left to the GC. */
  maxIdleBytes: number;
}

const SMALLEST_CLASS = 64 * 1024;

/**
 * Memory for object-sized buffers (a source read from storage, the rewritten output), reused from
 * one instance to the next. A fresh 500 kB buffer is fresh pages, and on the VMs this runs on a page
 * fault is expensive: reading a 527 kB object into a new buffer measured ~0.3-1 ms of kernel time,
 * into a reused one ~0.1 ms (BENCHMARKS.md).
 *
 * The caller owns a buffer from acquire() until it hands it back with release(), and must not
 * touch it (or any view of it) afterwards. Contents are not cleared: whoever fills one writes every
 * byte it returns. release() ignores buffers the pool did not make, so it is safe on any Buffer.
 */
export class BufferPool {
  private readonly free = new Map<number, ArrayBuffer[]>();
  private readonly made = new WeakSet<ArrayBuffer>();
  private idle = 0;

  constructor(private readonly options: BufferPoolOptions) {}

  /** `size` bytes, uninitialized. */
  readonly acquire: Allocate = (size) => {
    if (!this.holds(size)) return Buffer.allocUnsafeSlow(size);
    const capacity = sizeClass(size);
    let memory = this.free.get(capacity)?.pop();
    if (memory) this.idle -= capacity;
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

  /**
   * Hands a buffer back: once, by its owner. A no-op for buffers of other origins; a repeated release
   * is ignored while the memory is still free, but would corrupt its next owner's data after that.
   */
  release(buffer: Uint8Array | undefined): void {
    const memory = buffer?.buffer;
    if (!memory || !this.made.has(memory as ArrayBuffer)) return;
    const capacity = memory.byteLength;
    const list = this.free.get(capacity) ?? [];
    if (this.idle + capacity > this.options.maxIdleBytes || list.includes(memory as ArrayBuffer)) return;
    list.push(memory as ArrayBuffer);
    this.free.set(capacity, list);
    this.idle += capacity;
  }

  /** Bytes held by free buffers. */
  get idleBytes(): number {
    return this.idle;
  }
}

function sizeClass(size: number): number {
  let capacity = SMALLEST_CLASS;
  while (capacity < size) capacity *= 2;
  return capacity;
}
