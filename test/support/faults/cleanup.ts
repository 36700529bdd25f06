export type Defer = (cleanup: () => Promise<unknown>) => void;

/**
 * Runs `body`, then every cleanup it deferred, last first, whatever happened (a failed start
 * included): a scenario never leaves a process, a server or a directory behind. The first error wins.
 */
export async function withCleanup(body: (defer: Defer) => Promise<void>): Promise<void> {
  const cleanups: (() => Promise<unknown>)[] = [];
  let failure: unknown;
  try {
    await body((cleanup) => cleanups.push(cleanup));
  } catch (err) {
    failure = err;
  }
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
}
