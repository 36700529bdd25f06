import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { AppConfig } from '@deidflow/config';
import { killChildren } from './kill-children';

const ROOT = join(__dirname, '../..');
const WORKER_ENTRY = join(ROOT, 'dist/apps/worker/src/main.js');
const BUILD_INFO = join(ROOT, 'dist/.tsbuildinfo');
const STARTUP_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;
const KEPT_OUTPUT_CHARS = 20_000;

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestMtime(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

function mtimeOr0(path: string): number {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return 0;
  }
}

/**
 * The worker processes run the compiled dist/ (they are real `node` processes, without Jest's
 * transform): compiles it when a source under apps/ or libs/ is newer than the last build. Type
 * errors elsewhere in the tree do not stop the emit; they are reported, the test goes on.
 */
export function ensureWorkerBuild(): void {
  const sources = Math.max(newestMtime(join(ROOT, 'apps')), newestMtime(join(ROOT, 'libs')));
  if (mtimeOr0(WORKER_ENTRY) > 0 && mtimeOr0(BUILD_INFO) >= sources) return;
  const npx = (args: string[]) => spawnSync('npx', args, { cwd: ROOT, encoding: 'utf8', timeout: 300_000 });
  const tsc = npx(['tsc', '-p', 'tsconfig.build.json']);
  if (tsc.status !== 0) console.warn(`tsc reported errors while building the worker (emitted anyway):\n${tsc.stdout}${tsc.stderr}`);
  const alias = npx(['tsc-alias', '-p', 'tsconfig.build.json']);
  if (alias.status !== 0) throw new Error(`tsc-alias failed:\n${alias.stdout}${alias.stderr}`);
  // An incremental build that emitted nothing new leaves the build info untouched: mark it fresh.
  const now = new Date();
  utimesSync(BUILD_INFO, now, now);
}

/** The environment of a worker process sharing the API's database, Redis queues and storage. */
export function workerEnvironment(config: AppConfig, overrides: Record<string, string> = {}): Record<string, string> {
  const storage: Record<string, string> =
    config.STORAGE_DRIVER === 'fs'
      ? { STORAGE_DRIVER: 'fs', STORAGE_DIR: config.STORAGE_DIR }
      : {
          STORAGE_DRIVER: 's3',
          S3_ENDPOINT: config.S3_ENDPOINT ?? '',
          S3_ACCESS_KEY: config.S3_ACCESS_KEY ?? '',
          S3_SECRET_KEY: config.S3_SECRET_KEY ?? '',
          S3_BUCKET: config.S3_BUCKET,
          S3_REGION: config.S3_REGION,
        };
  return {
    PATH: process.env.PATH ?? '',
    NODE_ENV: 'test',
    DATABASE_URL: config.DATABASE_URL,
    REDIS_URL: config.REDIS_URL,
    QUEUE_PREFIX: config.QUEUE_PREFIX,
    WORKER_CONCURRENCY: String(config.WORKER_CONCURRENCY),
    // "worker started" (info) tells when the process is ready.
    LOG_LEVEL: 'info',
    ...storage,
    ...overrides,
  };
}

export interface WorkerProcess {
  readonly pid: number;
  /** What the process wrote (JSON log lines), the last ~20 kB: for failure messages. */
  output(): string;
  /** SIGTERM (graceful: in-flight jobs finish or go back to the queue), SIGKILL after a timeout. */
  stop(): Promise<void>;
  /** SIGKILL: like a crashed machine; its active BullMQ jobs stay locked until their lock expires. */
  kill(): Promise<void>;
  /** How the process ended (undefined while it runs). */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
}

const running = new Set<ChildProcess>();

/** Starts `node --max-old-space-size=1024 dist/apps/worker/src/main.js` and resolves once it logged that it started. */
export async function startWorker(env: Record<string, string>): Promise<WorkerProcess> {
  // As npm run start:worker starts it (package.json).
  const child = spawn(process.execPath, ['--max-old-space-size=1024', WORKER_ENTRY], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => fail(`did not start within ${STARTUP_TIMEOUT_MS} ms`), STARTUP_TIMEOUT_MS);
    const onData = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-KEPT_OUTPUT_CHARS);
      if (output.includes('"msg":"worker started"')) done();
    };
    const onExit = (code: number | null) => fail(`exited with code ${code} before it started`);
    const cleanup = () => {
      clearTimeout(timer);
      child.off('exit', onExit);
    };
    const done = () => {
      cleanup();
      resolve();
    };
    const fail = (why: string) => {
      cleanup();
      child.kill('SIGKILL');
      reject(new Error(`Worker process ${why}:\n${output}`));
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', onExit);
  });

  const signalAndWait = async (signal: NodeJS.Signals) => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill(signal);
    await exited;
  };
  return {
    pid: child.pid!,
    output: () => output,
    exit: () => (child.exitCode !== null || child.signalCode !== null ? { code: child.exitCode, signal: child.signalCode } : undefined),
    kill: () => signalAndWait('SIGKILL'),
    async stop() {
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await signalAndWait('SIGTERM');
      clearTimeout(timer);
    },
  };
}

/** Kills every worker process this file started and that still runs (afterAll safety net). */
export async function killAllWorkers(): Promise<void> {
  await killChildren(running);
}
