/**
 * Migration 008 on a hub that already has reported reads: reads sites reported from their
 * caches before it were stored with the event's claimed home and no flag. The migration keeps
 * the claim, records the directory's home and flags them as hub/ingest/read-check.ts would,
 * so old forged reads show up in `fedctl reads` like new ones. Real PostgreSQL: the hub's
 * migrations up to 007, the old rows, then 008.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { query } from '../../shared/pg/pool.js';
import { HUB_MIGRATIONS_DIR, migrateHubStore } from './migrate.js';
import { hubTestDb, pgSkip, type HubTestDb } from './testing.js';

describe.skipIf(pgSkip)('migration 008 flags the reads reported before it', () => {
  let t: HubTestDb;
  let before008: string;

  beforeAll(async () => {
    t = await hubTestDb('hub_backfill', { migrate: false });
    before008 = mkdtempSync(join(tmpdir(), 'hub-migrations-'));
    for (const f of readdirSync(HUB_MIGRATIONS_DIR).filter((f) => f < '008')) {
      copyFileSync(join(HUB_MIGRATIONS_DIR, f), join(before008, f));
    }
    await migrateHubStore(t.pool, before008);
  });
  afterAll(async () => {
    await t?.close();
    if (before008) rmSync(before008, { recursive: true, force: true });
  });

  test('claimed home kept, the directory home recorded, unknown/mismatch/uncorroborated flagged', async () => {
    await query(
      t.pool,
      `INSERT INTO customers (id, name, home_site_id, segment, language, version, updated_at_ms, updated_by_site, updated_by)
       VALUES ('cq-1', 'a', 'chongqing', 'retail', 'zh', 1, 0, 'chongqing', 'seed'),
              ('cq-2', 'b', 'chongqing', 'retail', 'zh', 1, 0, 'chongqing', 'seed'),
              ('wz-1', 'c', 'wanzhou', 'retail', 'zh', 1, 0, 'wanzhou', 'seed')`,
    );
    const read = (
      event: string | null,
      reader: string,
      customer: string,
      home: string,
      from: 'hub' | 'site-cache',
    ) =>
      query(
        t.pool,
        `INSERT INTO customer_reads (event_id, reader_site_id, customer_id, home_site_id, reason, at_ms, served_from)
         VALUES ($1, $2, $3, $4, 'agent-search', 1, $5)`,
        [event, reader, customer, home, from],
      );
    await read(null, 'wanzhou', 'cq-2', 'chongqing', 'hub'); // the hub served cq-2 to wanzhou
    await read('e-hidden', 'wanzhou', 'cq-1', 'wanzhou', 'site-cache'); // claims cq-1 is its own
    await read('e-nobody', 'wanzhou', 'nobody', 'chongqing', 'site-cache');
    await read('e-never', 'wanzhou', 'cq-1', 'chongqing', 'site-cache'); // never served to wanzhou
    await read('e-honest', 'wanzhou', 'cq-2', 'chongqing', 'site-cache');
    await read('e-own', 'wanzhou', 'wz-1', 'wanzhou', 'site-cache');

    assert.equal(
      (await migrateHubStore(t.pool))[0],
      '008_directory_owner.sql',
      'migration 008 runs over the old reads',
    );

    const r = await query<{
      event_id: string;
      home_site_id: string;
      claimed: string | null;
      flag: string | null;
    }>(
      t.pool,
      `SELECT event_id, home_site_id, claimed_home_site_id AS claimed, flag FROM customer_reads ORDER BY id`,
    );
    assert.deepEqual(r.rows, [
      { event_id: null, home_site_id: 'chongqing', claimed: null, flag: null },
      {
        event_id: 'e-hidden',
        home_site_id: 'chongqing',
        claimed: 'wanzhou',
        flag: "home-mismatch: the event claims home wanzhou; the directory's is chongqing",
      },
      {
        event_id: 'e-nobody',
        home_site_id: '',
        claimed: 'chongqing',
        flag: 'unknown-customer: the directory has no customer nobody',
      },
      {
        event_id: 'e-never',
        home_site_id: 'chongqing',
        claimed: 'chongqing',
        flag: 'uncorroborated: the hub never served customer cq-1 to wanzhou',
      },
      { event_id: 'e-honest', home_site_id: 'chongqing', claimed: 'chongqing', flag: null },
      { event_id: 'e-own', home_site_id: 'wanzhou', claimed: 'wanzhou', flag: null },
    ]);
  });
});
