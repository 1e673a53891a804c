import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { migrateSiteStore, SITE_MIGRATIONS_DIR } from './context.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

void describe.skipIf(pgSkip)('site schema migrations', () => {
  let t: SiteTestDb;
  beforeAll(async () => {
    t = await siteTestDb('schema', { migrate: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  void test('apply on an empty database, then a second run changes nothing', async () => {
    const files = (await readdir(SITE_MIGRATIONS_DIR)).filter((f) => f.endsWith('.sql')).sort();
    const first = await migrateSiteStore(t.pool);
    assert.deepEqual(first.applied, files);
    const dump = async () =>
      (
        await t.pool.query(
          `SELECT table_name, column_name, data_type FROM information_schema.columns
            WHERE table_schema = 'public' ORDER BY table_name, ordinal_position`,
        )
      ).rows;
    const before = await dump();
    const second = await migrateSiteStore(t.pool);
    assert.deepEqual(second, { applied: [], unchanged: files });
    assert.deepEqual(await dump(), before);
    const tables = new Set(before.map((r) => r.table_name as string));
    for (const tb of [
      'calls',
      'call_timeline',
      'cdrs',
      'agents',
      'agent_sessions',
      'agent_state_history',
      'tickets',
      'customers',
      'contact_history',
      'outbox',
    ]) {
      assert.ok(tables.has(tb), `table ${tb}`);
    }
  });
});
