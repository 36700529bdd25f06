import { MemoryBudget } from './memory-budget';

const MB = 1024 * 1024;
/** Whether `promise` has settled once pending callbacks ran. */
async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  void promise.then(() => (done = true));
  await new Promise((resolve) => setImmediate(resolve));
  return done;
}

describe('MemoryBudget', () => {
  it('reserves at once while there is room, and holds the next one until room is given back', async () => {
    const budget = new MemoryBudget(10 * MB);
    expect(await budget.reserve(6 * MB)).toBe(6 * MB);
    const second = budget.reserve(6 * MB);
    expect(await settled(second)).toBe(false);
    expect(budget.waitingCount).toBe(1);
    budget.release(6 * MB);
    expect(await second).toBe(6 * MB);
    expect(budget.reserved).toBe(6 * MB);
    expect(budget.waitingCount).toBe(0);
  });

  it('serves the waiting first come, first served: a small one does not overtake a big one', async () => {
    const budget = new MemoryBudget(10 * MB);
    await budget.reserve(8 * MB);
    const big = budget.reserve(9 * MB);
    const small = budget.reserve(1 * MB); // would fit now, but waits behind the big one
    expect(await settled(small)).toBe(false);
    budget.release(8 * MB);
    expect(await big).toBe(9 * MB);
    expect(await small).toBe(1 * MB);
    expect(budget.reserved).toBe(10 * MB);
  });

  it('lets a holder larger than the whole budget through once it is alone, reserving the whole budget', async () => {
    const budget = new MemoryBudget(10 * MB);
    await budget.reserve(1 * MB);
    const huge = budget.reserve(50 * MB);
    expect(await settled(huge)).toBe(false);
    budget.release(1 * MB);
    expect(await huge).toBe(10 * MB);
    budget.release(10 * MB);
    expect(budget.reserved).toBe(0);
  });

  it('forgets a holder that went away while it waited, and lets the next one in', async () => {
    const budget = new MemoryBudget(10 * MB);
    await budget.reserve(5 * MB);
    const gone = new AbortController();
    const abandoned = budget.reserve(9 * MB, gone.signal);
    const next = budget.reserve(4 * MB);
    expect(await settled(next)).toBe(false);
    gone.abort();
    expect(await abandoned).toBe(0);
    expect(await next).toBe(4 * MB);
    expect(budget.reserved).toBe(9 * MB);
    expect(budget.waitingCount).toBe(0);
    // Aborted before it asked: nothing reserved.
    expect(await budget.reserve(1 * MB, AbortSignal.abort())).toBe(0);
    expect(budget.reserved).toBe(9 * MB);
  });

  it('keeps a reservation granted before the abort: its owner gives it back', async () => {
    const budget = new MemoryBudget(10 * MB);
    const gone = new AbortController();
    expect(await budget.reserve(3 * MB, gone.signal)).toBe(3 * MB);
    gone.abort();
    expect(budget.reserved).toBe(3 * MB);
    budget.release(3 * MB);
    expect(budget.reserved).toBe(0);
  });

  it('tryReserve takes room only when it fits and nobody waits before it', async () => {
    const budget = new MemoryBudget(10 * MB);
    expect(budget.tryReserve(6 * MB)).toBe(true);
    expect(budget.tryReserve(5 * MB)).toBe(false);
    expect(budget.reserved).toBe(6 * MB);
    const waiting = budget.reserve(8 * MB);
    expect(budget.tryReserve(1 * MB)).toBe(false); // room, but someone waits first
    budget.release(6 * MB);
    expect(await waiting).toBe(8 * MB);
    expect(budget.tryReserve(2 * MB)).toBe(true);
    expect(budget.reserved).toBe(10 * MB);
  });
});
