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
