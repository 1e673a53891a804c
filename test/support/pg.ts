/**
 * Real PostgreSQL for tests. `deploy/services.sh up` starts one server and writes its URL to
 * .services/env.sh as TEST_PG_URL; each test gets a database of its own, created here and
 * dropped afterwards, so test files can run in parallel without seeing each other's rows.
 */
import pg from 'pg';
import { randomBytes } from 'node:crypto';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

export function testServerUrl(): string {
  const url = process.env.TEST_PG_URL;
  if (!url) {
    throw new Error(
      'TEST_PG_URL is not set: run the tests with `npm test` (it starts PostgreSQL through deploy/services.sh)',
    );
  }
  return url;
}

/** A database of its own on `serverUrl` (default: the shared test server, TEST_PG_URL). */
export async function freshDatabase(label = 't', serverUrl?: string): Promise<TestDatabase> {
  const server = serverUrl ?? testServerUrl();
  const name = `${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: server });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const u = new URL(server);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: server });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
