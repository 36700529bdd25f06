/**
 * True for a foreign key violation (SQLSTATE 23503), whichever way Prisma reports it: P2003 from
 * model queries, or the driver's code under `meta` from raw queries.
 */
export function isForeignKeyViolation(err: unknown): boolean {
  const e = err as { code?: string; meta?: Record<string, unknown>; message?: string } | null;
  if (!e) return false;
  if (e.code === 'P2003' || e.code === '23503') return true;
  const meta = JSON.stringify(e.meta ?? {});
  return meta.includes('23503') || /foreign key constraint/i.test(e.message ?? '');
}

/** True for a deadlock (SQLSTATE 40P01): Postgres aborted one of the transactions; running it again is safe. */
export function isDeadlock(err: unknown): boolean {
  const e = err as { code?: string; meta?: Record<string, unknown>; message?: string } | null;
  if (!e) return false;
  return e.code === '40P01' || JSON.stringify(e.meta ?? {}).includes('40P01') || /deadlock detected/i.test(e.message ?? '');
}

/**
 * Runs an idempotent statement again when it lost a race with concurrent writers of the same
 * hierarchy: a parent deleted meanwhile fails the foreign key check (the next attempt recreates
 * it), and concurrent upserts of one patient/study/series can deadlock (Postgres aborts one).
 */
export async function retryOnRace<T>(statement: () => Promise<T>, attempts = 3): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (err) {
      if (attempt >= attempts || !(isForeignKeyViolation(err) || isDeadlock(err))) throw err;
    }
  }
}
