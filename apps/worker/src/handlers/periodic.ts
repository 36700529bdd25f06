/** A day, for retention settings given in days. */
export const DAY_MS = 24 * 60 * 60_000;

/**
 * Runs `task` at once, then every `intervalMs`, skipping a turn while the previous run is still
 * going (a slow database must not pile runs up). The timer never keeps the process alive. `later`
 * is what the turns after the first run, when it differs. Returns what stops it.
 */
export function runPeriodically(intervalMs: number, task: () => Promise<unknown>, later: () => Promise<unknown> = task): () => void {
  let running: Promise<unknown> | undefined;
  const run = (what: () => Promise<unknown>) => {
    if (running) return;
    running = what().finally(() => (running = undefined));
  };
  run(task);
  const timer = setInterval(() => run(later), intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

/**
 * Calls `deleteBatch(size)` until it deletes fewer than `size` (the last batch): retention in short
 * statements, whatever the backlog. Resolves to how many were deleted, and the error that ended it
 * early, if one did (the next run goes on from there).
 */
export async function deleteInBatches(size: number, deleteBatch: (size: number) => Promise<number>): Promise<{ deleted: number; error?: Error }> {
  let deleted = 0;
  try {
    for (;;) {
      const batch = await deleteBatch(size);
      deleted += batch;
      if (batch < size) return { deleted };
    }
  } catch (err) {
    return { deleted, error: err as Error };
  }
}
