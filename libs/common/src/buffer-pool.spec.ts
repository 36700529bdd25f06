import { BufferPool } from './buffer-pool';

describe('BufferPool', () => {
  const pool = (maxIdleBytes = 4 * 1024 * 1024) => new BufferPool({ maxBytes: 4 * 1024 * 1024, maxIdleBytes });

  it('gives back the memory of a released buffer for the next request of its size class', () => {
    const buffers = pool();
    const first = buffers.acquire(527_000);
    expect(first.length).toBe(527_000);
    buffers.release(first);
    const second = buffers.acquire(600_000);
    expect(second.buffer).toBe(first.buffer);
    expect(second.length).toBe(600_000);
  });

  it('never hands out one memory twice while it is held', () => {
    const buffers = pool();
    const a = buffers.acquire(1000);
    const b = buffers.acquire(1000);
    expect(a.buffer).not.toBe(b.buffer);
    buffers.release(a);
    buffers.release(a); // a second release of the same buffer is ignored
    const c = buffers.acquire(1000);
    const d = buffers.acquire(1000);
    expect(c.buffer).toBe(a.buffer);
    expect(d.buffer).not.toBe(a.buffer);
  });

  it('keeps at most maxIdleBytes of free buffers, and nothing of other origins or beyond maxBytes', () => {
    const buffers = pool(256 * 1024);
    const held = [1, 2, 3].map(() => buffers.acquire(100_000));
    for (const b of held) buffers.release(b);
    expect(buffers.idleBytes).toBe(2 * 128 * 1024);
    buffers.release(Buffer.alloc(100_000));
    const large = buffers.acquire(5 * 1024 * 1024);
    buffers.release(large);
    expect(buffers.idleBytes).toBe(2 * 128 * 1024);
  });

  describe('large buffers (multi-frame objects)', () => {
    const MiB = 1024 * 1024;
    const largePool = (maxIdleLargeBytes: number) =>
      new BufferPool({ maxBytes: 512 * MiB, maxIdleBytes: 4 * MiB, maxIdleLargeBytes, largeIdleMs: 30_000 });

    it('sizes them in eighths of a power of two, not in powers of two', () => {
      const buffers = largePool(0);
      expect(buffers.capacityFor(33_500_000)).toBe(32 * MiB);
      expect(buffers.capacityFor(32 * MiB + 1)).toBe(36 * MiB);
      expect(buffers.capacityFor(4 * MiB + 1)).toBe(4.5 * MiB);
      expect(buffers.capacityFor(4 * MiB)).toBe(4 * MiB); // the last power-of-two class
      expect(buffers.capacityFor(600 * MiB)).toBe(600 * MiB); // beyond maxBytes: a plain allocation
    });

    it('keeps them up to maxIdleLargeBytes (or keepLargeBuffers), apart from the small ones, and none without it', () => {
      const buffers = largePool(40 * MiB);
      const [a, b] = [buffers.acquire(33_500_000), buffers.acquire(33_500_000)];
      buffers.release(a);
      buffers.release(b); // no room left for a second one
      expect(buffers.idleBytes).toBe(32 * MiB);
      expect(buffers.acquire(33_000_000).buffer).toBe(a.buffer);
      expect(buffers.idleBytes).toBe(0);

      const none = largePool(0);
      const c = none.acquire(10 * MiB);
      none.release(c);
      expect(none.idleBytes).toBe(0);
      expect(none.acquire(10 * MiB).buffer).not.toBe(c.buffer);
      none.keepLargeBuffers(16 * MiB); // where a worker runs
      none.release(c);
      expect(none.acquire(10 * MiB).buffer).toBe(c.buffer);
    });

    it('lets go of a free one unused for largeIdleMs, and keeps one used since', () => {
      const clock = jest.spyOn(Date, 'now').mockReturnValue(1_000_000);
      try {
        const buffers = largePool(100 * MiB);
        const old = buffers.acquire(20 * MiB);
        const recent = buffers.acquire(10 * MiB);
        buffers.release(old);
        buffers.release(recent);
        buffers.sweep(1_010_000);
        expect(buffers.idleBytes).toBe(30 * MiB);
        clock.mockReturnValue(1_020_000);
        buffers.release(buffers.acquire(10 * MiB)); // used again: its 30 s start over
        buffers.sweep(1_030_000);
        expect(buffers.idleBytes).toBe(10 * MiB);
        expect(buffers.acquire(20 * MiB).buffer).not.toBe(old.buffer);
        expect(buffers.acquire(10 * MiB).buffer).toBe(recent.buffer);
      } finally {
        clock.mockRestore();
      }
    });
  });
});
