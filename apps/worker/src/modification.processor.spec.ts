import { loadConfig } from '@deidflow/config';
import type { FinalizeJobHandler } from './handlers/finalize-job.handler';
import type { ProcessInstanceHandler } from './handlers/process-instance.handler';
import { ModificationProcessor } from './modification.processor';

/** Shutdown must not wait forever on a BullMQ worker whose close() never settles. */
describe('ModificationProcessor shutdown', () => {
  function processorWith(worker: { close: jest.Mock }): ModificationProcessor {
    const processor = new ModificationProcessor(loadConfig({}), {} as ProcessInstanceHandler, {} as FinalizeJobHandler);
    // What @nestjs/bullmq sets once the worker is created.
    Object.assign(processor, { _worker: worker });
    return processor;
  }

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('waits for a graceful close', async () => {
    const worker = { close: jest.fn().mockResolvedValue(undefined) };
    await processorWith(worker).onModuleDestroy();
    expect(worker.close.mock.calls).toEqual([[]]);
  });

  it('goes on after the grace period when close() hangs, forcing the close', async () => {
    const worker = { close: jest.fn((force?: boolean) => (force ? Promise.resolve() : new Promise<void>(() => undefined))) };
    let done = false;
    const shutdown = processorWith(worker)
      .onModuleDestroy()
      .then(() => (done = true));
    await jest.advanceTimersByTimeAsync(14_000);
    expect(done).toBe(false);
    await jest.advanceTimersByTimeAsync(1_000);
    await shutdown;
    expect(worker.close.mock.calls).toEqual([[], [true]]);
  });
});
