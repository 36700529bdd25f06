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
