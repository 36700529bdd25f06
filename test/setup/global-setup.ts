import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Relative path: Jest's global setup does not go through the moduleNameMapper aliases.
import { migrate } from '../../libs/database/src/migrate';
import { startS3Server } from './s3-server';
import { checkRedis, databaseUrl, recreateDatabase, REDIS_URL } from './services';
import { rememberTestRun } from './test-run';

export const S3_TEST_BUCKET = 'deidflow-test';

/**
 * Prepares the real services for one run of the integration/e2e tests and publishes them
 * through process.env (inherited by the test workers):
 * - DATABASE_URL: a fresh, migrated database of this run;
 * - REDIS_URL and QUEUE_PREFIX: a key prefix of this run, so parallel runs never share queues;
 * - STORAGE_DRIVER=fs and STORAGE_DIR: a temp directory, for tests that boot the application;
 * - S3_TEST_ENDPOINT / S3_TEST_ACCESS_KEY / S3_TEST_SECRET_KEY / S3_TEST_BUCKET: an s3rver,
 *   for tests of the s3 driver;
 * - DICOM_PORT=0: every API a test starts has its DICOM server on a free port.
 */
export default async function globalSetup(): Promise<void> {
  // Named after the run (not one shared name) so runs started in parallel do not drop each other's data.
  const runId = `${process.pid}`;
  const databaseName = `deidflow_test_${runId}`;
  const queuePrefix = `deidflow-test-${runId}`;

  await checkRedis();
  await recreateDatabase(databaseName);
  await migrate(databaseUrl(databaseName));

  const storageDir = await mkdtemp(join(tmpdir(), 'deidflow-storage-'));
  const s3 = await startS3Server({ buckets: [S3_TEST_BUCKET] });
  rememberTestRun({ databaseName, queuePrefix, storageDir, s3 });

  Object.assign(process.env, {
    DATABASE_URL: databaseUrl(databaseName),
    REDIS_URL,
    QUEUE_PREFIX: queuePrefix,
    STORAGE_DRIVER: 'fs',
    STORAGE_DIR: storageDir,
    S3_TEST_ENDPOINT: s3.endpoint,
    S3_TEST_ACCESS_KEY: s3.accessKey,
    S3_TEST_SECRET_KEY: s3.secretKey,
    S3_TEST_BUCKET,
    DICOM_PORT: '0',
  });
}
