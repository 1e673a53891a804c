/**
 * Test support for code on the hub's database: a private, migrated database per test file
 * (real PostgreSQL, see test/support/pg.ts), so hub store tests can run in parallel with each
 * other and with the site tests. `pgSkip` skips them with a reason, instead of failing, when
 * `npm test -- --unit` runs without services.
 */
import type pg from 'pg';
import { createPool } from '../../shared/pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { migrateHubStore } from './migrate.js';

export const pgSkip: string | false = process.env.TEST_PG_URL
  ? false
  : 'TEST_PG_URL is not set (needs PostgreSQL)';

export interface HubTestDb {
  db: TestDatabase;
  pool: pg.Pool;
  close(): Promise<void>;
}

export async function hubTestDb(
  label: string,
  opts: { migrate?: boolean; max?: number } = {},
): Promise<HubTestDb> {
  const db = await freshDatabase(label);
  const pool = createPool(db.url, { applicationName: `test/${label}`, max: opts.max ?? 5 });
  try {
    if (opts.migrate !== false) await migrateHubStore(pool);
  } catch (e) {
    await pool.end();
    await db.drop();
    throw e;
  }
  return {
    db,
    pool,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}
