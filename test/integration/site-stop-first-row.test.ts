/**
 * A stop that comes while a new call's first row is being committed (docs/architecture.md
 * §7.1, §8): the stop releases the call (hangs up its leg, queues its end), so when the commit
 * then lands the call flow must leave it alone. Before, it answered the dead leg and ran an IVR
 * session for a call the site no longer tracked.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { startExampleSite } from '../support/example-site.js';
import { waitFor } from '../support/wait.js';
import type { CallLeg } from '../../site-node/telephony/media-port.js';

test('a call released by a stop while its first row commits is not answered afterwards', async () => {
  // A long first-row wait: the commit must land as `written` after the stop released the call.
  const ex = await startExampleSite({
    label: 'stop-first-row',
    edit: (doc) => (doc.store = { firstRowWait: '60s' }),
  });
  const locker = await ex.pool.connect();
  try {
    const answered: string[] = [];
    const hungUp: string[] = [];
    const { media } = ex;
    const answer = media.answer.bind(media);
    const hangup = media.hangup.bind(media);
    media.answer = (leg: CallLeg) => (answered.push(leg.legId), answer(leg));
    media.hangup = (leg: CallLeg) => (hungUp.push(leg.legId), hangup(leg));
    // Hold the calls table so the first row waits for the test.
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE calls IN ACCESS EXCLUSIVE MODE');
    const leg = media.place({
      ani: '13900001234',
      dnis: '95588',
      patienceMs: 600_000,
      thinkMs: 20,
      respond: () => 'timeout',
    });
    await waitFor('the first row waiting on the lock', async () => {
      const r = await ex.pool.query(
        `SELECT 1 FROM pg_locks WHERE relation = 'calls'::regclass AND NOT granted`,
      );
      return r.rowCount;
    });
    const stopped = ex.site.stop();
    await waitFor('the stop hanging up the call', () => hungUp.includes(leg.legId));
    await locker.query('COMMIT');
    await stopped;
    assert.deepEqual(answered, [], 'a leg the stop hung up was answered');
    const rows = await ex.pool.query<{ state: string; end_reason: string | null }>(
      `SELECT state, end_reason FROM calls WHERE id = $1`,
      [leg.callId],
    );
    assert.deepEqual(rows.rows, [{ state: 'failed', end_reason: 'site-shutdown' }]);
    const refused = await ex.pool.query(`SELECT 1 FROM outbox WHERE type = 'call.refused'`);
    assert.equal(refused.rowCount, 0, 'a call the stop released is not also refused');
  } finally {
    locker.release();
    await ex.close();
  }
}, 60_000);
