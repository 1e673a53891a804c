/**
 * A PostgreSQL server of the chaos suite's own (initdb + pg_ctl from $PG_BIN_DIR, in a temp
 * dir, on a free port), so a scenario can stop and start it without touching the shared test
 * server other suites use. As root, its files belong to the OS user `postgres` and its tools
 * run as that user, as deploy/services.sh does it (postgres refuses to run as root).
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface PgCluster {
  name: string;
  port: number;
  /** A URL of its `postgres` database: what province.ts creates databases from. */
  url: string;
  /** Stop the server (`fast`: sessions are closed, as an operator's restart does). */
  stop(): void;
  start(): void;
  /** Stop it and remove its files. Idempotent. */
  remove(): void;
}

const asRoot = process.getuid?.() === 0;

function pgTool(tool: string, args: string[]): string {
  const bin = process.env.PG_BIN_DIR;
  if (!bin)
    throw new Error('PG_BIN_DIR is not set: `source .services/env.sh` (deploy/services.sh writes it)');
  const cmd = asRoot ? 'runuser' : join(bin, tool);
  const full = asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args;
  return execFileSync(cmd, full, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

export async function startPgCluster(name: string): Promise<PgCluster> {
  const root = mkdtempSync(join(tmpdir(), `chaos-pg-${name}-`));
  chmodSync(root, 0o755);
  if (asRoot) execFileSync('chown', ['postgres:postgres', root]);
  const data = join(root, 'data');
  const port = await freePort();
  pgTool('initdb', [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=trust',
    '-E',
    'UTF8',
    '--locale=C.UTF-8',
    '--no-sync',
  ]);
  // Like the shared test server: throwaway data, durability traded for speed.
  appendFileSync(
    join(data, 'postgresql.conf'),
    [
      '',
      "listen_addresses = '127.0.0.1'",
      `port = ${port}`,
      `unix_socket_directories = '${root}'`,
      'max_connections = 200',
      'fsync = off',
      'synchronous_commit = off',
      'full_page_writes = off',
      '',
    ].join('\n'),
  );
  const log = join(root, 'postgres.log');
  writeFileSync(join(root, 'README'), `chaos suite PostgreSQL "${name}" on 127.0.0.1:${port}\n`);
  let running = false;
  let removed = false;
  const cluster: PgCluster = {
    name,
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    start() {
      pgTool('pg_ctl', ['-D', data, '-l', log, '-w', '-t', '60', 'start']);
      running = true;
    },
    stop() {
      pgTool('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
      running = false;
    },
    remove() {
      if (removed) return;
      removed = true;
      if (running) {
        try {
          cluster.stop();
        } catch {
          // already gone: the files go anyway
        }
      }
      rmSync(root, { recursive: true, force: true });
    },
  };
  cluster.start();
  // No server outlives the suite, even when it exits without cleaning up.
  process.on('exit', () => cluster.remove());
  return cluster;
}
