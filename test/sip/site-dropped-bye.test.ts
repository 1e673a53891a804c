/**
 * A far end that vanishes without a BYE, on a real site over SIP (issue 12; docs/sip.md "The
 * site over SIP", "How a leg ends"): the caller's line drops while it talks to an agent (its RTP
 * stops, no BYE ever comes), the caller's signalling dies while its media goes on (it promised
 * the RFC 4028 refreshes and sends none), and the agent's phone drops (its RTP stops). Each call
 * must still end, by the site's own watches (sip.timers.rtpInactivity short here, the session
 * timer at its floor of 90 s), with the right CDR, and the agent must take the next call on the
 * same phone without a restart. The site and helpers: test/support/site-over-sip.ts.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { getCdr } from '../../site-node/store/index.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import type { SippRun } from '../support/sipp.js';
import {
  assertAllSucceeded,
  offeredCall,
  SiteOverSip,
  walk,
  walkUntilEnd,
} from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

/** Longer than the walk's longest pause between keys (1.5 s before the first). */
const RTP_INACTIVITY_MS = 3000;
/** RFC 4028's floor (the site's Min-SE): the non-refresher hangs up 30 s before it expires. */
const SESSION_INTERVAL_S = 90;

let s: SiteOverSip;

beforeAll(async () => {
  s = await SiteOverSip.start({
    database: 'site_dropped_bye',
    timers: {
      rtpInactivity: RTP_INACTIVITY_MS,
      sessionInterval: SESSION_INTERVAL_S * 1000,
      ringTimeout: 4000,
    },
  });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

/** The log line of the site's leg that ended by a watch of its own, on the caller's or the agent's side. */
function farEndGone(side: 'caller' | 'agent'): Array<Record<string, unknown>> {
  return s
    .logged('sip leg ended by the far end')
    .filter(
      (l) => String(l['legId']).includes('-agent-') === (side === 'agent') && l['reason'] === 'timeout',
    );
}

/**
 * The agent, back from wrap-up, takes a second call on the same phone: the caller walks to it,
 * talks and hangs up, and the phone counts its second answered call.
 */
async function takesTheNextCall(agentId: string, phone: SippRun, events: DeskEvent[]): Promise<void> {
  // From the 0: "please hold" (about 5 s) in the IVR, the offer, then a short talk.
  const caller = await s.caller('caller.xml', walk(8000));
  assertAllSucceeded('the next caller', await caller.done, 1);
  const offers = events.filter((e) => e.type === 'offer');
  assert.equal(offers.length, 2, `a second offer: ${JSON.stringify(events)}`);
  const callId = offers[1]!.type === 'offer' ? offers[1]!.pop.callId : '';
  // The CDR is written once the agent's wrap-up ends.
  await s.finishWrapup(agentId, callId);
  const cdr = await waitFor('the next call CDR', () => getCdr(s.real.pool, callId));
  assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
  assert.equal(cdr.agentId, agentId, JSON.stringify(cdr));
  assertAllSucceeded('the agent phone, both calls', await phone.stop(), 2);
  await s.legsClosed();
}

describe('a far end that vanishes without a BYE', () => {
  test("the caller's line drops while it talks (RTP stops, no BYE): RTP inactivity ends the call, answered; the agent takes the next call", async () => {
    const phone = await s.registeredPhone('a01');
    const events = await s.readyAgent('a01');
    // Two 7 s clips of voice from the 0 (the agent answers within the first), then silence.
    const caller = await s.caller('caller-goes-silent.xml', walk(9000));
    const r = await caller.done;
    // The caller answered the site's BYE: the call was ended by the site, not left open.
    assertAllSucceeded('the caller who went silent', r, 1);
    const callId = offeredCall(events);
    // The agent is in wrap-up (its CDR is written when that ends), then ready again.
    await s.finishWrapup('a01', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01', JSON.stringify(cdr));
    assert.ok(cdr.answeredAtMs !== undefined && cdr.talkMs > 0, JSON.stringify(cdr));
    // Well before any session timer: the inactivity watch, on the caller's leg.
    assert.ok(cdr.endedAtMs - cdr.startedAtMs < 45_000, JSON.stringify(cdr));
    const gone = farEndGone('caller');
    assert.equal(gone.length, 1, JSON.stringify(gone));
    assert.equal(gone[0]!['detail'], 'no RTP from the far end');
    const kinds = await s.timelineOf(callId);
    assert.ok(kinds.includes('caller-hangup') && !kinds.includes('agent-hangup'), kinds.join(', '));
    await s.legsClosed();

    await takesTheNextCall('a01', phone, events);
  }, 150_000);

  test('the caller never sends the session refreshes it promised: the session timer ends the call, answered; the agent takes the next call', async () => {
    const phone = await s.registeredPhone('a02');
    const events = await s.readyAgent('a02');
    const before = farEndGone('caller').length;
    // Its voice goes on: only the session timer can end this call.
    const caller = await s.caller('caller-never-refreshes.xml', {
      ...walkUntilEnd(),
      session_expires: SESSION_INTERVAL_S,
    });
    assertAllSucceeded('the caller who never refreshes', await caller.done, 1);
    const callId = offeredCall(events);
    // The agent is in wrap-up (its CDR is written when that ends), then ready again.
    await s.finishWrapup('a02', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a02', JSON.stringify(cdr));
    // The site is not the refresher: its BYE goes min(32 s, 90 s / 3) before the expiry.
    const heldMs = cdr.endedAtMs - cdr.startedAtMs;
    assert.ok(heldMs >= (SESSION_INTERVAL_S - 30) * 1000 - 1000, `${heldMs} ms: ${JSON.stringify(cdr)}`);
    assert.ok(heldMs < SESSION_INTERVAL_S * 1000, `${heldMs} ms: ${JSON.stringify(cdr)}`);
    const gone = farEndGone('caller').slice(before);
    assert.equal(gone.length, 1, JSON.stringify(gone));
    assert.match(String(gone[0]!['detail']), /^session timer/);
    const kinds = await s.timelineOf(callId);
    assert.ok(kinds.includes('caller-hangup') && !kinds.includes('agent-hangup'), kinds.join(', '));
    await s.legsClosed();

    await takesTheNextCall('a02', phone, events);
  }, 180_000);

  test("the agent's phone drops (its RTP stops, no BYE): RTP inactivity ends its leg, the caller gets the site's BYE; the agent takes the next call", async () => {
    const phone = await s.registeredPhone('a04', 'agent-phone-goes-silent.xml');
    const events = await s.readyAgent('a04');
    const before = farEndGone('agent').length;
    const caller = await s.caller('caller-receives-bye.xml', walkUntilEnd());
    assertAllSucceeded('the caller whose agent vanished', await caller.done, 1);
    const callId = offeredCall(events);
    // The agent is in wrap-up (its CDR is written when that ends), then ready again.
    await s.finishWrapup('a04', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04', JSON.stringify(cdr));
    const gone = farEndGone('agent').slice(before);
    assert.equal(gone.length, 1, JSON.stringify(gone));
    assert.equal(gone[0]!['detail'], 'no RTP from the far end');
    // The agent's side ended the call, not the caller's.
    const kinds = await s.timelineOf(callId);
    assert.ok(kinds.includes('agent-hangup') && !kinds.includes('caller-hangup'), kinds.join(', '));
    await s.legsClosed();

    // The next call is short: the caller hangs up within the phone's one 7 s clip of voice.
    await takesTheNextCall('a04', phone, events);
  }, 150_000);
});
