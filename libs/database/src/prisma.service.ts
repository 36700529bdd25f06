import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { APP_CONFIG, AppConfig } from '@deidflow/config';
import { databaseUnavailable, isDatabaseUnavailable } from './errors';
import { PrismaClient } from './generated/client';

/** A statement prepared once per connection under its name (see PrismaService.prepared). */
export interface PreparedStatement {
  readonly name: string;
  readonly text: string;
}

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
 * (Named statements need session-level pooling: PgBouncer in transaction mode would break them.)
 */
@Injectable()
export class PrismaService extends PrismaClient implements OnModuleDestroy {
  private readonly pool: Pool;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    const pool = new Pool({ connectionString: config.DATABASE_URL, max: config.DATABASE_POOL_SIZE });
    // An idle connection closed by the server (restart, terminate) is dropped by the pool and the
    // next query opens another; without a listener the event would end the process.
    pool.on('error', () => undefined);
    super({ adapter: new PrismaPg(pool) });
    this.pool = pool;
  }

  async prepared<R extends QueryResultRow>(statement: PreparedStatement, values: unknown[]): Promise<R[]> {
    return runPrepared<R>(this.pool, statement, values);
  }

  /**
   * Runs `work` in one transaction, on one connection of the pool, its statements prepared as by
   * prepared(). Rolled back when `work` throws; a connection that cannot even roll back is dropped.
   */
  async preparedTransaction<T>(work: (run: PreparedRunner) => Promise<T>): Promise<T> {
    const client = await driverCall(this.pool.connect());
    let broken: Error | undefined;
    try {
      await driverCall(client.query('BEGIN'));
      const result = await work((statement, values) => runPrepared(client, statement, values));
      await driverCall(client.query('COMMIT'));
      return result;
    } catch (err) {
      // `work`'s own errors (say, the object store's) pass as they are: only the driver's are translated.
      await client.query('ROLLBACK').catch((rollbackError: Error) => (broken = rollbackError));
      throw err;
    } finally {
      client.release(broken);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
    await this.pool.end();
  }
}

/** One prepared statement on the pool or on one of its connections. */
async function runPrepared<R extends QueryResultRow>(on: Pool | PoolClient, statement: PreparedStatement, values: unknown[]): Promise<R[]> {
  return (await driverCall(on.query<R>({ name: statement.name, text: statement.text, values }))).rows;
}

/**
 * A call of node-postgres: Postgres unreachable or gone (a restart, a failover) becomes Orthanc's
 * DatabaseUnavailable, a transient 503; other errors stay as they are.
 */
function driverCall<T>(call: Promise<T>): Promise<T> {
  return call.catch((err: unknown) => Promise.reject(isDatabaseUnavailable(err, true) ? databaseUnavailable() : err));
}
