import type { Logger } from 'pino';

export const SHUTDOWN_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

/**
 * A process asked to stop exits within `timeoutMs`, even when a step of its graceful shutdown does
 * not end: Fastify's close waits for every request in flight, and a client that stalls a download
 * (or a ZIP of a whole patient) holds it open for as long as it likes; a Redis or Postgres
 * connection can wait on a server that went away. Nest's own signal handlers run the graceful
 * shutdown; this only bounds it, with a line saying so. Nothing is lost by exiting: instances a
 * worker still held are delivered again once their hold expires (each is idempotent).
 */
export function exitIfShutdownOverruns(logger: Logger, timeoutMs: number): void {
  for (const signal of SHUTDOWN_SIGNALS) {
    process.once(signal, () => {
      setTimeout(() => {
        logger.error({ signal, timeoutMs }, 'shutdown did not finish in time: exiting');
        process.exit(1);
      }, timeoutMs).unref();
    });
  }
}
