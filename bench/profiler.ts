/**
 * Preloaded (`node --require dist/bench/profiler.js`) in the processes the bench profiles: V8's
 * sampling profilers, started and stopped by the harness over IPC so that a profile covers one
 * scenario only (`node --cpu-prof` writes at exit, and Nest re-raises SIGTERM, which ends the process
 * before anything is written).
 *
 * - cpu: the same profiler as `node --cpu-prof` (.cpuprofile).
 * - heap: the sampling heap profiler (.heapprofile) with the objects the GC already collected kept
 *   in: what was allocated during the scenario, not what is still alive at its end.
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export type ProfileKind = 'cpu' | 'heap';
export type ProfilerCommand = { type: 'profile:start'; kind: ProfileKind } | { type: 'profile:stop'; kind: ProfileKind; path: string };
export type ProfilerReply = { type: 'profile:started' } | { type: 'profile:written'; path: string } | { type: 'profile:error'; message: string };

/** One sample per this many bytes allocated on average (V8's default is 32 KiB). */
const HEAP_SAMPLING_INTERVAL = 8192;

function isCommand(message: unknown): message is ProfilerCommand {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'profile:start' || type === 'profile:stop';
}

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
}

async function start(session: Session, kind: ProfileKind): Promise<void> {
  if (kind === 'cpu') {
    await post(session, 'Profiler.enable');
    await post(session, 'Profiler.start');
  } else {
    await post(session, 'HeapProfiler.enable');
    await post(session, 'HeapProfiler.startSampling', {
      samplingInterval: HEAP_SAMPLING_INTERVAL,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
  }
}

async function stop(session: Session, kind: ProfileKind, path: string): Promise<void> {
  const result = (await post(session, kind === 'cpu' ? 'Profiler.stop' : 'HeapProfiler.stopSampling')) as { profile: unknown };
  writeFileSync(path, JSON.stringify(result.profile));
}

function reply(message: ProfilerReply): void {
  process.send?.(message);
}

if (process.send) {
  const session = new Session();
  session.connect();
  process.on('message', (message: unknown) => {
    if (!isCommand(message)) return;
    const done =
      message.type === 'profile:start'
        ? start(session, message.kind).then(() => reply({ type: 'profile:started' }))
        : stop(session, message.kind, message.path).then(() => reply({ type: 'profile:written', path: message.path }));
    done.catch((err: Error) => reply({ type: 'profile:error', message: err.message }));
  });
  // The IPC channel must not keep a process alive that would otherwise exit.
  process.channel?.unref();
}
