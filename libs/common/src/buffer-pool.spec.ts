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
});
