import { ChildProcess, spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

const KEPT_OUTPUT_CHARS = 20_000;
const STARTUP_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 20_000;

export interface ServiceOptions {
  name: string;
  /** Arguments of `node`: flags, then the entry script. */
  nodeArgs: string[];
  env: Record<string, string>;
  /** Resolves once the process is ready (it may look at what the process wrote so far); stops on `signal`. */
  ready: (output: () => string, signal: AbortSignal) => Promise<void>;
  /** An IPC channel (the profiler preload listens on it). */
  ipc?: boolean;
}

/** A process of the stack: its output is kept (tail) for error messages and otherwise drained. */
export interface ServiceProcess {
  readonly name: string;
  readonly pid: number;
  output(): string;
  /** Resolves when the process has ended, whatever the reason. */
  readonly exited: Promise<void>;
  /** How it ended (`code 1`, `signal SIGKILL`), or undefined while it runs. */
  exitStatus(): string | undefined;
  send(message: unknown): void;
  /** Waits for one IPC message that `accept` recognises. */
  receive<T>(accept: (message: unknown) => message is T, timeoutMs: number): Promise<T>;
  /** SIGTERM (graceful), SIGKILL after a timeout. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

/** SIGKILLs every process started here that still runs (the harness failed or was interrupted). */
export function killStartedProcesses(): void {
  for (const child of running) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}

export async function startService(options: ServiceOptions): Promise<ServiceProcess> {
  const stdio: ('ignore' | 'pipe' | 'ipc')[] = ['ignore', 'pipe', 'pipe'];
  if (options.ipc) stdio.push('ipc');
  const child = spawn(process.execPath, options.nodeArgs, { env: options.env, stdio });
  running.add(child);
  let output = '';
  const append = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-KEPT_OUTPUT_CHARS);
  };
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => running.delete(child));

  const exitedEarly = exited.then(() => {
    throw new Error(`${options.name} exited (code ${child.exitCode}, signal ${child.signalCode}) before it was ready:\n${output}`);
  });
  const giveUp = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${options.name} was not ready within ${STARTUP_TIMEOUT_MS} ms:\n${output}`)), STARTUP_TIMEOUT_MS);
  });
  try {
    await Promise.race([options.ready(() => output, giveUp.signal), exitedEarly, timeout]);
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  } finally {
    giveUp.abort();
    clearTimeout(timer);
    exitedEarly.catch(() => undefined);
  }

  return {
    name: options.name,
    pid: child.pid!,
    output: () => output,
    exited,
    exitStatus: () =>
      child.exitCode !== null ? `code ${child.exitCode}` : child.signalCode !== null ? `signal ${child.signalCode}` : undefined,
    send: (message) => {
      if (!child.send) throw new Error(`${options.name} has no IPC channel`);
      child.send(message as object);
    },
    receive: <T>(accept: (message: unknown) => message is T, timeoutMs: number) =>
      new Promise<T>((resolve, reject) => {
        const onMessage = (message: unknown) => {
          if (!accept(message)) return;
          clearTimeout(deadline);
          child.off('message', onMessage);
          resolve(message);
        };
        const deadline = setTimeout(() => {
          child.off('message', onMessage);
          reject(new Error(`${options.name} sent no expected message within ${timeoutMs} ms`));
        }, timeoutMs);
        child.on('message', onMessage);
      }),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const killer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      child.kill('SIGTERM');
      await exited;
      clearTimeout(killer);
    },
  };
}

/** Ready once the output contains `marker` (e.g. the worker's `"msg":"worker started"`). */
export function readyOnOutput(marker: string): ServiceOptions['ready'] {
  return async (output, signal) => {
    while (!signal.aborted && !output().includes(marker)) await sleep(50);
  };
}

/** Ready once `check` resolves true (polled every 100 ms). */
export function readyWhen(check: () => Promise<boolean>): ServiceOptions['ready'] {
  return async (_output, signal) => {
    while (!signal.aborted && !(await check().catch(() => false))) await sleep(100);
  };
}
