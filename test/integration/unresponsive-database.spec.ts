import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { loadConfig } from '@deidflow/config';
import { isDatabaseUnavailable, PrismaService } from '@deidflow/database';
import { canRunPostgres, PostgresServer, startPostgresServer } from '../support/faults/postgres-server';

const CONNECT_TIMEOUT_MS = 500;
const STATEMENT_TIMEOUT_MS = 1000;
// The driver's own give-up comes 5 s after the statement timeout (PrismaService).
const DRIVER_GIVE_UP_MS = STATEMENT_TIMEOUT_MS + 5000;
const SLACK_MS = 2000;
const FROZEN_AT_MOST_MS = 20_000;

const PING = { name: 'deidflow_test_ping', text: 'SELECT 1 AS one' };

/** What a call did: how long it took and how it ended. */
async function timed(call: Promise<unknown>): Promise<{ ms: number; error?: unknown }> {
  const start = Date.now();
  try {
    await call;
    return { ms: Date.now() - start };
  } catch (error) {
    return { ms: Date.now() - start, error };
  }
}

function expectUnavailable(error: unknown) {
  expect(error).toBeDefined();
  expect(isDatabaseUnavailable(error) || (error instanceof OrthancError && error.code === OrthancErrorCode.DatabaseUnavailable)).toBe(true);
}

/**
 * A Postgres that hangs rather than refuses (SIGSTOP: the kernel still accepts connections and
 * bytes, nothing answers): every kind of call gives up within its bound and says "unavailable",
 * and the same service works again once the server does. A private cluster: the shared one serves
 * the other suites.
 */
(canRunPostgres() ? describe : describe.skip)('an unresponsive Postgres (a private cluster, frozen)', () => {
  let postgres: PostgresServer;
  let prisma: PrismaService;

  beforeAll(async () => {
    postgres = await startPostgresServer();
    prisma = new PrismaService(
      loadConfig({
        ...process.env,
        DATABASE_URL: postgres.url,
        DATABASE_CONNECT_TIMEOUT_MS: String(CONNECT_TIMEOUT_MS),
        DATABASE_STATEMENT_TIMEOUT_MS: String(STATEMENT_TIMEOUT_MS),
      }),
    );
  }, 60_000);
  afterAll(async () => {
    await prisma?.onModuleDestroy();
    await postgres?.dispose();
  }, 30_000);

  it('a statement longer than the statement timeout is cancelled by Postgres: unavailable (a transient 503)', async () => {
    const slow = await timed(prisma.prepared({ name: 'deidflow_test_sleep', text: 'SELECT pg_sleep(30)' }, []));
    expectUnavailable(slow.error);
    expect(slow.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + SLACK_MS);
  });

  it('a statement whose work grows with a job or a resource (long) is allowed ten times as long, in its own transaction', async () => {
    const sleep = { name: 'deidflow_test_long_sleep', text: 'SELECT pg_sleep(2)', long: true };
    expect((await timed(prisma.prepared(sleep, []))).error).toBeUndefined();
    expectUnavailable((await timed(prisma.prepared({ ...sleep, name: 'deidflow_test_short_sleep', long: false }, []))).error);
    // The allowance ends with its transaction: the connection it used is back to the short timeout.
    await Promise.all([prisma.prepared(PING, []), prisma.prepared(PING, [])]);
    const after = await timed(prisma.prepared({ name: 'deidflow_test_sleep', text: 'SELECT pg_sleep(30)' }, []));
    expectUnavailable(after.error);
    expect(after.ms).toBeLessThan(STATEMENT_TIMEOUT_MS + SLACK_MS);
  });

  it('a transaction left idle (its process stuck, say) is ended by Postgres: its locks do not outlive the timeout', async () => {
    const stuck = await timed(
      prisma.preparedTransaction(async (run) => {
        await run(PING, []);
        await new Promise((resolve) => setTimeout(resolve, STATEMENT_TIMEOUT_MS + 500));
        return run(PING, []);
      }),
    );
    expectUnavailable(stuck.error);
    expect((await timed(prisma.prepared(PING, []))).error).toBeUndefined();
  });

  it('frozen: calls on open connections give up after the statement timeout and a grace, new connections after the connect timeout', async () => {
    // Two connections open and idle in the pool when the server freezes.
    await Promise.all([prisma.prepared(PING, []), prisma.prepared(PING, [])]);
    await postgres.freeze();
    // Thawed on time even if a call hangs (the failure this test is for): its assertions then fail instead.
    const thawTimer = setTimeout(() => void postgres.thaw(), FROZEN_AT_MOST_MS);
    try {
      const onOpenConnections = await Promise.all([timed(prisma.prepared(PING, [])), timed(prisma.preparedTransaction((run) => run(PING, [])))]);
      for (const call of onOpenConnections) {
        expectUnavailable(call.error);
        // One give-up each: a transaction whose connection stopped answering is dropped, not rolled back over it.
        expect(call.ms).toBeGreaterThanOrEqual(STATEMENT_TIMEOUT_MS);
        expect(call.ms).toBeLessThan(DRIVER_GIVE_UP_MS + SLACK_MS);
      }
      // Those connections were dropped: every call now needs a new one, through Prisma too.
      const onNewConnections = await Promise.all([timed(prisma.prepared(PING, [])), timed(prisma.$queryRaw`SELECT 1`), timed(prisma.job.count())]);
      for (const call of onNewConnections) {
        expectUnavailable(call.error);
        expect(call.ms).toBeLessThan(CONNECT_TIMEOUT_MS + SLACK_MS);
      }
    } finally {
      clearTimeout(thawTimer);
      await postgres.thaw();
    }
    // The same service works again: nothing of the frozen time stays in the pool.
    expect((await timed(prisma.prepared(PING, []))).error).toBeUndefined();
    expect(await prisma.job.count()).toBe(0);
  }, 60_000);
});
