import { randomUUID } from 'node:crypto';
import { ConsoleLogger, Logger } from '@nestjs/common';
import { Queue, Worker } from 'bullmq';
import { loadConfig } from '@deidflow/config';
import type { JobExpansionService } from '@deidflow/jobs';
import type { FinalizeJobHandler } from '../../apps/worker/src/handlers/finalize-job.handler';
import type { ProcessInstanceHandler } from '../../apps/worker/src/handlers/process-instance.handler';
import { ModificationProcessor } from '../../apps/worker/src/modification.processor';

/**
 * A worker's shutdown against the real Redis and a real BullMQ worker: the instances in hand finish,
 * and nothing makes it wait longer than its grace period, not even a blocking connection that is
 * reconnecting when the shutdown starts (BullMQ's close() waits for it forever).
 */
describe('ModificationProcessor shutdown (real BullMQ worker, real Redis)', () => {
  const GRACE_MS = 1500;
  const connection = { url: process.env.REDIS_URL, maxRetriesPerRequest: null }; // as QueueModule connects
  const prefix = process.env.QUEUE_PREFIX;
  let queue: Queue;
  let worker: Worker;
  let processor: ModificationProcessor;

  /** A processor around a real worker whose jobs run `work` (as @nestjs/bullmq sets it up). */
  async function start(work: () => Promise<void>): Promise<void> {
    const name = `shutdown-${randomUUID()}`;
    queue = new Queue(name, { connection, prefix });
    worker = new Worker(name, work, { connection, prefix, concurrency: 4 });
    worker.on('error', () => undefined);
    await worker.waitUntilReady();
    processor = new ModificationProcessor(
      loadConfig({ ...process.env, WORKER_SHUTDOWN_GRACE_MS: String(GRACE_MS) }),
      {} as ProcessInstanceHandler,
      {} as FinalizeJobHandler,
      {} as JobExpansionService,
    );
    Object.assign(processor, { _worker: worker });
  }

  /** Shutdown as Nest runs it: our hook, then @nestjs/bullmq's close() at application shutdown. */
  async function shutdown(): Promise<number> {
    const started = Date.now();
    await processor.onModuleDestroy();
    await worker.close();
    return Date.now() - started;
  }

  beforeAll(() => Logger.overrideLogger(false)); // the expected warnings
  afterAll(() => Logger.overrideLogger(new ConsoleLogger()));

  afterEach(async () => {
    await worker?.close(true);
    await queue?.obliterate({ force: true });
    await queue?.close();
  });

  it('lets the jobs in hand finish before closing', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    await start(async () => {
      started();
      await new Promise((resolve) => setTimeout(resolve, 300));
    });
    const job = await queue.add('slow', {});
    await running;
    await shutdown();
    expect(await job.getState()).toBe('completed');
  }, 20_000);

  it('closes after the grace period when a job in hand never finishes (it is left to stall detection)', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    await start(() => {
      started();
      return new Promise<void>(() => undefined);
    });
    const job = await queue.add('stuck', {});
    await running;
    const tookMs = await shutdown();
    expect(tookMs).toBeGreaterThanOrEqual(GRACE_MS - 50);
    expect(tookMs).toBeLessThan(GRACE_MS + 5000); // a bound, not a timing: without it the test hangs
    expect(await job.getState()).toBe('active');
  }, 20_000);

  it('does not hang when the blocking connection is reconnecting as the shutdown starts', async () => {
    await start(async () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 200)); // the worker waits for jobs on its blocking connection
    const blocking = (await (worker as unknown as { backend: { blockingClient: Promise<{ status: string; stream: { destroy(): void } }> } }).backend.blockingClient);
    blocking.stream.destroy(); // a dropped connection: ioredis schedules a reconnection
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect(blocking.status).toBe('reconnecting');
    const tookMs = await shutdown();
    expect(tookMs).toBeLessThan(GRACE_MS + 5000);
  }, 20_000);
});
