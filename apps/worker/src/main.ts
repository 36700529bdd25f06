import '@deidflow/core/threadpool';
import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { loadConfig } from '@deidflow/config';
import { createLogger, exitIfShutdownOverruns, PinoNestLogger } from '@deidflow/core';
import { migrate } from '@deidflow/database';
import { WorkerProcessModule } from './worker-process.module';

async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger(config.LOG_LEVEL, 'worker');
  await migrate(config.DATABASE_URL);
  const app = await NestFactory.createApplicationContext(WorkerProcessModule, { logger: new PinoNestLogger(logger) });
  // SIGTERM: BullMQ workers close, letting in-flight jobs finish (or return them to the queue).
  app.enableShutdownHooks();
  exitIfShutdownOverruns(logger, config.SHUTDOWN_TIMEOUT_MS);
  logger.info({ concurrency: config.WORKER_CONCURRENCY }, 'worker started');
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
