import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModulesContainer } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';
import { AppConfig, loadConfig } from '@deidflow/config';
import { createApiApp } from '../../apps/api/src/bootstrap';

export type StorageKind = 'fs' | 's3';

export interface RunningApi {
  app: NestFastifyApplication;
  baseUrl: string;
  config: AppConfig;
  close(): Promise<void>;
}

/** Configuration of this test run (see test/setup/global-setup.ts) for one storage driver. */
export async function testConfig(storage: StorageKind, overrides: Record<string, string> = {}): Promise<AppConfig> {
  const env: Record<string, string | undefined> = {
    ...process.env,
    HTTP_PORT: '0',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  };
  if (storage === 'fs') {
    env.STORAGE_DRIVER = 'fs';
    // Inside the run's directory (global-setup.ts), which the global teardown removes.
    env.STORAGE_DIR = overrides.STORAGE_DIR ?? (await mkdtemp(join(process.env.STORAGE_DIR ?? tmpdir(), 'e2e-')));
  } else {
    Object.assign(env, {
      STORAGE_DRIVER: 's3',
      S3_ENDPOINT: process.env.S3_TEST_ENDPOINT,
      S3_ACCESS_KEY: process.env.S3_TEST_ACCESS_KEY,
      S3_SECRET_KEY: process.env.S3_TEST_SECRET_KEY,
      S3_BUCKET: process.env.S3_TEST_BUCKET,
    });
  }
  return loadConfig(env);
}

/** Boots the real API (real Postgres, Redis and storage) on a random loopback port. */
export async function startApi(config: AppConfig): Promise<RunningApi> {
  const app = await createApiApp(config);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address() as { port: number };
  return { app, config, baseUrl: `http://127.0.0.1:${address.port}`, close: () => closeOrDescribe(app) };
}

/** A close slower than this is described on stderr while it goes on (the suites' hooks allow 30 s). */
const SLOW_CLOSE_MS = 20_000;

/**
 * app.close(), and, if it is still running after SLOW_CLOSE_MS, a line saying what the process is
 * waiting on: the lifecycle hooks not finished yet, the HTTP server's open connections and the
 * active resources. It found why closes hung now and then (RELIABILITY.md, item 12: connections
 * that never sent a request); kept so that a slow close always says where it waits.
 */
async function closeOrDescribe(app: NestFastifyApplication): Promise<void> {
  const pendingHooks = traceShutdownHooks(app);
  const timer = setTimeout(() => {
    app.getHttpServer().getConnections((_err, connections) => {
      console.error('app.close() still waiting', {
        pendingHooks: pendingHooks(),
        httpConnections: connections,
        resources: process.getActiveResourcesInfo(),
      });
    });
  }, SLOW_CLOSE_MS);
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

const SHUTDOWN_HOOKS = ['onModuleDestroy', 'beforeApplicationShutdown', 'onApplicationShutdown'] as const;

/** Wraps every provider's and controller's shutdown hooks; the result lists those begun and not ended. */
function traceShutdownHooks(app: NestFastifyApplication): () => string[] {
  const pending = new Map<string, number>();
  const seen = new WeakSet<object>();
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of [...module.providers.values(), ...module.controllers.values()]) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object' || seen.has(instance)) continue;
      seen.add(instance);
      for (const hook of SHUTDOWN_HOOKS) {
        const original = instance[hook];
        if (typeof original !== 'function') continue;
        const label = `${String(wrapper.name)}.${hook}`;
        instance[hook] = async function (this: unknown, ...args: unknown[]) {
          pending.set(label, Date.now());
          try {
            return await original.apply(this, args);
          } finally {
            pending.delete(label);
          }
        };
      }
    }
  }
  return () => [...pending].map(([label, since]) => `${label} for ${Date.now() - since} ms`);
}

/** Empties the index and the jobs (the database of the run is shared by the test files). */
export async function resetDatabase(): Promise<void> {
  const client = new Client({ connectionString: process.env.DATABASE_URL });
  await client.connect();
  try {
    await client.query(
      'TRUNCATE patients, studies, series, instances, resource_metadata, object_deletions, jobs, job_instances, lineage, pending_changes, changes CASCADE',
    );
  } finally {
    await client.end();
  }
}
