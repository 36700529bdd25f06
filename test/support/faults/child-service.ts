import { ChildProcess, spawn } from 'node:child_process';
import { killChildren } from '../kill-children';

const STOP_TIMEOUT_MS = 15_000;
const KEPT_OUTPUT_CHARS = 20_000;
const READY_POLL_MS = 100;

export interface ChildService {
  readonly name: string;
  readonly pid: number;
  /** What the process wrote (stdout and stderr), the last ~20 kB: for failure messages. */
  output(): string;
  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves with the signal that ended it. */
  stop(timeoutMs?: number): Promise<'SIGTERM' | 'SIGKILL' | 'exited'>;
  /** SIGKILL (a crash), or the signal given; resolves once the process has exited. */
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface ChildServiceOptions {
  env: Record<string, string>;
  cwd?: string;
  /** Run as this user and group (a server that refuses root). */
  uid?: number;
  gid?: number;
  /** Polled until true: the service answers. */
  isReady: () => Promise<boolean>;
  startupTimeoutMs?: number;
}

const running = new Set<ChildProcess>();

/** Starts a service as a child process (Redis, the API) and resolves once `isReady` says so. */
export async function startChildService(name: string, command: string, args: string[], options: ChildServiceOptions): Promise<ChildService> {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, uid: options.uid, gid: options.gid, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let output = '';
  const keep = (chunk: Buffer) => (output = (output + chunk.toString('utf8')).slice(-KEPT_OUTPUT_CHARS));
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));
  const hasExited = () => child.exitCode !== null || child.signalCode !== null;

  const deadline = Date.now() + (options.startupTimeoutMs ?? 30_000);
  for (;;) {
    if (hasExited()) throw new Error(`${name} exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${output}`);
    if (await options.isReady().catch(() => false)) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw new Error(`${name} was not ready within ${options.startupTimeoutMs ?? 30_000} ms:\n${output}`);
    }
    await sleep(READY_POLL_MS);
  }

  return {
    name,
    pid: child.pid!,
    output: () => output,
    async kill(signal: NodeJS.Signals = 'SIGKILL') {
      if (hasExited()) return;
      child.kill(signal);
      await exited;
    },
    async stop(timeoutMs = STOP_TIMEOUT_MS) {
      if (hasExited()) return 'exited';
      let forced = false;
      const timer = setTimeout(() => {
        forced = true;
        child.kill('SIGKILL');
      }, timeoutMs);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(timer);
      return forced ? 'SIGKILL' : 'SIGTERM';
    },
  };
}

/** Kills every child service still running (afterAll safety net). */
export async function killAllChildServices(): Promise<void> {
  await killChildren(running);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
