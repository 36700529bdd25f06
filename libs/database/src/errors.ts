import { OrthancError, OrthancErrorCode } from '@deidflow/common';

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

// SQLSTATE of a server going away, not there yet or too slow: class 08 (connection exception),
// 57P01-57P03 (terminated by an administrator, crash shutdown, cannot connect now: starting up or in
// recovery), 53300 (too many connections), 57014 (cancelled: statement_timeout, or an administrator),
// 25P03 (idle_in_transaction_session_timeout ended the session).
const UNAVAILABLE_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300|57014|25P03)$/;
// Prisma: can't reach the server, timed out reaching it, server closed the connection, pool timeout.
const UNAVAILABLE_PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017', 'P2024']);
// The driver adapter's kinds of the same (Prisma puts them under meta.driverAdapterError).
const UNAVAILABLE_ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);
// Socket errors, without a SQLSTATE: the socket refused, cut or silent (only from node-postgres'
// calls: another service's client has the same codes).
const UNAVAILABLE_SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH']);
// node-postgres' own wording (also under Prisma's errors): the connection cut or broken, and its
// timeouts: the server did not answer a query (query_timeout) or a connection
// (connectionTimeoutMillis), or no connection of the pool came free in time.
const UNAVAILABLE_MESSAGE = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;

interface DriverError {
  code?: unknown;
  message?: unknown;
  meta?: { driverAdapterError?: { cause?: { kind?: string; originalCode?: string; code?: string } } };
  cause?: unknown;
}

/**
 * True when `err` says that Postgres cannot be reached, went away or did not answer in time (a
 * restart, a failover, the network, a hung server, an overload) rather than that the statement is
 * wrong: the same call is worth trying again later.
 * Bare socket errors count only with `fromDriver` (errors that only node-postgres can have
 * thrown): elsewhere they may be another service's (Redis, the object store).
 */
export function isDatabaseUnavailable(err: unknown, fromDriver = false): boolean {
  let e = err as DriverError | null | undefined;
  for (let depth = 0; e && typeof e === 'object' && depth < 4; depth += 1, e = e.cause as DriverError | undefined) {
    const code = typeof e.code === 'string' ? e.code : '';
    if (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_PRISMA_CODES.has(code)) return true;
    const adapter = e.meta?.driverAdapterError?.cause;
    if (adapter?.kind && UNAVAILABLE_ADAPTER_KINDS.has(adapter.kind)) return true;
    if (adapter?.kind === 'postgres' && UNAVAILABLE_SQLSTATE.test(adapter.originalCode ?? adapter.code ?? '')) return true;
    if (UNAVAILABLE_MESSAGE.test(String(e.message ?? ''))) return true;
    if (fromDriver && UNAVAILABLE_SOCKET_CODES.has(code)) return true;
  }
  return false;
}

/** Orthanc's answer for it: 503, a transient error (workers retry it, clients may). No statement or value in the details. */
export function databaseUnavailable(): OrthancError {
  return new OrthancError(OrthancErrorCode.DatabaseUnavailable);
}
