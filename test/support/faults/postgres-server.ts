import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
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
  /**
   * SIGSTOP to the postmaster and every backend: the server hangs without refusing anything (a
   * frozen VM, a disk that stopped answering). The kernel still accepts connections and bytes.
   */
  freeze(): Promise<void>;
  /** SIGCONT to the same processes: it goes on where it stopped. */
  thaw(): Promise<void>;
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
  let frozen: number[] = [];
  const url = `${serverUrl}/deidflow`;
  await withClient(`${serverUrl}/postgres`, (client) => client.query('CREATE DATABASE deidflow'));
  await migrate(url);
  return {
    url,
    async crash() {
      await server.kill('SIGQUIT');
    },
    async freeze() {
      frozen = await processTree(server.pid);
      for (const pid of frozen) signal(pid, 'SIGSTOP');
    },
    async thaw() {
      for (const pid of frozen) signal(pid, 'SIGCONT');
      frozen = [];
    },
    async restart() {
      server = await start();
    },
    async dispose() {
      // A stopped process keeps other signals pending: continue it first so that it can quit.
      for (const pid of frozen) signal(pid, 'SIGCONT');
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

/** A signal to a process that may have exited meanwhile. */
function signal(pid: number, name: NodeJS.Signals): void {
  try {
    process.kill(pid, name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** `pid` and its children (the postmaster's backends and helpers), read from /proc. */
async function processTree(pid: number): Promise<number[]> {
  const children: number[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    // The parent is the 2nd field after the command, which is in parentheses and may hold spaces.
    const stat = await readFile(`/proc/${entry}/stat`, 'utf8').catch(() => '');
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) children.push(Number(entry));
  }
  return [pid, ...children];
}
