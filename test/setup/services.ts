import Redis from 'ioredis';
import { Client } from 'pg';

/** The real services the integration and e2e tests run against (see global-setup.ts). */
export const POSTGRES_URL = 'postgresql://postgres@127.0.0.1:5432';
export const REDIS_URL = 'redis://127.0.0.1:6379';

const CONNECT_TIMEOUT_MS = 3000;

const START_POSTGRES = 'pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start';
const START_REDIS =
  'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no ' +
  '--dir /var/lib/redis --logfile /var/log/redis/ci.log';

export function databaseUrl(name: string): string {
  return `${POSTGRES_URL}/${name}`;
}

async function withAdminClient<T>(use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl('postgres'), connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => undefined);
    throw unavailable('Postgres at 127.0.0.1:5432 (user postgres, trust authentication)', err, START_POSTGRES);
  }
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/** Drops and creates the database, so that every run starts from an empty schema. */
export async function recreateDatabase(name: string): Promise<void> {
  await withAdminClient(async (client) => {
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
    await client.query(`CREATE DATABASE "${name}"`);
  });
}

export async function dropDatabase(name: string): Promise<void> {
  await withAdminClient((client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`));
}

export async function withRedis<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis(REDIS_URL, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // connect() only says "Connection is closed."; the socket error says why.
  let socketError: unknown;
  redis.on('error', (err) => {
    socketError = err;
  });
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    redis.disconnect();
    throw unavailable('Redis at 127.0.0.1:6379', socketError ?? err, START_REDIS);
  }
  try {
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

export async function checkRedis(): Promise<void> {
  await withRedis(async () => undefined);
}

/** Removes every key of one run (BullMQ names its keys `<prefix>:<queue>:...`). */
export async function deleteRedisKeys(prefix: string): Promise<void> {
  await withRedis(async (redis) => {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
  });
}

function unavailable(service: string, err: unknown, startCommand: string): Error {
  const reason = (err as { code?: string; message?: string }).code ?? (err as Error).message;
  return new Error(
    `Integration tests need ${service}, which did not answer (${reason}).\nStart it with:\n  ${startCommand}`,
  );
}
