import '@deidflow/core/threadpool';
import 'reflect-metadata';
import { setFlagsFromString } from 'node:v8';
import type { Logger } from 'pino';
import { loadConfig } from '@deidflow/config';
import { exitIfShutdownOverruns } from '@deidflow/core';
import { createApiApp } from './bootstrap';

// V8 grows the old generation by up to 4x its live size after a major GC; the API's live heap is
// ~60 MB (mostly code and module sources), so it held ~80 MB of garbage at times. A fixed factor of 2:
// ~50 MB less peak RSS, uploads and instance calls unchanged within noise (BENCHMARKS.md).
setFlagsFromString('--heap-growing-percent=100');

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApiApp(config);
  exitIfShutdownOverruns(app.getHttpAdapter().getInstance().log as Logger, config.SHUTDOWN_TIMEOUT_MS);
  await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
}

main().catch((err) => {
  // Configuration and start-up errors: one readable line, then a non-zero exit.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
