/**
 * A real call through a real site (issue 12): the example site in this process on its own
 * PostgreSQL database, built as main.ts builds it without --simulate (site-node/sip-site.ts:
 * the SIP media port instead of the simulated one). A SIPp agent phone registers with digest and answers; the agent signs in and
 * goes ready through the gRPC desk and answers the offer there; a SIPp caller from the trunk
 * walks the IVR with RFC 4733 keys (1, PIN 135790#, 9, 0), waits, talks and hangs up.
 * Callers who hang up before an agent: in the IVR, and in the queue with no agent ready.
 * The site and the helpers are test/support/site-over-sip.ts. docs/sip.md "The site over SIP".
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { getCdr } from '../../site-node/store/index.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import {
  assertAllSucceeded,
  offeredCall,
  QUICK_WALK,
  SiteOverSip,
  walk,
  walkUntilEnd,
} from '../support/site-over-sip.js';
import { waitFor } from '../support/wait.js';

let s: SiteOverSip;

beforeAll(async () => {
  s = await SiteOverSip.start({ database: 'site_over_sip', timers: { ringTimeout: 4000 } });
}, 60_000);
afterEach(() => s.cleanup());
afterAll(() => s?.stop());

describe('a real site over SIP', () => {
  test('a caller walks the IVR to an agent whose phone registered and answers; the caller hangs up; CDR and timeline in PG', async () => {
    const phone = await s.registeredPhone('a01');
    const events = await s.readyAgent('a01');
    const caller = await s.caller('caller.xml', walk(6000));
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    const callId = offeredCall(events);
    const pop = events.find((e) => e.type === 'offer');
    assert.equal(pop?.type === 'offer' ? pop.pop.customer?.customerId : undefined, 'c-1001');
    await waitFor('a01 in wrap-up', async () => (await s.desk.agent('a01')).state === 'wrap-up');
    await s.desk.completeWrapup('a01', callId, 'resolved');
    assert.equal((await s.desk.agent('a01')).state, 'ready');
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01');
    assert.ok(cdr.answeredAtMs !== undefined, JSON.stringify(cdr));
    assert.ok(cdr.answeredAtMs >= cdr.startedAtMs && cdr.endedAtMs > cdr.answeredAtMs, JSON.stringify(cdr));
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
    assert.equal(cdr.recording, undefined, 'a balance enquiry is not recorded');
    const kinds = await s.timelineOf(callId);
    for (const k of ['offer', 'answer'])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds.join(', ')}`);
    await s.legsClosed();
  }, 120_000);

  test("the agent's phone rings out: the agent goes not-ready (phone-no-answer), the caller back to the queue, then abandons", async () => {
    const phone = await s.registeredPhone('a02', 'agent-phone-no-answer.xml');
    const events = await s.readyAgent('a02');
    const caller = await s.caller('caller.xml', walk(16000));
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
    );
    const view = await waitFor(
      'a02 not-ready',
      async () => {
        const v = await s.desk.agent('a02');
        return v.state === 'not-ready' ? v : undefined;
      },
      20_000,
    );
    assert.equal(view.reasonCode, 'phone-no-answer');
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone (rang, cancelled)', await phone.stop(), 1);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.answeredAtMs, undefined, JSON.stringify(cdr));
    assert.ok((await s.timelineOf(callId)).includes('agent-phone-failed'));
    await s.legsClosed();
  }, 120_000);

  test("the agent picks the ringing phone up without touching the desk: the phone's answer answers the offer", async () => {
    const phone = await s.registeredPhone('a05', 'agent-phone.xml', { ring_ms: 1000 });
    const events = await s.readyAgent('a05', 'registered', false);
    const caller = await s.caller('caller.xml', walk(8000));
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const callId = offeredCall(events);
    await waitFor('a05 in wrap-up', async () => (await s.desk.agent('a05')).state === 'wrap-up');
    await s.desk.completeWrapup('a05', callId, 'resolved');
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a05');
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
    await s.legsClosed();
  }, 120_000);

  test('the phone rung with the offer rings out before anyone answers: the offer withdrawn (phone-failed), the agent not-ready', async () => {
    const phone = await s.registeredPhone('a06', 'agent-phone-no-answer.xml');
    const events = await s.readyAgent('a06', 'registered', false);
    const caller = await s.caller('caller.xml', walk(16000));
    const withdrawn = await waitFor(
      'the offer withdrawn',
      () => events.find((e) => e.type === 'offer-withdrawn'),
      30_000,
    );
    assert.equal(withdrawn.type === 'offer-withdrawn' && withdrawn.reason, 'phone-failed');
    const view = await s.desk.agent('a06');
    assert.deepEqual([view.state, view.reasonCode], ['not-ready', 'phone-no-answer']);
    const callId = offeredCall(events);
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone (rang, cancelled)', await phone.stop(), 1);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.ok((await s.timelineOf(callId)).includes('phone-failed'));
    await s.legsClosed();
  }, 120_000);

  test("the agent's phone hangs up first: the site's BYE reaches the caller, the agent goes to wrap-up", async () => {
    const phone = await s.registeredPhone('a04', 'agent-phone-hangs-up.xml', { talk_ms: 3000 });
    const events = await s.readyAgent('a04');
    const caller = await s.caller('caller-receives-bye.xml', walkUntilEnd());
    assertAllSucceeded('caller whose far end hangs up', await caller.done, 1);
    assertAllSucceeded('agent phone hanging up', await phone.stop(), 1);
    const callId = offeredCall(events);
    await s.finishWrapup('a04', callId);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04');
    // The agent's hang-up, not the caller's: the phone's BYE is the agent's.
    const kinds = await s.timelineOf(callId);
    assert.ok(kinds.includes('agent-hangup') && !kinds.includes('caller-hangup'), kinds.join(', '));
    await s.legsClosed();
  }, 120_000);

  test('a caller who hangs up in the IVR: the call ends self-service, never queued, no agent offered it', async () => {
    const sinceMs = Date.now();
    // Ready with no phone: the desk would still see an offer (the last test), so none here means
    // the call never left the IVR.
    const events = await s.readyAgent('a03', 'not-registered');
    const caller = await s.caller('caller-hangs-up-in-ivr.xml', {
      dnis: '95588',
      ani: RETAIL_ANI,
      greeting_ms: QUICK_WALK.greeting_ms,
      pin_ms: QUICK_WALK.pin_ms,
    });
    assertAllSucceeded('caller hanging up in the IVR', await caller.done, 1);
    const callId = await s.callSince(sinceMs);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    // The call ended in the IVR: a self-service call, the caller's hang-up its reason, no wait.
    assert.equal(cdr.outcome, 'self-service', JSON.stringify(cdr));
    assert.equal(cdr.finalState, 'ended', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'ivr:caller-hung-up', JSON.stringify(cdr));
    assert.equal(cdr.abandoned, false, JSON.stringify(cdr));
    assert.equal(cdr.queuedAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.offeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.agentId, undefined, JSON.stringify(cdr));
    assert.equal(cdr.waitMs, 0, JSON.stringify(cdr));
    assert.deepEqual(await s.timelineOf(callId), ['created', 'ivr:caller-hung-up']);
    await s.legsClosed();
    assert.deepEqual(
      events.filter((e) => e.type === 'offer'),
      [],
    );
    assert.equal((await s.desk.agent('a03')).state, 'ready');
  }, 120_000);

  test('a caller who hangs up while queued, no agent ready: the CDR says abandoned, with its wait', async () => {
    const sinceMs = Date.now();
    // Signed in but not ready: the queue has an agent for its skill and none to offer to.
    const events = await s.signedInAgent('a03', 'not-registered');
    assert.equal((await s.desk.agent('a03')).state, 'not-ready');
    // talk_ms from the 0: the site's "please hold" prompt (about 5 s) plays in the IVR first,
    // then the caller waits in the queue for the rest.
    const caller = await s.caller('caller.xml', walk(10_000));
    const callId = await s.callSince(sinceMs);
    await waitFor('the caller queued', async () => (await s.timelineOf(callId)).includes('ivr-transfer'));
    assertAllSucceeded('caller hanging up in the queue', await caller.done, 1);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.finalState, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.abandoned, true, JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'abandoned-queued', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'retail', JSON.stringify(cdr));
    assert.equal(cdr.customerId, 'c-1001', JSON.stringify(cdr));
    assert.equal(cdr.agentId, undefined, JSON.stringify(cdr));
    assert.equal(cdr.offeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.answeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.talkMs, 0, JSON.stringify(cdr));
    // The wait is the time in the queue: from queued to the caller's BYE.
    assert.ok(cdr.queuedAtMs !== undefined, JSON.stringify(cdr));
    assert.ok(cdr.waitMs > 0, JSON.stringify(cdr));
    assert.equal(cdr.waitMs, cdr.endedAtMs - cdr.queuedAtMs, JSON.stringify(cdr));
    assert.deepEqual(await s.timelineOf(callId), ['created', 'ivr-transfer', 'abandoned-queued']);
    assert.deepEqual(
      events.filter((e) => e.type === 'offer'),
      [],
    );
    await s.legsClosed();
  }, 120_000);

  test('a caller who asks for an agent and hangs up during "please hold": one self-service call, in the CDR and in the counts', async () => {
    const sinceMs = Date.now();
    const selfServiceBefore = s.real.site.snapshot().summary.selfService;
    await s.signedInAgent('a03', 'not-registered');
    // 1 s after the 0, while the site's "please hold" (about 5 s) still plays in the IVR: the
    // caller has left before the queue. It was counted nowhere while its CDR said self-service.
    const caller = await s.caller('caller.xml', walk(1_000));
    assertAllSucceeded('caller hanging up during the hold prompt', await caller.done, 1);
    const callId = await s.callSince(sinceMs);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'self-service', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'ivr:caller-hung-up', JSON.stringify(cdr));
    assert.equal(cdr.queuedAtMs, undefined, JSON.stringify(cdr));
    assert.deepEqual(await s.timelineOf(callId), ['created', 'ivr:caller-hung-up']);
    assert.equal(s.real.site.snapshot().summary.selfService, selfServiceBefore + 1);
    await s.legsClosed();
  }, 120_000);

  test('an agent whose phone is not registered is offered a call: withdrawn at once (phone-failed), not-ready (phone-not-registered), the caller back to the queue', async () => {
    const sinceMs = Date.now();
    const events = await s.readyAgent('a03', 'not-registered');
    const caller = await s.caller('caller.xml', walk(8000));
    const callId = await s.callSince(sinceMs);
    const withdrawn = await waitFor(
      'the offer withdrawn',
      () => events.find((e) => e.type === 'offer-withdrawn'),
      30_000,
    );
    assert.ok(withdrawn.type === 'offer-withdrawn' && withdrawn.callId === callId, JSON.stringify(withdrawn));
    assert.equal(withdrawn.reason, 'phone-failed');
    const view = await s.desk.agent('a03');
    assert.deepEqual([view.state, view.reasonCode], ['not-ready', 'phone-not-registered']);
    assertAllSucceeded('caller', await caller.done, 1);
    const cdr = await waitFor('the CDR', () => getCdr(s.real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.ok((await s.timelineOf(callId)).includes('phone-failed'));
    await s.legsClosed();
  }, 120_000);
});
