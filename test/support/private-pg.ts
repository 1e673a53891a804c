/**
 * A PostgreSQL server of the test's own, in a temporary directory on a free port, that the
 * test may stop and start (a database outage) without touching the shared server of
 * test/support/pg.ts. Run like deploy/services.sh runs its own: PG_BIN_DIR's initdb and
 * pg_ctl, and, as root, as the OS user postgres (postgres refuses to run as root).
 */
import { execFile } from 'node:child_process';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { waitFor } from './wait.js';

const run = promisify(execFile);

export interface PrivatePostgres {
  /** A database on it (`postgres`), for the code under test. */
  url: string;
  /** Stop the server (fast: sessions are terminated, as in an outage); resolves once it is down. */
  stop(): Promise<void>;
  /** Start it again on the same port and data; resolves once it answers. */
  start(): Promise<void>;
  /** Stop it if running and delete its directory. */
  destroy(): Promise<void>;
}

function binDir(): string {
  const dir = process.env.PG_BIN_DIR;
  if (!dir) throw new Error('PG_BIN_DIR is not set: source .services/env.sh (deploy/services.sh writes it)');
  return dir;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** Runs a PostgreSQL tool, as the OS user postgres when this process is root. */
async function asPostgres(tool: string, args: string[]): Promise<void> {
  const bin = join(binDir(), tool);
  if (process.getuid?.() === 0) await run('runuser', ['-u', 'postgres', '--', bin, ...args]);
  else await run(bin, args);
}

async function answers(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => {});
  }
}

export async function startPrivatePostgres(label: string): Promise<PrivatePostgres> {
  const root = mkdtempSync(join(tmpdir(), `pg-${label}-`));
  const data = join(root, 'data');
  const port = await freePort();
  if (process.getuid?.() === 0) {
    const id = async (flag: string) => Number((await run('id', [flag, 'postgres'])).stdout);
    chownSync(root, await id('-u'), await id('-g'));
  }
  await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let running = false;
  const start = async () => {
    // No unix socket (the temp dir may be too long for one); fsync off: a test's data.
    await asPostgres('pg_ctl', [
      '-D',
      data,
      '-w',
      '-l',
      join(root, 'log'),
      '-o',
      `-p ${port} -h 127.0.0.1 -k '' -c fsync=off -c max_connections=60`,
      'start',
    ]);
    running = true;
    await waitFor(`private postgres on ${port} answering`, () => answers(url), 15_000, 100);
  };
  const stop = async () => {
    await asPostgres('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    running = false;
  };
  await start();
  return {
    url,
    start,
    stop,
    async destroy() {
      if (running) await stop().catch(() => {});
      rmSync(root, { recursive: true, force: true });
    },
  };
}
