import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Client } from 'pg';
import { readyOnOutput, readyWhen, ServiceProcess, startService } from './child-process';
import type { ProfileKind, ProfilerReply } from './profiler';
import { HttpClient } from './http-client';
import type { BenchOptions, StorageDriver } from './options';
import type { ProcessMonitor } from './process-monitor';
import type { ProbeRepetition } from './storage-probe';

export interface StackSettings {
  storage: StorageDriver;
  options: BenchOptions;
  /** The compiled tree: dist/ (apps/, libs/, bench/ under it). */
  distRoot: string;
  monitor: ProcessMonitor;
  /** Names the profile files of this run. */
  runId: string;
}

const S3_BUCKET = 'deidflow-bench';
const S3_CREDENTIAL = 'S3RVER'; // s3rver accepts any credentials; these are its documented defaults
const PROFILE_TIMEOUT_MS = 120_000;

/** A free loopback port for a service of the benchmark. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Drops (and recreates) the benchmark's own database: every column starts from an empty index. */
async function resetDatabase(databaseUrl: string, mode: 'recreate' | 'drop'): Promise<void> {
  const url = new URL(databaseUrl);
  const name = decodeURIComponent(url.pathname.slice(1));
  if (!/^[A-Za-z0-9_]+$/.test(name) || name === 'postgres') throw new Error(`Refusing to drop database "${name}"`);
  url.pathname = '/postgres';
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    if (mode === 'recreate') await client.query(`CREATE DATABASE "${name}"`);
  } finally {
    await client.end();
  }
}

/** Deletes the keys of the benchmark's queue prefix only (BullMQ keys are `<prefix>:<queue>:...`). */
export async function clearQueuePrefix(redisUrl: string, prefix: string): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function isProfilerReply(message: unknown): message is ProfilerReply {
  return typeof (message as { type?: unknown } | null)?.type === 'string' && String((message as { type: string }).type).startsWith('profile:');
}

/**
 * The real stack of one storage column: a fresh database, a cleared queue prefix, the storage
 * (fs directory, or s3rver in its own process), the API (EMBEDDED_WORKER=false) and worker
 * processes, every process tracked by the monitor.
 */
export class BenchStack {
  readonly workers: ServiceProcess[] = [];
  readonly http: HttpClient;

  private constructor(
    private readonly settings: StackSettings,
    private readonly env: Record<string, string>,
    private readonly workDir: string,
    readonly api: ServiceProcess,
    readonly baseUrl: string,
    private readonly s3rver: ServiceProcess | undefined,
  ) {
    this.http = new HttpClient(baseUrl, Math.max(settings.options.uploadConcurrency, 4));
  }

  static async start(settings: StackSettings): Promise<BenchStack> {
    const { options, storage, monitor } = settings;
    await resetDatabase(options.databaseUrl, 'recreate');
    await clearQueuePrefix(options.redisUrl, options.queuePrefix);
    const workDir = await mkdtemp(join(tmpdir(), `deidflow-bench-${storage}-`));
    const base: Record<string, string> = {
      PATH: process.env.PATH ?? '',
      ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
      NODE_ENV: 'production',
      DATABASE_URL: options.databaseUrl,
      REDIS_URL: options.redisUrl,
      QUEUE_PREFIX: options.queuePrefix,
      WORKER_CONCURRENCY: String(options.workerConcurrency),
      ...(options.queueWindow ? { QUEUE_WINDOW_PER_JOB: String(options.queueWindow) } : {}),
      ...(options.queueMaxTasks ? { QUEUE_MAX_TASKS: String(options.queueMaxTasks) } : {}),
      LOG_LEVEL: 'info',
      // The daily sweep for orphan files starts with the first worker: a listing of the store at a
      // moment unrelated to the scenarios, which measure the steady state.
      STORE_ORPHAN_SWEEP_INTERVAL_MS: '0',
    };
    let s3rver: ServiceProcess | undefined;
    if (storage === 'fs') {
      Object.assign(base, { STORAGE_DRIVER: 'fs', STORAGE_DIR: join(workDir, 'storage') });
    } else {
      s3rver = await startService({
        name: 's3rver',
        nodeArgs: [join(settings.distRoot, 'bench/s3rver-process.js'), join(workDir, 's3rver')],
        env: { PATH: base.PATH },
        ready: readyOnOutput('{"port":'),
      });
      monitor.track(s3rver.pid, 's3rver');
      const port = (JSON.parse(/\{"port":\d+\}/.exec(s3rver.output())![0]) as { port: number }).port;
      Object.assign(base, {
        STORAGE_DRIVER: 's3',
        S3_ENDPOINT: `http://127.0.0.1:${port}`,
        S3_ACCESS_KEY: S3_CREDENTIAL,
        S3_SECRET_KEY: S3_CREDENTIAL,
        S3_BUCKET,
      });
    }
    const port = await freePort();
    const baseUrl = `http://127.0.0.1:${port}`;
    const probe = new HttpClient(baseUrl, 1);
    const api = await startService({
      name: 'api',
      // As `npm start` and the Dockerfile start it.
      nodeArgs: ['--max-semi-space-size=8', ...profilerArgs(settings), join(settings.distRoot, 'apps/api/src/main.js')],
      env: { ...base, HTTP_HOST: '127.0.0.1', HTTP_PORT: String(port), DICOM_PORT: '0', EMBEDDED_WORKER: 'false' },
      ready: readyWhen(async () => (await probe.send('GET', '/system')).status === 200),
      ipc: profiling(settings),
    });
    probe.close();
    monitor.track(api.pid, 'api');
    const stack = new BenchStack(settings, base, workDir, api, baseUrl, s3rver);
    await stack.startWorker();
    return stack;
  }

  get storage(): StorageDriver {
    return this.settings.storage;
  }

  async startWorker(): Promise<ServiceProcess> {
    const name = `worker-${this.workers.length + 1}`;
    const worker = await startService({
      name,
      // As package.json's start:worker and docker-compose.yml run it.
      nodeArgs: ['--max-old-space-size=1024', ...profilerArgs(this.settings), join(this.settings.distRoot, 'apps/worker/src/main.js')],
      env: this.env,
      ready: readyOnOutput('"msg":"worker started"'),
      ipc: profiling(this.settings),
    });
    this.settings.monitor.track(worker.pid, name);
    this.workers.push(worker);
    return worker;
  }

  async stopLastWorker(): Promise<void> {
    const worker = this.workers.pop();
    if (!worker) return;
    this.settings.monitor.untrack(worker.pid);
    await worker.stop();
  }

  private profiled(): ServiceProcess[] {
    return [this.api, ...this.workers];
  }

  /** The processes of the stack that ended on their own, with the end of what they wrote. */
  deadProcesses(): string[] {
    const services = [this.api, ...this.workers, ...(this.s3rver ? [this.s3rver] : [])];
    return services
      .filter((service) => service.exitStatus() !== undefined)
      .map((service) => `${service.name} ended (${service.exitStatus()}); its last output:\n${service.output().slice(-3000)}`);
  }

  async startProfiling(kind: ProfileKind): Promise<void> {
    await Promise.all(
      this.profiled().map(async (service) => {
        const started = service.receive(isProfilerReply, PROFILE_TIMEOUT_MS);
        service.send({ type: 'profile:start', kind });
        const reply = await started;
        if (reply.type !== 'profile:started') throw new Error(`${service.name}: cannot start profiling: ${JSON.stringify(reply)}`);
      }),
    );
  }

  /** Writes one .cpuprofile or .heapprofile per process; returns their paths by process name. */
  async stopProfiling(kind: ProfileKind, directory: string, label: string): Promise<Record<string, string>> {
    const written = await Promise.all(
      this.profiled().map(async (service) => {
        const path = join(directory, `${this.settings.runId}-${label}-${this.storage}-${service.name}.${kind}profile`);
        const done = service.receive(isProfilerReply, PROFILE_TIMEOUT_MS);
        service.send({ type: 'profile:stop', kind, path });
        const reply = await done;
        if (reply.type !== 'profile:written') throw new Error(`${service.name}: cannot write its profile: ${JSON.stringify(reply)}`);
        return [service.name, path] as const;
      }),
    );
    return Object.fromEntries(written);
  }

  /** Scenario 7: the storage probe, in its own process with the worker's environment. */
  async runStorageProbe(keys: string[], concurrency: number, reps: number): Promise<ProbeRepetition[]> {
    const keysFile = join(this.workDir, 'probe-keys.json');
    await writeFile(keysFile, JSON.stringify(keys));
    const probe = await startService({
      name: 'storage-probe',
      nodeArgs: [join(this.settings.distRoot, 'bench/storage-probe.js'), keysFile, String(concurrency), String(reps)],
      env: this.env,
      ready: async () => undefined,
    });
    this.settings.monitor.track(probe.pid, 'storage-probe');
    await probe.exited;
    this.settings.monitor.untrack(probe.pid);
    const results = probe
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{"rep":'))
      .map((line) => JSON.parse(line) as ProbeRepetition);
    if (results.length !== reps) throw new Error(`The storage probe ended after ${results.length} of ${reps} repetitions:\n${probe.output()}`);
    return results;
  }

  async stop(): Promise<void> {
    this.http.close();
    while (this.workers.length > 0) await this.stopLastWorker();
    this.settings.monitor.untrack(this.api.pid);
    await this.api.stop();
    if (this.s3rver) {
      this.settings.monitor.untrack(this.s3rver.pid);
      await this.s3rver.stop();
    }
    await clearQueuePrefix(this.settings.options.redisUrl, this.settings.options.queuePrefix);
    await resetDatabase(this.settings.options.databaseUrl, 'drop');
    await rm(this.workDir, { recursive: true, force: true });
  }
}

/** The processes listen for the harness's profiler commands (bench/profiler.ts). */
function profiling(settings: StackSettings): boolean {
  return settings.options.cpuProf || settings.options.heapProf;
}

function profilerArgs(settings: StackSettings): string[] {
  return profiling(settings) ? ['--require', join(settings.distRoot, 'bench/profiler.js')] : [];
}
