/**
 * The relay when an earlier batch's mark is slow (a loaded database; here a row lock holds it
 * back), on a real PostgreSQL with a fake `ship`: a read from the oldest waits for every
 * batch's mark, not only the newest one's, so the slow batch is not read and shipped again.
 * The hub link had the same bug and has the same test (site-node/link/hub-link-events.test.ts).
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { waitFor } from '../../test/support/wait.js';
import { createPool } from '../pg/pool.js';
import { withTransaction } from '../pg/transaction.js';
import { makeEvent } from './envelope.js';
import { appendToOutbox, countUnshipped, OUTBOX_TABLE_SQL } from './outbox.js';
import { OutboxRelay } from './relay.js';

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (needs PostgreSQL)';

/** Three batches of BATCH, BATCH and BATCH / 2: the held one is the last but one. */
const BATCH = 10;
const EVENTS = 2 * BATCH + BATCH / 2;

let db: TestDatabase;
let pool: pg.Pool;
/** The connection holding the second batch's rows locked, so that batch's mark waits. */
let holder: pg.Client | undefined;

beforeAll(async () => {
  if (skip) return;
  db = await freshDatabase('relay_slow_mark');
  pool = createPool(db.url, { applicationName: 'test/relay-slow-mark', max: 5 });
  await pool.query(readFileSync(OUTBOX_TABLE_SQL, 'utf8'));
});

afterAll(async () => {
  await holder?.end();
  await pool?.end();
  await db?.drop();
});

/** Locks the rows, on a connection of its own (not one of the relay's pool). */
async function holdRows(seqs: number[]): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  await c.query('BEGIN');
  await c.query('SELECT 1 FROM outbox WHERE seq = ANY($1::bigint[]) FOR UPDATE', [seqs]);
  return c;
}

test.skipIf(skip)(
  'a batch whose mark is slow is not shipped again by a later read from the oldest',
  async () => {
    await withTransaction(pool, async (c) => {
      for (let n = 0; n < EVENTS; n++) {
        await appendToOutbox(
          c,
          makeEvent({
            type: 'call.state-changed',
            siteId: 'cq',
            aggregateId: `cq-${n % 7}`,
            occurredAtMs: 1_700_000_000_000 + n,
            payload: { n },
          }),
        );
      }
    });

    // The relay's reads, counted while they run: the test lets the held mark go only once none
    // is running, so a read from the oldest already under way (the bug's) has come back with
    // what it found before that mark commits.
    let readsRunning = 0;
    const counted = new Proxy(pool, {
      get(target, prop) {
        if (prop === 'query') {
          // The relay's queries are all (text, values) (shared/pg/pool.ts `query`).
          return (text: string, values?: unknown[]) => {
            const read = text.trimStart().startsWith('SELECT');
            if (read) readsRunning++;
            return target.query(text, values).finally(() => {
              if (read) readsRunning--;
            });
          };
        }
        const v: unknown = Reflect.get(target, prop);
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });

    const shipped: number[][] = [];
    const relay = new OutboxRelay({
      pool: counted,
      batchSize: BATCH,
      // Only notify() wakes it: no timer decides when the read from the oldest comes.
      pollMs: 60_000,
      ship: async (batch) => {
        shipped.push(batch.map((e) => e.payload.n as number));
        // The second batch's rows locked before its ship resolves: its mark waits for the lock.
        if (shipped.length === 2) holder = await holdRows(batch.map((e) => e.seq));
        // The last (short) batch: a writer's notify() now makes the relay read from the oldest
        // right after this batch's mark, with no sleep in between. That read, issued in the
        // same run of the event loop as the mark's count in stats, is what must wait for the
        // held mark.
        if (shipped.length === 3) relay.notify();
      },
    });
    try {
      relay.start();
      // The first and last batches marked, the second's mark held: a read from the oldest that
      // waited only for the newest mark is under way by now and would find the second batch.
      await waitFor(
        'all but the held batch marked, and no read of the relay running',
        () => holder !== undefined && relay.stats.shipped === EVENTS - BATCH && readsRunning === 0,
      );
      await holder!.query('COMMIT');
      await waitFor(
        'the outbox drained and the relay asleep',
        async () => relay.isSleeping && (await countUnshipped(pool)) === 0,
      );
    } finally {
      await relay.stop();
    }

    assert.deepEqual(
      shipped.flat(),
      Array.from({ length: EVENTS }, (_, i) => i),
      'every event shipped once, in order',
    );
    assert.equal(relay.stats.shipped, EVENTS);
  },
);
