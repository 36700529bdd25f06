import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { migrate } from '../../../libs/database/src/migrate';
import { ChildService, startChildService } from './child-service';
import { freePort } from './free-port';

const run = promisify(execFile);

export interface PostgresServer {
  /** The migrated database `deidflow` on this server. */
  readonly url: string;
  /** SIGQUIT to the postmaster (`pg_ctl stop -m immediate`): every backend dies at once, no checkpoint; the next start recovers from the WAL, as after a crash. */
  crash(): Promise<void>;
  /** Started again on the same port and data directory; resolves once it accepts connections. */
  restart(): Promise<void>;
  /** Stops it, and removes its data directory. */
  dispose(): Promise<void>;
}

/** Where Debian puts the server's binaries (`/usr/lib/postgresql/<major>/bin`), the newest major; null without a server. */
function serverBinaries(): string | null {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return null;
  const majors = readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'bin', 'postgres')))
    .sort((a, b) => Number(b) - Number(a));
  return majors.length > 0 ? join(root, majors[0], 'bin') : null;
}

/**
 * True where a private Postgres can be started: the server's binaries are installed, and they can
 * run under a user other than root (the server refuses root): root switches to `postgres`.
 */
export function canRunPostgres(): boolean {
  if (!serverBinaries()) return false;
  return userInfo().uid !== 0 || postgresUser() !== null;
}

/** The `postgres` account that Debian's server package creates. */
function postgresUser(): { uid: number; gid: number } | null {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  if (!line) return null;
  const [, , uid, gid] = line.split(':');
  return { uid: Number(uid), gid: Number(gid) };
}

/**
 * A project-owned Postgres cluster (initdb in a temp directory, its own loopback port), never the
 * shared one: the fault tests crash and restart it while other test files use that one.
 */
export async function startPostgresServer(): Promise<PostgresServer> {
  const bin = serverBinaries();
  if (!bin) throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql');
  const owner = userInfo().uid === 0 ? postgresUser() : null;
  const directory = await mkdtemp(join(tmpdir(), 'deidflow-postgres-'));
  if (owner) await chown(directory, owner.uid, owner.gid);
  const asOwner = owner ? { uid: owner.uid, gid: owner.gid } : {};
  const env = { PATH: process.env.PATH ?? '', LC_ALL: 'C.UTF-8' };
  await run(join(bin, 'initdb'), ['-D', join(directory, 'data'), '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--locale=C.UTF-8'], {
    ...asOwner,
    env,
    cwd: directory,
  }).catch(async (err: Error & { stderr?: string }) => {
    await rm(directory, { recursive: true, force: true });
    throw new Error(`initdb failed: ${err.message}\n${err.stderr ?? ''}`);
  });
  const port = await freePort();
  const serverUrl = `postgres://postgres@127.0.0.1:${port}`;
  const start = (): Promise<ChildService> =>
    startChildService(`postgres :${port}`, join(bin, 'postgres'), serverArguments(directory, port), {
      ...asOwner,
      env,
      cwd: directory,
      isReady: () => accepts(`${serverUrl}/postgres`),
    });

  let server = await start();
  const url = `${serverUrl}/deidflow`;
  await withClient(`${serverUrl}/postgres`, (client) => client.query('CREATE DATABASE deidflow'));
  await migrate(url);
  return {
    url,
    async crash() {
      await server.kill('SIGQUIT');
    },
    async restart() {
      server = await start();
    },
    async dispose() {
      await server.kill('SIGQUIT');
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function serverArguments(directory: string, port: number): string[] {
  return [
    '-D', join(directory, 'data'),
    '-p', String(port),
    '-k', directory,
    '-c', 'listen_addresses=127.0.0.1',
    // The server's own files are not what the scenarios test: a crash of the process keeps what it
    // wrote (the operating system does not crash), so syncing only slows the test down.
    '-c', 'fsync=off',
    '-c', 'max_connections=100',
  ];
}

async function accepts(url: string): Promise<boolean> {
  return withClient(url, async () => true);
}

async function withClient<T>(url: string, use: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}
