/**
 * Test support for code on the site store: a private, migrated database per test file
 * (real PostgreSQL, see test/support/pg.ts). `pgSkip` lets DB tests beside the code be
 * skipped with a reason, instead of failing, when `npm test -- --unit` runs without services.
 */
import type pg from 'pg';
import { ManualClock, systemClock, type Clock } from '../../shared/clock.js';
import { createPool } from '../../shared/pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { migrateSiteStore, storeContext, type StoreContext } from './context.js';

export const pgSkip: string | false = process.env.TEST_PG_URL
  ? false
  : 'TEST_PG_URL is not set (needs PostgreSQL)';

export interface SiteTestDb {
  db: TestDatabase;
  pool: pg.Pool;
  ctx: StoreContext;
  close(): Promise<void>;
}

export async function siteTestDb(
  label: string,
  opts: { siteId?: string; clock?: Clock; migrate?: boolean } = {},
): Promise<SiteTestDb> {
  const db = await freshDatabase(label);
  const pool = createPool(db.url, { applicationName: `test/${label}`, max: 5 });
  if (opts.migrate !== false) await migrateSiteStore(pool);
  const ctx = storeContext(pool, opts.siteId ?? 'cq', opts.clock ?? systemClock);
  return {
    db,
    pool,
    ctx,
    async close() {
      await pool.end();
      await db.drop();
    },
  };
}

export { ManualClock };
