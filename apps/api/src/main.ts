import '@deidflow/core/threadpool';
import 'reflect-metadata';
import { loadConfig } from '@deidflow/config';
import { createApiApp } from './bootstrap';

async function main(): Promise<void> {
  const config = loadConfig();
  const app = await createApiApp(config);
  await app.listen({ port: config.HTTP_PORT, host: config.HTTP_HOST });
}

main().catch((err) => {
  // Configuration and start-up errors: one readable line, then a non-zero exit.
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
