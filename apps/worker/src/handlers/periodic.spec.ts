import { deleteInBatches, runPeriodically } from './periodic';

describe('runPeriodically', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs at once, then every interval, skipping turns while a run is still going, until stopped', async () => {
    const runs: string[] = [];
    let finish: () => void = () => undefined;
    const slow = () => new Promise<void>((resolve) => (finish = resolve));
    const stop = runPeriodically(1000, async () => void runs.push('first'), async () => {
      runs.push('later');
      await slow();
    });
    expect(runs).toEqual(['first']);
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toEqual(['first', 'later']);
    await jest.advanceTimersByTimeAsync(3000); // still running: three turns skipped
    expect(runs).toEqual(['first', 'later']);
    finish();
    await jest.advanceTimersByTimeAsync(1000);
    expect(runs).toEqual(['first', 'later', 'later']);
    const stopped = stop(10_000);
    finish();
    await expect(stopped).resolves.toBe(true);
    await jest.advanceTimersByTimeAsync(5000);
    expect(runs).toHaveLength(3);
  });

  it('stopping aborts the turn under way and waits for it (its statements need the pool), at most the time given', async () => {
    let signal: AbortSignal | undefined;
    let finish: () => void = () => undefined;
    const stop = runPeriodically(1000, async () => undefined);
    await expect(stop(100)).resolves.toBe(true); // nothing under way: at once

    const busy = runPeriodically(1000, (s) => {
      signal = s;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    let settled: boolean | undefined;
    void busy(5000).then((ok) => (settled = ok));
    expect(signal?.aborted).toBe(true);
    await jest.advanceTimersByTimeAsync(1000);
    expect(settled).toBeUndefined(); // still waiting for the turn
    finish();
    await jest.advanceTimersByTimeAsync(0);
    expect(settled).toBe(true);

    const hung = runPeriodically(1000, () => new Promise<void>(() => undefined));
    let gaveUp: boolean | undefined;
    void hung(2000).then((ok) => (gaveUp = ok));
    await jest.advanceTimersByTimeAsync(2000);
    expect(gaveUp).toBe(false); // a turn that never ends does not hold the shutdown for ever
  });
});

describe('deleteInBatches', () => {
  it('deletes until a batch is short', async () => {
    const batches = [10, 10, 3];
    expect(await deleteInBatches(10, async () => batches.shift() ?? 0)).toEqual({ deleted: 23 });
    expect(batches).toEqual([]);
  });

  it('stops between batches once the signal aborts, and reports an error with what was deleted before it', async () => {
    const shutdown = new AbortController();
    let calls = 0;
    const result = await deleteInBatches(10, async () => {
      if (++calls === 2) shutdown.abort();
      return 10;
    }, shutdown.signal);
    expect(result).toEqual({ deleted: 20 });
    expect(calls).toBe(2);

    let failing = 0;
    expect(await deleteInBatches(10, async () => {
      if (++failing === 3) throw new Error('statement timeout');
      return 10;
    })).toEqual({ deleted: 20, error: new Error('statement timeout') });
  });
});
