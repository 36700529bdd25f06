import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type PoolClient, type QueryConfig, type QueryResultRow } from 'pg';
import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { databaseUnavailable, isDatabaseUnavailable } from './errors';
import { PrismaClient } from './generated/client';

/** How much longer than its statement timeout a silent server is waited for: network and scheduling, not work. */
const SERVER_ANSWER_GRACE_MS = 5_000;
/** A long statement's time, in DATABASE_STATEMENT_TIMEOUT_MS (see PreparedStatement.long). */
const LONG_STATEMENT_FACTOR = 10;

/** A statement prepared once per connection under its name (see PrismaService.prepared). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
  /**
   * Its work grows with the size of a job or a resource (every instance of it: the end of a bulk
   * job, a resubmit, a deletion): allowed 10x DATABASE_STATEMENT_TIMEOUT_MS, 10 minutes by default,
   * in a transaction of its own. The end of a bulk job takes ~1.7 s per 100,000 instances.
   */
  readonly long?: boolean;
}

const ALLOW_LONG_STATEMENT: PreparedStatement = {
  name: 'deidflow_allow_long_statement',
  text: `SELECT set_config('statement_timeout', $1, true)`,
};

/** Runs one prepared statement inside PrismaService.preparedTransaction. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type PreparedRunner = <R extends QueryResultRow = any>(statement: PreparedStatement, values: unknown[]) => Promise<R[]>;

/**
 * The Prisma client (Rust-free, over node-postgres). Only repositories use it.
 *
 * The worker's statements and the per-instance ones of the API go through `prepared()` instead:
 * the same pool, but as named prepared statements, without Prisma's query pipeline. Measured on
 * the index (BENCHMARKS.md): a primary-key read costs 0.63 ms as `findUnique`, 0.39 ms as
 * `$queryRaw` and 0.07 ms prepared; and a process that never queries through Prisma never loads
 * its query compiler (~65 MB), which keeps a worker's memory down.
 * (Named statements need session pooling, or PgBouncer 1.21+ in transaction mode with
 * max_prepared_statements set: README.md.)
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  private readonly pool: Pool;
  private readonly longStatementMs: number;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const pool = new Pool({
      connectionString: config.DATABASE_URL,
      max: config.DATABASE_POOL_SIZE,
      // Bounds for a server that accepts but does not answer (frozen, its disk hung, a failover's
      // old address): without them a call waits for TCP's timeout, or for ever.
      connectionTimeoutMillis: config.DATABASE_CONNECT_TIMEOUT_MS,
      // Postgres cancels a long statement itself (a clean error, its locks released); the driver
      // gives up only on a server that does not even do that.
      statement_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
      idle_in_transaction_session_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS,
      query_timeout: config.DATABASE_STATEMENT_TIMEOUT_MS + SERVER_ANSWER_GRACE_MS,
      keepAlive: true,
    });
    // An idle connection closed by the server (restart, terminate) is dropped by the pool and the
    // next query opens another; without a listener the event would end the process.
    pool.on('error', () => undefined);
    super({ adapter: new PrismaPg(pool) });
    this.pool = pool;
    this.longStatementMs = LONG_STATEMENT_FACTOR * config.DATABASE_STATEMENT_TIMEOUT_MS;
  }

  async prepared<R extends QueryResultRow>(statement: PreparedStatement, values: unknown[]): Promise<R[]> {
    if (statement.long) return this.preparedTransaction((run) => run<R>(statement, values));
    return runPrepared<R>(this.pool, statement, values);
  }

  /**
   * Runs `work` in one transaction, on one connection of the pool, its statements prepared as by
   * prepared(). Rolled back when `work` throws; a connection that cannot even roll back, or that
   * the server cut or stopped answering, is dropped (Postgres rolls back what it held).
   */
  async preparedTransaction<T>(work: (run: PreparedRunner) => Promise<T>): Promise<T> {
    const client = await driverCall(this.pool.connect());
    let broken: Error | undefined;
    // The server may end the session between two statements (idle_in_transaction_session_timeout,
    // a terminate): node-postgres then emits 'error' on the connection, which would end the process
    // without a listener; the next statement fails and the connection is dropped.
    const onError = (err: Error) => (broken = err);
    client.on('error', onError);
    let longAllowed = false;
    const run: PreparedRunner = async (statement, values) => {
      if (!statement.long) return runPrepared(client, statement, values);
      if (!longAllowed) await runPrepared(client, ALLOW_LONG_STATEMENT, [String(this.longStatementMs)]);
      longAllowed = true;
      return runPrepared(client, statement, values, this.longStatementMs + SERVER_ANSWER_GRACE_MS);
    };
    try {
      await driverCall(client.query('BEGIN'));
      const result = await work(run);
      await driverCall(client.query('COMMIT'));
      return result;
    } catch (err) {
      // `work`'s own errors (say, the object store's) pass as they are: only the driver's are translated.
      if (isUnavailableAnswer(err)) broken = err;
      else await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.off('error', onError);
      client.release(broken);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.pool.end();
  }
}

/** One prepared statement on the pool or on one of its connections; `queryTimeoutMs` instead of the pool's. */
async function runPrepared<R extends QueryResultRow>(
  on: Pool | PoolClient,
  statement: PreparedStatement,
  values: unknown[],
  queryTimeoutMs?: number,
): Promise<R[]> {
  // node-postgres reads query_timeout per query too (its types leave it out).
  const query = { name: statement.name, text: statement.text, values, ...(queryTimeoutMs ? { query_timeout: queryTimeoutMs } : {}) } as QueryConfig;
  return (await driverCall(on.query<R>(query))).rows;
}

/**
 * A call of node-postgres: Postgres unreachable or gone (a restart, a failover) becomes Orthanc's
 * DatabaseUnavailable, a transient 503; other errors stay as they are.
 */
function driverCall<T>(call: Promise<T>): Promise<T> {
  return call.catch((err: unknown) => Promise.reject(isDatabaseUnavailable(err, true) ? databaseUnavailable() : err));
}

function isUnavailableAnswer(err: unknown): err is OrthancError {
  return err instanceof OrthancError && err.code === OrthancErrorCode.DatabaseUnavailable;
}
