/**
 * Rows read a page at a time by keyset: `read(after)` gives up to `pageSize` rows that follow the
 * cursor `after`, in the statement's order, and the last row of a page gives the next cursor. A
 * short page is the last. The caller may change the rows it was given (delete them, say) between
 * two pages: the next page starts after the cursor, not at an offset.
 */
export async function* keysetPages<R, C>(pageSize: number, start: C, read: (after: C) => Promise<R[]>, cursorOf: (last: R) => C): AsyncGenerator<R[]> {
  for (let after = start; ; ) {
    const rows = await read(after);
    if (rows.length === 0) return;
    yield rows;
    if (rows.length < pageSize) return;
    after = cursorOf(rows[rows.length - 1]);
  }
}

/** Where a page of `sinceLimitPages` starts: after the previous page's last row (keyset), else skipping `offset` rows; at most `take` rows. */
export interface SinceLimitPage<R> {
  after?: R;
  offset: number;
  take: number;
}

/**
 * Rows in a listing's order with Orthanc's `since` and `limit`, a page at a time: the first page
 * skips `since` rows by offset, the next ones continue after the last row by keyset; at most
 * `limit` rows in all. A short page is the last.
 */
export async function* sinceLimitPages<R>(
  range: { since?: number; limit?: number },
  pageSize: number,
  read: (page: SinceLimitPage<R>) => Promise<R[]>,
): AsyncGenerator<R[]> {
  let remaining = range.limit ?? Number.POSITIVE_INFINITY;
  let page: SinceLimitPage<R> = { offset: range.since ?? 0, take: Math.min(pageSize, remaining) };
  while (page.take > 0) {
    const rows = await read(page);
    if (rows.length === 0) return;
    yield rows;
    remaining -= rows.length;
    if (rows.length < page.take) return;
    page = { after: rows[rows.length - 1], offset: 0, take: Math.min(pageSize, remaining) };
  }
}
