/**
 * Preloaded (`node --require dist/bench/cpu-profiler.js`) in the processes the bench profiles: the
 * same V8 sampling profiler as `node --cpu-prof`, but started and stopped by the harness over IPC,
 * so the .cpuprofile covers one scenario only (`--cpu-prof` writes at exit, and Nest re-raises
 * SIGTERM, which ends the process before anything is written).
 */
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';

export type ProfilerCommand = { type: 'cpu-profile:start' } | { type: 'cpu-profile:stop'; path: string };
export type ProfilerReply = { type: 'cpu-profile:started' } | { type: 'cpu-profile:written'; path: string } | { type: 'cpu-profile:error'; message: string };

function isCommand(message: unknown): message is ProfilerCommand {
  const type = (message as { type?: unknown } | null)?.type;
  return type === 'cpu-profile:start' || type === 'cpu-profile:stop';
}

function post(session: Session, method: string, params?: object): Promise<unknown> {
  return new Promise((resolve, reject) => session.post(method, params ?? {}, (err, result) => (err ? reject(err) : resolve(result))));
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
      message.type === 'cpu-profile:start'
        ? post(session, 'Profiler.enable')
            .then(() => post(session, 'Profiler.start'))
            .then(() => reply({ type: 'cpu-profile:started' }))
        : post(session, 'Profiler.stop').then((result) => {
            writeFileSync(message.path, JSON.stringify((result as { profile: unknown }).profile));
            reply({ type: 'cpu-profile:written', path: message.path });
          });
    done.catch((err: Error) => reply({ type: 'cpu-profile:error', message: err.message }));
  });
  // The IPC channel must not keep a process alive that would otherwise exit.
  process.channel?.unref();
}
