/**
 * The outbox and its relay on a real PostgreSQL, on the table as shared's outbox-table.sql
 * defines it (the site's migration creates the same: site-node/store/schema.test.ts).
 */
import { afterAll, beforeAll, beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { waitFor } from '../../test/support/wait.js';
import { createPool } from '../pg/pool.js';
import { withTransaction } from '../pg/transaction.js';
import { makeEvent } from './envelope.js';
import {
  appendToOutbox,
  countUnshipped,
  markShipped,
  MARK_SHIPPED_SEQS_SQL,
  OUTBOX_TABLE_SQL,
  readUnshipped,
  type OutboxRow,
} from './outbox.js';
import { OutboxRelay } from './relay.js';

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (needs PostgreSQL)';

const ev = (n: number, agg = 'cq-1') =>
  makeEvent({
    type: 'call.state-changed',
    siteId: 'cq',
    aggregateId: agg,
    occurredAtMs: 1_700_000_000_000 + n,
    payload: { n },
  });

interface PlanNode {
  'Node Type': string;
  'Actual Rows': number;
  'Actual Loops': number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
  Plan: PlanNode;
}

/** Rows (and index entries) the scans of an EXPLAIN ANALYZE plan went through. */
function rowsVisited(n: PlanNode): number {
  const own = n['Node Type'].includes('Scan')
    ? n['Actual Rows'] * n['Actual Loops'] +
      (n['Rows Removed by Filter'] ?? 0) +
      (n['Rows Removed by Index Recheck'] ?? 0)
    : 0;
  return own + (n.Plans ?? []).reduce((a, p) => a + rowsVisited(p), 0);
}

describe.skipIf(skip)('outbox on PostgreSQL', () => {
  let db: TestDatabase;
  let pool: pg.Pool;

  beforeAll(async () => {
    db = await freshDatabase('outbox');
    pool = createPool(db.url, { applicationName: 'test/outbox', max: 5 });
    await pool.query(readFileSync(OUTBOX_TABLE_SQL, 'utf8'));
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  beforeEach(async () => {
    await pool.query('TRUNCATE outbox');
  });

  test('append inside a transaction: committed events appear, rolled-back ones do not', async () => {
    await withTransaction(pool, async (c) => {
      await appendToOutbox(c, ev(1));
    });
    await assert.rejects(
      withTransaction(pool, async (c) => {
        await appendToOutbox(c, ev(2));
        throw new Error('the change failed');
      }),
    );
    const rows = await readUnshipped(pool, 10);
    assert.deepEqual(
      rows.map((r) => r.payload.n),
      [1],
    );
  });

  test('round trip keeps the envelope; appending the same id twice is one event', async () => {
    const e = ev(3);
    const [a, b] = await withTransaction(pool, async (c) => [
      await appendToOutbox(c, e),
      await appendToOutbox(c, e),
    ]);
    assert.deepEqual([a, b], [true, false]);
    const [row] = await readUnshipped(pool, 10);
    const { seq, ...env } = row!;
    assert.ok(seq > 0);
    assert.deepEqual(env, e);
  });

  test('readUnshipped is in seq order and markShipped hides rows', async () => {
    for (let i = 0; i < 5; i++) await withTransaction(pool, (c) => appendToOutbox(c, ev(i)));
    const first = await readUnshipped(pool, 3);
    assert.deepEqual(
      first.map((r) => r.payload.n),
      [0, 1, 2],
    );
    assert.equal(await markShipped(pool, [first[0]!.id, first[1]!.id]), 2);
    assert.equal(await markShipped(pool, [first[0]!.id]), 0, 'marking again changes nothing');
    const rest = await readUnshipped(pool, 10);
    assert.deepEqual(
      rest.map((r) => r.payload.n),
      [2, 3, 4],
    );
  });

  test('readUnshipped leaves out the batch in flight; a lower seq that committed late comes first', async () => {
    for (let i = 0; i < 3; i++) await withTransaction(pool, (c) => appendToOutbox(c, ev(i)));
    const inFlight = await readUnshipped(pool, 2);
    // A transaction that took its seq before the next rows but commits after they do.
    const late = await pool.connect();
    try {
      await late.query('BEGIN');
      await appendToOutbox(late, ev(3));
      for (let i = 4; i < 6; i++) await withTransaction(pool, (c) => appendToOutbox(c, ev(i)));
      const ahead = await readUnshipped(
        pool,
        10,
        inFlight.map((e) => e.seq),
      );
      assert.deepEqual(
        ahead.map((r) => r.payload.n),
        [2, 4, 5],
      );
      await late.query('COMMIT');
    } finally {
      late.release();
    }
    const again = await readUnshipped(
      pool,
      10,
      inFlight.map((e) => e.seq),
    );
    assert.deepEqual(
      again.map((r) => r.payload.n),
      [2, 3, 4, 5],
      'the late row in its seq place',
    );
  });

  test('marking a batch shipped by seq looks up only its rows, however long the backlog', async () => {
    // A backlog grown fast since the table's statistics were taken (all shipped then): by id,
    // the planner walked every unshipped row once per batch, which made a resync's cost grow
    // with the square of its backlog.
    const fill = (from: number, to: number) =>
      pool.query(
        `INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
         SELECT 'evt_' || lpad(i::text, 26, '0'), 'call.state-changed', 'cq', 'cq-' || (i % 50), i, 1, '{}'
           FROM generate_series($1::int, $2::int) AS i`,
        [from, to],
      );
    await fill(1, 2000);
    await pool.query('UPDATE outbox SET shipped_at = now()');
    await pool.query('VACUUM ANALYZE outbox');
    await fill(2001, 22_000);
    const batch = await readUnshipped(pool, 1000);
    const r = await pool.query<{ 'QUERY PLAN': PlanNode[] }>(
      `EXPLAIN (ANALYZE, FORMAT JSON) ${MARK_SHIPPED_SEQS_SQL}`,
      [batch.map((e) => e.seq)],
    );
    const visited = rowsVisited(r.rows[0]!['QUERY PLAN'][0]!.Plan);
    assert.ok(visited <= 2 * batch.length, `marking ${batch.length} rows visited ${visited}`);
    assert.equal(await countUnshipped(pool), 19_000);
  });

  describe('OutboxRelay', () => {
    test('ships everything in order, and marks after ship resolves', async () => {
      for (let i = 0; i < 25; i++) await withTransaction(pool, (c) => appendToOutbox(c, ev(i)));
      const got: number[] = [];
      let unshippedSeenDuringShip = -1;
      const relay = new OutboxRelay({
        pool,
        batchSize: 10,
        pollMs: 20,
        ship: async (batch) => {
          // While ship runs, nothing of this batch is marked yet.
          if (unshippedSeenDuringShip < 0) unshippedSeenDuringShip = await countUnshipped(pool);
          got.push(...batch.map((e) => e.payload.n as number));
        },
      });
      relay.start();
      relay.start(); // idempotent
      await waitFor('the outbox drained', async () => (await countUnshipped(pool)) === 0, 5000);
      await relay.stop();
      await relay.stop(); // idempotent
      assert.equal(unshippedSeenDuringShip, 25);
      assert.deepEqual(
        got,
        Array.from({ length: 25 }, (_, i) => i),
      );
      assert.equal(relay.stats.shipped, 25);
    });

    test('a failing ship is retried: nothing lost, nothing reordered, nothing marked until success', async () => {
      for (let i = 0; i < 7; i++) await withTransaction(pool, (c) => appendToOutbox(c, ev(i)));
      const delivered: number[] = [];
      let calls = 0;
      const relay = new OutboxRelay({
        pool,
        batchSize: 3,
        pollMs: 20,
        minBackoffMs: 5,
        maxBackoffMs: 20,
        ship: async (batch: OutboxRow[]) => {
          calls++;
          // The 2nd and 3rd calls fail (the sink is down), then it recovers.
          if (calls === 2 || calls === 3) {
            assert.equal(await countUnshipped(pool), 4, 'failed batch stays unshipped');
            throw new Error('sink down');
          }
          delivered.push(...batch.map((e) => e.payload.n as number));
        },
      });
      relay.start();
      await waitFor('the outbox drained', async () => (await countUnshipped(pool)) === 0, 5000);
      await relay.stop();
      assert.deepEqual(delivered, [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(relay.stats.failures, 2);
      assert.equal(relay.stats.lastError, 'sink down');
    });

    test('events written while running are picked up (notify wakes it); stop then restart resumes', async () => {
      const got: number[] = [];
      const relay = new OutboxRelay({
        pool,
        pollMs: 10_000,
        ship: async (b) => void got.push(...b.map((e) => e.payload.n as number)),
      });
      relay.start();
      // Asleep for 10 s after finding the outbox empty: only notify() can make it ship now.
      await waitFor('the relay asleep', () => relay.isSleeping, 5000);
      await withTransaction(pool, (c) => appendToOutbox(c, ev(100)));
      relay.notify();
      await waitFor('the notified event shipped', () => got.length === 1, 5000);
      await relay.stop();
      await withTransaction(pool, (c) => appendToOutbox(c, ev(101)));
      assert.equal(relay.isRunning, false);
      assert.equal(await relay.flush(), 1, 'flush ships what is left (shutdown path)');
      assert.deepEqual(got, [100, 101]);
    });

    test('flush throws on a failing sink and leaves the events unshipped', async () => {
      await withTransaction(pool, (c) => appendToOutbox(c, ev(7)));
      const relay = new OutboxRelay({
        pool,
        ship: async () => {
          throw new Error('no');
        },
      });
      await assert.rejects(relay.flush(), /no/);
      assert.equal(await countUnshipped(pool), 1);
    });
  });
});
