/**
 * The site's pool bounds a write on a connection that stops answering (site-pool.ts): the
 * durable writes see a transient failure, count the store down and try again on a fresh
 * connection, instead of waiting on the dead one for ever with the store still "up".
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { systemClock } from '../../shared/clock.js';
import { silentLogger } from '../../shared/log.js';
import { relayTo } from '../../test/support/relay.js';
import { waitFor } from '../../test/support/wait.js';
import { DurableWrites, type WriteOutcome } from '../runtime/durable-writes.js';
import { storeContext } from './context.js';
import { createSitePool, sitePoolOptions } from './site-pool.js';
import { pgSkip, siteTestDb } from './testing.js';
import { openTicket } from './tickets-repo.js';

test('the connect timeout is below the first-row wait; the query timeout is the configured one', () => {
  assert.deepEqual(sitePoolOptions({ firstRowWaitMs: 2_000, queryTimeoutMs: 5_000 }), {
    connectionTimeoutMs: 1_000,
    queryTimeoutMs: 5_000,
    keepAliveMs: 5_000,
  });
});

describe.skipIf(pgSkip)('the site pool on a half-open connection', () => {
  test('a running write whose connection freezes fails as transient, and the next lands on a new connection', async () => {
    const t = await siteTestDb('site-pool');
    const relay = await relayTo(Number(new URL(t.db.url).port));
    const url = new URL(t.db.url);
    url.hostname = '127.0.0.1';
    url.port = String(relay.port);
    const pool = createSitePool(url.toString(), {
      applicationName: 'test/site-pool',
      max: 1,
      store: { firstRowWaitMs: 400, queryTimeoutMs: 500 },
    });
    try {
      const ctx = storeContext(pool, 'cq', systemClock);
      const writes = new DurableWrites({
        log: silentLogger,
        admission: { capacity: 100, closeWhileDownAt: 100 },
        backoff: { firstMs: 20, maxMs: 50 },
      });
      // One connection opened and idle in the pool; then the link to it goes silent.
      assert.equal(
        await writes.commit('warm', () => openTicket(ctx, { kind: 'complaint' }), 5_000),
        'written',
      );
      relay.freeze();
      let outcome: WriteOutcome | undefined;
      void writes
        .commit('hung', () => openTicket(ctx, { kind: 'suggestion', idempotencyKey: 'hung' }), 100)
        .then((o) => (outcome = o));
      await waitFor('the write on the frozen connection to settle', () => outcome, 10_000);
      assert.equal(outcome, 'withdrawn');
      assert.equal(writes.storeUp, false, 'the store is seen as away');
      // New connections pass the relay: the next write lands, and the store is back.
      const after = await writes.push('after', () =>
        openTicket(ctx, { kind: 'complaint', idempotencyKey: 'after' }),
      );
      assert.equal(after, 'written');
      assert.equal(writes.storeUp, true);
      const hung = await t.pool.query(`SELECT id FROM tickets WHERE idempotency_key = 'hung'`);
      assert.equal(hung.rowCount, 0, 'the withdrawn write did not land');
    } finally {
      await relay.close();
      await pool.end().catch(() => {});
      await t.close();
    }
  }, 30_000);
});
