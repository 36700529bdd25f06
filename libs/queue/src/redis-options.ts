import type { RedisOptions } from 'ioredis';

/** ioredis options from a `redis://[user:pass@]host:port[/db]` or `rediss://` URL (BullMQ takes no URL). */
export function redisOptionsFromUrl(url: string): RedisOptions {
  const u = new URL(url);
  return {
    host: u.hostname,
    port: u.port ? Number(u.port) : 6379,
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    db: u.pathname.length > 1 ? Number(u.pathname.slice(1)) : 0,
    tls: u.protocol === 'rediss:' ? {} : undefined,
    // BullMQ workers block on Redis: they must not give up on a command during a Redis restart.
    maxRetriesPerRequest: null,
  };
}
