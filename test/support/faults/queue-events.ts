import Redis from 'ioredis';
import { QueueName } from '@deidflow/queue';

/**
 * How many times each BullMQ event occurred on the modification queue, read from its event stream
 * (capped at 10,000 entries, plenty for one scenario). `delayed`: an attempt failed and was put
 * back with backoff; `stalled`: a lock expired and the job went back to the queue; `failed`: final.
 */
export async function queueEventCounts(redisUrl: string, queuePrefix: string): Promise<Record<string, number>> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    const entries = await redis.xrange(`${queuePrefix}:${QueueName.Modification}:events`, '-', '+');
    const counts: Record<string, number> = {};
    for (const [, fields] of entries) {
      const event = fields[fields.indexOf('event') + 1];
      counts[event] = (counts[event] ?? 0) + 1;
    }
    return counts;
  } finally {
    redis.disconnect();
  }
}
