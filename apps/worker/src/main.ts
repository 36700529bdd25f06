import '@deidflow/core/threadpool';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@deidflow/config';
import { createLogger, exitIfShutdownOverruns, PinoNestLogger } from '@deidflow/core';
import { migrate } from '@deidflow/database';
import { getHeapStatistics } from 'node:v8';
import { WorkerProcessModule } from './worker-process.module';

const MB = 1024 * 1024;
/**
 * The worker runs with --max-old-space-size=1024: its live heap is ~100 MB (DICOM bytes are Buffers,
 * outside it), and with V8's default ceiling on a large machine the heap grew to 4x its live size
 * between major collections (RSS 290-334 MB in a 100,000-instance job, 180-190 MB with the flag:
 * BENCHMARKS.md, thirteenth session). V8 adds its young generation to the limit it reports.
 */
const EXPECTED_HEAP_LIMIT_MB = 1200;

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  await migrate(config.DATABASE_URL);
  const app = await NestFactory.createApplicationContext(WorkerProcessModule, { logger: new PinoNestLogger(logger) });
  // SIGTERM: BullMQ workers close, letting in-flight jobs finish (or return them to the queue).
  app.enableShutdownHooks();
  exitIfShutdownOverruns(logger, config.SHUTDOWN_TIMEOUT_MS);
  const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / MB);
  logger.info({ concurrency: config.WORKER_CONCURRENCY, heapLimitMb }, 'worker started');
  if (heapLimitMb > EXPECTED_HEAP_LIMIT_MB) {
    logger.warn(
      { heapLimitMb, expected: EXPECTED_HEAP_LIMIT_MB },
      'worker started without --max-old-space-size=1024 (npm run start:worker sets it): its heap may grow to several times its live size between collections',
    );
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
