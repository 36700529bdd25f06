import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

/** s3rver accepts any credentials; these are its documented defaults. */
export const S3RVER_ACCESS_KEY = 'S3RVER';
export const S3RVER_SECRET_KEY = 'S3RVER';

export interface S3ServerOptions {
  /** Restart on the same port (fault tests); a free port is picked otherwise. */
  port?: number;
  /** Reuse the objects of a stopped server; a fresh temp directory, removed on stop, otherwise. */
  directory?: string;
  /** Buckets that exist from the start. */
  buckets?: string[];
}

export interface S3Server {
  endpoint: string;
  port: number;
  directory: string;
  accessKey: string;
  secretKey: string;
  stop(): Promise<void>;
}

/** An in-process S3-compatible server on 127.0.0.1, for tests that use the s3 storage driver. */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const ownsDirectory = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'deidflow-s3rver-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port ?? 0,
    directory,
    silent: true,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    directory,
    accessKey: S3RVER_ACCESS_KEY,
    secretKey: S3RVER_SECRET_KEY,
    async stop() {
      // Like a crash: in-flight and keep-alive connections are cut, not waited for. Requests cut
      // short still log after the close has taken the logger's transports: silence it first.
      server.logger.silent = true;
      const closing = server.close();
      server.httpServer?.closeAllConnections();
      await closing;
      if (ownsDirectory) await rm(directory, { recursive: true, force: true });
    },
  };
}
