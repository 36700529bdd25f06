import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AppConfig } from '@deidflow/config';
import { resetDatabase, RunningApi, startApi, testConfig } from '../app-harness';
import { startWorker, workerEnvironment, WorkerProcess } from '../worker-process';
import { deleteRedisKeys, REDIS_URL } from '../../setup/services';
import { ApiClient } from './api-client';
import { ApiProcess, startApiProcess } from './api-process';
import { freePort } from './free-port';

export interface StackOptions {
  /** Names the queue prefix of the scenario. */
  name: string;
  /** The s3rver endpoint for the s3 driver; the fs driver in a fresh directory otherwise. */
  s3Endpoint?: string;
  /** A project-owned Redis; the shared test Redis (own key prefix) otherwise. */
  redisUrl?: string;
  /** The test database, possibly tagged with an application_name (see postgres.ts). */
  databaseUrl?: string;
  workers: number;
  concurrency: number;
  /** The API as a child process (restartable) instead of in the test process. */
  apiProcess?: boolean;
  /** More settings for every process (say, SHUTDOWN_TIMEOUT_MS). */
  env?: Record<string, string>;
  /** The fs store's directory, owned by the caller; a fresh temporary one otherwise. */
  storageDir?: string;
}

/** One fault scenario's processes: the API (EMBEDDED_WORKER=false) and separate worker processes. */
export interface Stack {
  config: AppConfig;
  queuePrefix: string;
  client: ApiClient;
  workers: WorkerProcess[];
  baseUrl: string;
  /** The API process (apiProcess only): SIGTERM, SIGKILL after `graceMs`, start again on the same port. */
  restartApi(graceMs: number): Promise<'SIGTERM' | 'SIGKILL' | 'exited'>;
  /** The API process (apiProcess only): SIGKILLed (a crash), then started again on the same port. */
  crashApi(): Promise<void>;
  /** The API process (apiProcess only): SIGTERM, SIGKILL after `graceMs`; how it ended and what it wrote. */
  stopApi(graceMs: number): Promise<{ ended: 'SIGTERM' | 'SIGKILL' | 'exited'; output: string }>;
  /** The tail of every process's log, for failure messages. */
  diagnostics(): string;
  stop(): Promise<void>;
}

// Short locks: work held by a killed worker (or lost with Redis) goes back to the queue in seconds.
const FAST_RECOVERY = { WORKER_LOCK_DURATION_MS: '5000', WORKER_STALLED_INTERVAL_MS: '2000', JOB_RECOVERY_INTERVAL_MS: '3000' };

export async function startStack(options: StackOptions): Promise<Stack> {
  await resetDatabase();
  const queuePrefix = `${process.env.QUEUE_PREFIX ?? 'deidflow-test'}-faults-${options.name}`;
  const storageDir = options.storageDir ?? (await mkdtemp(join(tmpdir(), 'deidflow-faults-')));
  const overrides: Record<string, string> = {
    QUEUE_PREFIX: queuePrefix,
    EMBEDDED_WORKER: 'false',
    STORAGE_DIR: storageDir,
    ...(options.redisUrl ? { REDIS_URL: options.redisUrl } : {}),
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}),
    ...options.env,
  };
  const base = await testConfig(options.s3Endpoint ? 's3' : 'fs', overrides);
  const config: AppConfig = options.s3Endpoint ? { ...base, S3_ENDPOINT: options.s3Endpoint } : base;
  const env = workerEnvironment(config, { WORKER_CONCURRENCY: String(options.concurrency), ...FAST_RECOVERY, ...options.env });

  let inProcessApi: RunningApi | undefined;
  let apiProcess: ApiProcess | undefined;
  const workers: WorkerProcess[] = [];
  const stop = async () => {
    // SIGTERM: the graceful shutdown is part of ending cleanly.
    await Promise.all(workers.map((w) => w.stop()));
    await apiProcess?.process.stop();
    await inProcessApi?.close();
    if (config.REDIS_URL === REDIS_URL) await deleteRedisKeys(queuePrefix);
    if (!options.storageDir) await rm(storageDir, { recursive: true, force: true });
  };
  try {
    if (options.apiProcess) apiProcess = await startApiProcess(env, await freePort());
    else inProcessApi = await startApi(config);
    for (let i = 0; i < options.workers; i += 1) workers.push(await startWorker(env));
  } catch (err) {
    // Nothing left behind (an open API would keep Jest from exiting).
    await stop();
    throw err;
  }
  const baseUrl = apiProcess?.baseUrl ?? inProcessApi!.baseUrl;
  const stopApi = async (graceMs: number) => {
    if (!apiProcess) throw new Error('stopApi needs apiProcess: true');
    const ended = await apiProcess.process.stop(graceMs);
    return { ended, output: apiProcess.process.output() };
  };
  const port = Number(new URL(baseUrl).port);

  return {
    config,
    queuePrefix,
    client: new ApiClient(baseUrl),
    workers,
    baseUrl,
    async restartApi(graceMs) {
      const { ended } = await stopApi(graceMs);
      apiProcess = await startApiProcess(env, port);
      return ended;
    },
    async crashApi() {
      if (!apiProcess) throw new Error('crashApi needs apiProcess: true');
      await apiProcess.process.kill();
      apiProcess = await startApiProcess(env, port);
    },
    stopApi,
    diagnostics() {
      const api = apiProcess ? [`--- API ${apiProcess.process.pid}:\n${apiProcess.process.output().slice(-3000)}`] : [];
      return [...api, ...workers.map((w) => `--- worker ${w.pid}:\n${w.output().slice(-3000)}`)].join('\n');
    },
    stop,
  };
}
