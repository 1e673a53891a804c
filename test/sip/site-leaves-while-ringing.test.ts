/**
 * A caller who leaves while the agent's phone still rings, after the agent took the offer at the
 * desk (issue 12; docs/sip.md "The site over SIP"): the ACD has the call connected, the record
 * still says offered (its answer is written once the phone is bridged). The call must end
 * abandoned while ringing, written (before the fix the wrap-up's write failed for good and the
 * call stayed open in the store), the phone must stop ringing (CANCEL), and the agent must be
 * free again. The ring timeout is long here, so the caller's hang-up falls inside the ring.
 * The site's live figures must say what the record says: an abandon, not an answer (before the
 * fix the day's tally and the queue's window counted the desk's answer until a restart).
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { getCdr } from '../../site-node/store/index.js';
import { assertAllSucceeded, offeredCall, SiteOverSip, walk } from '../support/site-over-sip.js';
import { assertStatsMatchRecords } from '../support/stats-agree.js';
import { waitFor } from '../support/wait.js';

let s: SiteOverSip;

beforeAll(async () => {
  s = await SiteOverSip.start({ database: 'site_leaves_ringing', timers: { ringTimeout: 60_000 } });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

describe('a caller who leaves while the phone rings', () => {
  test('answered at the desk, the phone still ringing, the caller hangs up: abandoned, written, the phone stopped, the agent ready', async () => {
    // Rings until the site cancels it.
    const phone = await s.registeredPhone('a02', 'agent-phone-no-answer.xml');
    const events = await s.readyAgent('a02');
    // Hangs up 9 s after the 0: "please hold" (about 5 s), the offer, then the phone rings.
    const caller = await s.caller('caller.xml', walk(9000));
    assertAllSucceeded('caller', await caller.done, 1);
    const callId = offeredCall(events);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.answeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'abandoned-ringing', JSON.stringify(cdr));
    assertAllSucceeded('agent phone (rang, cancelled)', await phone.stop(), 1);
    await waitFor('a02 ready again', async () => (await s.desk.agent('a02')).state === 'ready');
    assert.deepEqual(s.logged('store write failed for good; passed over'), []);
    const summary = s.real.site.snapshot().summary;
    assert.deepEqual(
      { answered: summary.answered, abandoned: summary.abandoned },
      { answered: 0, abandoned: 1 },
    );
    await assertStatsMatchRecords(s.real.site, s.real.pool, s.config, Date.now());
    await s.legsClosed();
  }, 120_000);
});
