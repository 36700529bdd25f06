/**
 * Waits for `work` at most `ms`: true when it resolved in time, its error when it rejected in time,
 * false when the time ran out (the work goes on in the background; a later rejection is ignored).
 * For the steps of a shutdown, which must not hold a process for ever on a connection that never ends.
 */
export async function settlesWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeUp = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  work.catch(() => undefined);
  try {
    return await Promise.race([work.then(() => true), timeUp]);
  } finally {
    clearTimeout(timer);
  }
}
