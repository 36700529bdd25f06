import type { ChildProcess } from 'node:child_process';

/** SIGKILLs every child process still running and waits for each to exit (afterAll safety nets). */
export async function killChildren(children: Iterable<ChildProcess>): Promise<void> {
  await Promise.all(
    [...children].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGKILL');
        }),
    ),
  );
}
