import type { S3Server } from './s3-server';

/** What global-setup.ts started, for global-teardown.ts (both run in Jest's main process). */
export interface TestRun {
  databaseName: string;
  queuePrefix: string;
  storageDir: string;
  s3: S3Server;
}

const TEST_RUN = Symbol.for('deidflow.testRun');

export function rememberTestRun(run: TestRun): void {
  (globalThis as Record<symbol, unknown>)[TEST_RUN] = run;
}

export function takeTestRun(): TestRun | undefined {
  const globals = globalThis as Record<symbol, unknown>;
  const run = globals[TEST_RUN] as TestRun | undefined;
  delete globals[TEST_RUN];
  return run;
}
