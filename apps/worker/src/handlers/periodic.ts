import { settlesWithin } from '@deidflow/common';

/** A day, for retention settings given in days. */
export const DAY_MS = 24 * 60 * 60_000;

/** A task run by runPeriodically; `signal` aborts when the process shuts down (long tasks stop at their next step). */
export type PeriodicTask = (signal: AbortSignal) => Promise<unknown>;

/**
 * Stops the turns of runPeriodically, then waits at most `waitMs` for the turn under way (its
 * statements need the pool that the database module ends next); resolves to whether it settled.
 */
export type StopPeriodic = (waitMs: number) => Promise<boolean>;

/**
 * Runs `task` at once, then every `intervalMs`, skipping a turn while the previous run is still
 * going (a slow database must not pile runs up). The timer never keeps the process alive. `later`
 * is what the turns after the first run, when it differs. Returns what stops it.
 */
export function runPeriodically(intervalMs: number, task: PeriodicTask, later: PeriodicTask = task): StopPeriodic {
  const shutdown = new AbortController();
  let running: Promise<unknown> | undefined;
  const run = (what: PeriodicTask) => {
    if (running || shutdown.signal.aborted) return;
    running = what(shutdown.signal).finally(() => (running = undefined));
  };
  run(task);
  const timer = setInterval(() => run(later), intervalMs);
  timer.unref();
  return async (waitMs) => {
    clearInterval(timer);
    shutdown.abort();
    return running ? settlesWithin(running, waitMs) : true;
  };
}

/**
 * Calls `deleteBatch(size)` until it deletes fewer than `size` (the last batch), or `signal`
 * aborts: retention in short statements, whatever the backlog. Resolves to how many were deleted,
 * and the error that ended it early, if one did (the next run goes on from there).
 */
export async function deleteInBatches(
  size: number,
  deleteBatch: (size: number) => Promise<number>,
  signal?: AbortSignal,
): Promise<{ deleted: number; error?: Error }> {
  let deleted = 0;
  try {
    while (!signal?.aborted) {
      const batch = await deleteBatch(size);
      deleted += batch;
      if (batch < size) break;
    }
    return { deleted };
  } catch (err) {
    return { deleted, error: err as Error };
  }
}
