import { rm } from 'node:fs/promises';
import { deleteRedisKeys, dropDatabase } from './services';
import { takeTestRun } from './test-run';

/** Undoes global-setup.ts: stops the s3rver, removes the run's database, keys and temp files. */
export default async function globalTeardown(): Promise<void> {
  const run = takeTestRun();
  if (!run) return;
  const results = await Promise.allSettled([
    run.s3.stop(),
    // Retried: a store's background sweep may still be writing its marker as the directory goes (ENOTEMPTY).
    rm(run.storageDir, { recursive: true, force: true, maxRetries: 5, retryDelay: 100 }),
    dropDatabase(run.databaseName),
    deleteRedisKeys(run.queuePrefix),
  ]);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure) throw failure.reason;
}
