import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ChildService, startChildService } from './child-service';
import { freePort } from './free-port';

export interface RedisServerOptions {
  /** Restart on the same port; a free port otherwise. */
  port?: number;
  /** Working directory (AOF files); a fresh temp directory otherwise. */
  directory?: string;
  /** AOF on, as docker-compose runs Redis. */
  appendOnly: boolean;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  readonly directory: string;
  /** SIGKILL: like a crash (with AOF on, what Redis wrote to its file survives). */
  kill(): Promise<void>;
  /** Stops it, and removes its directory. */
  dispose(): Promise<void>;
}

/**
 * A project-owned redis-server on its own loopback port, never the shared one on 6379: the fault
 * tests kill and restart it while other test files use that one.
 */
export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const port = options.port ?? (await freePort());
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'deidflow-redis-')));
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', options.appendOnly ? 'yes' : 'no', '--dir', directory];
  const process: ChildService = await startChildService(`redis-server :${port}`, 'redis-server', args, {
    env: { PATH: globalThis.process.env.PATH ?? '' },
    isReady: () => ping(port),
  });
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    directory,
    kill: () => process.kill(),
    async dispose() {
      await process.stop();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** True once Redis answers PING with PONG (not while it loads its AOF: "-LOADING"). */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('utf8');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG'));
    });
  });
}
