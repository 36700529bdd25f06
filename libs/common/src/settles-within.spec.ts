import { settlesWithin } from './settles-within';

describe('settlesWithin', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('is true for work that resolves in time', async () => {
    await expect(settlesWithin(Promise.resolve('done'), 1000)).resolves.toBe(true);
  });

  it('throws the error of work that rejects in time', async () => {
    await expect(settlesWithin(Promise.reject(new Error('broken')), 1000)).rejects.toThrow('broken');
  });

  it('is false once the time is up, and ignores a later rejection', async () => {
    let fail!: (err: Error) => void;
    const work = new Promise((_, reject) => (fail = reject));
    const outcome = settlesWithin(work, 1000);
    await jest.advanceTimersByTimeAsync(1000);
    await expect(outcome).resolves.toBe(false);
    fail(new Error('too late')); // an unhandled rejection would fail the test run
    await Promise.resolve();
  });
});
