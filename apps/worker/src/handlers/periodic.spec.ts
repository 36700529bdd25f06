import { runPeriodically } from './periodic';

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
    stop();
    finish();
    await jest.advanceTimersByTimeAsync(5000);
    expect(runs).toHaveLength(3);
  });
});
