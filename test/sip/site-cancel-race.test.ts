/**
 * A CANCEL racing a 200 on a real site over SIP (issue 12; docs/sip.md "Call legs", "The site
 * over SIP"), on both sides of the site:
 *
 * - the carrier's caller cancels as the site answers it (caller-cancels-at-answer.xml): the
 *   CANCEL goes 0 to 30 ms (1 ms apart) and 200 ms after the 100 Trying, so it arrives before,
 *   while and after the site opens the call's RTP port, writes its first row and sends its 200
 *   (the first call, on a fresh site, cancelled at once, found the port still opening: the
 *   site then answered 200 to an INVITE whose CANCEL it had taken);
 * - the agent's phone picks up as the site's ring timeout cancels it
 *   (agent-phone-answers-at-cancel.xml): each offer to the phone rings 2 ms less, from 10 ms
 *   past the site's ring timeout until the site takes the answer, so the 200 and the CANCEL meet
 *   on the way.
 *
 * Whatever order the messages meet in, the call must end cleanly: every 2xx ACKed and followed
 * by a BYE where the call is not wanted, the CDR saying what happened (checked against what the
 * peer saw), no leg left open, and the agent usable again. The site and helpers:
 * test/support/site-over-sip.ts.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { getCdr } from '../../site-node/store/index.js';
import { describeSipp, type SippResult } from '../support/sipp.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import { assertAllSucceeded, offeredCall, SiteOverSip, walk } from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

const RING_TIMEOUT_MS = 1000;

let s: SiteOverSip;

beforeAll(async () => {
  s = await SiteOverSip.start({ database: 'site_cancel_race', timers: { ringTimeout: RING_TIMEOUT_MS } });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

/** How many calls of a SIPp run ended on each of the scenario's named paths (its rtd samples). */
function paths(r: SippResult, names: string[]): Record<string, number> {
  return Object.fromEntries(names.map((n) => [n, r.responseTimes[n]?.length ?? 0]));
}

describe('a CANCEL racing a 200', () => {
  test("the caller cancels as the site answers: a 487, or the 200 ACKed and hung up; the CDR and the site's log agree", async () => {
    const seen: string[] = [];
    for (const cancelMs of [0, 0, ...Array.from({ length: 31 }, (_, i) => i), 200]) {
      const sinceMs = Date.now();
      const before = s.logged('sip leg ended by the far end').length;
      const run = await s.caller('caller-cancels-at-answer.xml', {
        dnis: '95588',
        ani: RETAIL_ANI,
        cancel_ms: cancelMs,
      });
      const r = await run.done;
      assertAllSucceeded(`caller cancelling ${cancelMs} ms after the 100`, r, 1);
      const took = Object.entries(paths(r, ['cancelled', 'crossed', 'answered', 'late-200'])).filter(
        ([, n]) => n > 0,
      );
      assert.equal(took.length, 1, describeSipp(`one path at ${cancelMs} ms: ${JSON.stringify(took)}`, r));
      const path = took[0]![0];
      seen.push(`${cancelMs}:${path}`);

      const callId = await s.callSince(sinceMs);
      const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
      // Cancelled before the answer, or hung up during the IVR's first prompt: the caller left while
      // the IVR had it, as any hang-up in the IVR (never queued, no agent).
      assert.equal(cdr.outcome, 'self-service', `${path}: ${JSON.stringify(cdr)}`);
      assert.equal(cdr.endReason, 'ivr:caller-hung-up', `${path}: ${JSON.stringify(cdr)}`);
      assert.equal(cdr.queuedAtMs, undefined, `${path}: ${JSON.stringify(cdr)}`);
      assert.deepEqual(await s.timelineOf(callId), ['created', 'ivr:caller-hung-up']);
      await s.legsClosed();
      // The site ended the caller's leg as the caller saw it: cancelled (its 487), or the BYE
      // after its 200.
      const ends = s.logged('sip leg ended by the far end').slice(before);
      assert.deepEqual(
        ends.map((e) => e['reason']),
        [path === 'cancelled' ? 'cancelled' : 'far-end'],
        `${cancelMs} ms, ${path}: ${JSON.stringify(ends)}`,
      );
    }
    // Never a 200 to an INVITE whose CANCEL the site had accepted (200 to the CANCEL first):
    // the first call of a fresh site, cancelled at once, did so while its RTP port opened.
    assert.ok(!seen.some((x) => x.endsWith(':late-200')), seen.join(' '));
    // The sweep spans the race: the CANCEL won at some delays, the 200 at others.
    assert.ok(
      seen.some((x) => x.endsWith(':cancelled')),
      seen.join(' '),
    );
    assert.ok(
      seen.some((x) => !x.endsWith(':cancelled')),
      seen.join(' '),
    );
  }, 120_000);

  test("the agent's phone answers as the site's ring timeout cancels it: each miss ACKed and hung up or refused 487, the agent ready again, the caller answered in the end", async () => {
    // 10 ms past the ring timeout, then 2 ms sooner at each offer: the CANCEL wins at first.
    const phone = await s.registeredPhone('a02', 'agent-phone-answers-at-cancel.xml', {
      ring_ms: RING_TIMEOUT_MS + 10,
    });
    const events = await s.readyAgent('a02');
    // Long enough for the misses (about 1.5 s each) after "please hold", then some talk.
    const caller = await s.caller('caller.xml', walk(30_000));
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
      30_000,
    );
    let misses = 0;
    for (;;) {
      const next = await waitFor(
        'the phone answered, or the agent sent not-ready',
        async () => {
          const kinds = await s.timelineOf(callId);
          if (kinds.includes('answer')) return 'answered';
          const failed = kinds.filter((k) => k === 'agent-phone-failed').length;
          return failed > misses && (await s.desk.agent('a02')).state === 'not-ready' && 'missed';
        },
        20_000,
      ).catch(async (e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await s.explain(callId, 'a02')}`);
      });
      if (next === 'answered') break;
      misses++;
      const view = await s.desk.agent('a02');
      assert.equal(view.reasonCode, 'phone-no-answer', JSON.stringify(view));
      assert.ok(misses <= 10, `the phone should have been answered by the ${misses}th offer`);
      // Usable again: ready, and the caller (back in the queue) is offered to it again.
      await s.desk.setReady('a02');
    }
    assertAllSucceeded('the caller', await caller.done, 1);
    await s.finishWrapup('a02', callId);
    const r = await phone.stop();
    // Every offer was a call the phone saw to its end: refused 487 or answered (and hung up).
    assertAllSucceeded('the agent phone', r, misses + 1);
    const p = paths(r, ['cancelled', 'crossed', 'answered']);
    const summary = describeSipp(`${misses} misses, phone paths ${JSON.stringify(p)}`, r);
    // A miss is a CANCEL before the 200 (487) or one that crossed it (the site ACKed the 200 and
    // hung up); the one answer the site took is the phone's only other answered call.
    assert.equal(p['cancelled']! + p['crossed']!, misses, summary);
    assert.equal(p['answered'], p['crossed']! + 1, summary);
    assert.ok(misses >= 1, summary);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a02', JSON.stringify(cdr));
    const kinds = await s.timelineOf(callId);
    assert.equal(kinds.filter((k) => k === 'agent-phone-failed').length, misses, kinds.join(', '));
    await s.legsClosed();
  }, 150_000);
});
