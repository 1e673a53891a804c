import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { OUTBOX_TABLE_SQL } from '../../shared/events/outbox.js';
import { migrateSiteStore, SITE_MIGRATIONS_DIR } from './context.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

describe.skipIf(pgSkip)('site schema migrations', () => {
  let t: SiteTestDb;
  beforeAll(async () => {
    t = await siteTestDb('schema', { migrate: false });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('apply on an empty database, then a second run changes nothing', async () => {
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
      'sip_registrations',
      'call_recordings',
    ]) {
      assert.ok(tables.has(tb), `table ${tb}`);
    }
  });

  test("the site's outbox is the table shared's outbox code is written for", async () => {
    await migrateSiteStore(t.pool);
    // shared/events/outbox-table.sql in a schema of its own, next to the migrated one.
    await t.pool.query(`DROP SCHEMA IF EXISTS shared_outbox CASCADE; CREATE SCHEMA shared_outbox`);
    const c = await t.pool.connect();
    try {
      await c.query('SET search_path = shared_outbox');
      await c.query(await readFile(OUTBOX_TABLE_SQL, 'utf8'));
    } finally {
      await c.query('RESET search_path');
      c.release();
    }
    const shape = async (schema: string) => ({
      columns: (
        await t.pool.query(
          `SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns
            WHERE table_schema = $1 AND table_name = 'outbox' ORDER BY ordinal_position`,
          [schema],
        )
      ).rows.map((r: { column_default: string | null }) => ({
        ...r,
        column_default: r.column_default?.replace(`${schema}.`, '') ?? null,
      })),
      indexes: (
        await t.pool.query(
          `SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = $1 AND tablename = 'outbox'
            ORDER BY indexname`,
          [schema],
        )
      ).rows.map((r: { indexname: string; indexdef: string }) => ({
        ...r,
        indexdef: r.indexdef.replace(`${schema}.`, ''),
      })),
      checks: (
        await t.pool.query(
          `SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint
            WHERE conrelid = ($1 || '.outbox')::regclass ORDER BY 1`,
          [schema],
        )
      ).rows,
    });
    const site = await shape('public');
    assert.ok(site.columns.length > 0);
    assert.deepEqual(site, await shape('shared_outbox'));
    await t.pool.query('DROP SCHEMA shared_outbox CASCADE');
  });
});
