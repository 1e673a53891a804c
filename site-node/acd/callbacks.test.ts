/**
 * Callbacks in the ACD core (docs/architecture.md §4.7): a virtual call keeps the caller's place,
 * ages like the calls around it, reserves an agent at the front while the site dials, keeps its
 * place across unanswered dials, and is never turned away by the queue it was promised.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { arriveInRetail, commandsOf, loginReady, retailHarness } from './harness.js';
import { agentView, callView } from './views.js';
import { queueStats, waitingCalls } from './stats.js';

const of = commandsOf;
const harness = retailHarness;
const arrive = arriveInRetail;
const login = loginReady;

describe('a caller who asks for a callback while waiting', () => {
  test('keeps the exact place: same enqueue time, order and priority; not counted as abandoned', () => {
    const h = harness();
    arrive(h, 'c1');
    h.advance(1000);
    arrive(h, 'c2');
    h.advance(1000);
    arrive(h, 'c3');
    h.advance(5000);
    const before = callView(h.state, 'c2')!;
    const out = h.send({ type: 'callback-requested', callId: 'c2', callbackId: 'v2' });
    assert.deepEqual(
      of(out, 'call-ended').map((c) => [c.callId, c.outcome]),
      [['c2', 'callback-requested']],
    );
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1', 'v2', 'c3']);
    const v = callView(h.state, 'v2')!;
    assert.equal(v.virtual, true);
    assert.equal(v.enqueueMs, before.enqueueMs);
    assert.equal(v.seq, before.seq);
    assert.equal(v.priority, 5);
    const st = queueStats(h.state, 'retail', h.now);
    assert.equal(st.waiting, 3);
    assert.equal(st.window.abandoned, 0);
  });

  test('the virtual call ages like the others: skill expansion reaches it on time', () => {
    const h = harness();
    arrive(h, 'c1');
    h.send({ type: 'callback-requested', callId: 'c1', callbackId: 'v1' });
    login(h, 'vipOnly', { vip: 5 });
    assert.equal(agentView(h.state, 'vipOnly')?.state, 'ready', 'not eligible before 30 s');
    const out = h.advance(30_000);
    assert.deepEqual(
      of(out, 'dial-callback').map((c) => [c.callId, c.agentId]),
      [['v1', 'vipOnly']],
    );
  });

  test('at the front with an agent free: the agent is reserved and the site told to dial; answered, it is offered to that agent', () => {
    const h = harness();
    arrive(h, 'c1');
    h.advance(4000);
    h.send({ type: 'callback-requested', callId: 'c1', callbackId: 'v1' });
    h.advance(6000);
    const out = login(h, 'a');
    assert.deepEqual(of(out, 'dial-callback'), [
      { type: 'dial-callback', callId: 'v1', agentId: 'a', queueId: 'retail', tries: 0 },
    ]);
    assert.equal(of(out, 'offer-call').length, 0, 'nothing rings before the customer answers');
    assert.equal(agentView(h.state, 'a')?.state, 'reserved');
    assert.equal(callView(h.state, 'v1')?.state, 'dialing');
    // The agent cannot answer a customer still being dialled.
    assert.throws(
      () => h.send({ type: 'agent-answered', agentId: 'a', callId: 'v1' }),
      (e) => isDomainError(e, 'failed-precondition'),
    );
    h.advance(2000);
    const answered = h.send({ type: 'callback-dialled', callId: 'v1', answered: true });
    assert.deepEqual(
      of(answered, 'offer-call').map((c) => [c.callId, c.agentId]),
      [['v1', 'a']],
    );
    assert.equal(callView(h.state, 'v1')?.virtual, false);
    const conn = h.send({ type: 'agent-answered', agentId: 'a', callId: 'v1' });
    // Its wait runs from the caller's first place in the queue.
    assert.equal(of(conn, 'call-connected')[0]?.waitMs, 12_000);
  });

  test('answered before the request is committed: the request is refused and nothing changes', () => {
    const h = harness();
    login(h, 'a');
    arrive(h, 'c1');
    assert.equal(callView(h.state, 'c1')?.state, 'offered');
    assert.throws(
      () => h.send({ type: 'callback-requested', callId: 'c1', callbackId: 'v1' }),
      (e) => isDomainError(e, 'failed-precondition') && /not waiting in a queue/.test((e as Error).message),
    );
    assert.equal(callView(h.state, 'v1'), undefined);
    assert.equal(callView(h.state, 'c1')?.state, 'offered');
  });
});

describe('an unanswered callback', () => {
  test('releases the agent, waits out of line, then takes the same place again ahead of later callers', () => {
    const h = harness();
    arrive(h, 'c1');
    h.send({ type: 'callback-requested', callId: 'c1', callbackId: 'v1' });
    h.advance(1000);
    login(h, 'a');
    const out = h.send({ type: 'callback-dialled', callId: 'v1', answered: false });
    assert.deepEqual(of(out, 'callback-retry'), [
      { type: 'callback-retry', callId: 'v1', queueId: 'retail', tries: 1, retryAtMs: 61_000 },
    ]);
    assert.equal(agentView(h.state, 'a')?.state, 'ready', 'the agent is released');
    h.send({ type: 'agent-not-ready', agentId: 'a', reason: 'break' });
    h.advance(10_000);
    arrive(h, 'late1');
    arrive(h, 'late2');
    assert.deepEqual(
      waitingCalls(h.state, 'retail'),
      ['late1', 'late2'],
      'out of line while it waits to retry',
    );
    h.advance(50_000);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['v1', 'late1', 'late2'], 'back at its place');
    const again = h.send({ type: 'agent-ready', agentId: 'a' });
    assert.deepEqual(
      of(again, 'dial-callback').map((c) => [c.callId, c.tries]),
      [['v1', 1]],
    );
  });

  test('is closed as failed after maxTries dials', () => {
    const h = harness();
    login(h, 'a');
    h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', priority: 5, enqueueMs: 0 });
    h.send({ type: 'callback-dialled', callId: 'v1', answered: false });
    h.advance(60_000);
    assert.equal(callView(h.state, 'v1')?.state, 'dialing');
    const out = h.send({ type: 'callback-dialled', callId: 'v1', answered: false });
    assert.deepEqual(
      of(out, 'call-ended').map((c) => [c.callId, c.outcome]),
      [['v1', 'callback-failed']],
    );
    assert.equal(callView(h.state, 'v1'), undefined);
    assert.equal(agentView(h.state, 'a')?.state, 'ready');
  });

  test('one the site never dialled (it is stopping) releases the agent without counting a try', () => {
    const h = harness();
    login(h, 'a');
    h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 0, tries: 1 });
    assert.equal(agentView(h.state, 'a')?.state, 'reserved');
    const out = h.send({ type: 'callback-dialled', callId: 'v1', answered: false, notDialled: true });
    assert.equal(agentView(h.state, 'a')?.state, 'ready', 'the agent can take the callers still queued');
    assert.equal(of(out, 'call-ended').length, 0, 'not closed as failed: maxTries is 2 and one was made');
    assert.deepEqual(
      of(out, 'callback-retry').map((c) => [c.callId, c.tries]),
      [['v1', 1]],
    );
    assert.equal(callView(h.state, 'v1')?.state, 'retry-wait');
  });

  test('a desk lost during the dial waits for the dial: no second dial starts for another agent', () => {
    const h = harness();
    login(h, 'a');
    h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 0 });
    login(h, 'b');
    const out = h.send({ type: 'agent-lease-lapsed', agentId: 'a', reason: 'lease-lapsed' });
    assert.equal(of(out, 'dial-callback').length, 0);
    assert.equal(agentView(h.state, 'a')?.pendingNotReady, 'lease-lapsed');
    h.send({ type: 'callback-dialled', callId: 'v1', answered: false });
    assert.equal(agentView(h.state, 'a')?.state, 'not-ready');
  });
});

describe('a callback that comes due', () => {
  test('is admitted over a full queue and after hours, and never times out', () => {
    const h = harness({ maxQueueLength: 1, maxWaitMs: '2m', onMaxWait: 'callback-offer' });
    arrive(h, 'c1');
    const full = arrive(h, 'c2');
    assert.equal(of(full, 'call-fallback')[0]?.reason, 'queue-full', 'an ordinary caller is turned away');
    const out = h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 0 });
    assert.equal(of(out, 'call-fallback').length, 0);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1', 'v1']);
    const later = h.advance(10 * 60_000);
    assert.deepEqual(
      of(later, 'call-fallback').map((c) => c.callId),
      ['c1'],
      'the ordinary caller times out; the callback keeps waiting',
    );
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['v1']);

    const closed = harness({ calendarId: 'never' }, { calendars: { never: { weekly: {} } } });
    assert.equal(of(arrive(closed, 'c1'), 'call-fallback')[0]?.reason, 'after-hours');
    const due = closed.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 0 });
    assert.equal(of(due, 'call-fallback').length, 0, 'a promised callback waits for the queue to open');
    assert.deepEqual(waitingCalls(closed.state, 'retail'), ['v1']);
  });

  test('virtual calls do not fill the queue for callers on the line', () => {
    const h = harness({ maxQueueLength: 1 });
    h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', priority: 5, enqueueMs: 0 });
    h.send({ type: 'callback-arrived', callId: 'v2', queueId: 'retail', priority: 5, enqueueMs: 0 });
    assert.equal(of(arrive(h, 'c1'), 'call-fallback').length, 0);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['v1', 'v2', 'c1']);
  });

  test('takes its place by its enqueue time: ahead of callers who came later, behind those before', () => {
    const h = harness();
    h.advance(10_000);
    arrive(h, 'early');
    h.advance(10_000);
    arrive(h, 'late');
    h.advance(10_000);
    h.send({ type: 'callback-arrived', callId: 'v1', queueId: 'retail', priority: 5, enqueueMs: 15_000 });
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['early', 'v1', 'late']);
  });

  test('VIP order is kept: an ordinary callback stays behind VIPs, a VIP callback stays a VIP', () => {
    const h = harness();
    arrive(h, 'vip1', 10);
    h.advance(1000);
    arrive(h, 'ord1', 5);
    h.send({ type: 'callback-arrived', callId: 'vOrd', queueId: 'retail', priority: 5, enqueueMs: 0 });
    h.send({ type: 'callback-arrived', callId: 'vVip', queueId: 'retail', priority: 10, enqueueMs: 500 });
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['vip1', 'vVip', 'vOrd', 'ord1']);
  });

  test('bad input is refused naming the field, and changes nothing', () => {
    const h = harness();
    h.advance(1000);
    const before = JSON.stringify(waitingCalls(h.state, 'retail'));
    for (const [ev, field] of [
      [{ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 5000 }, 'enqueueMs'],
      [{ type: 'callback-arrived', callId: 'v1', queueId: 'nope', enqueueMs: 0 }, 'queueId'],
      [{ type: 'callback-arrived', callId: 'v1', queueId: 'retail', enqueueMs: 0, tries: 2 }, 'tries'],
      [{ type: 'callback-dialled', callId: 'v1', answered: 'yes' }, undefined],
    ] as const) {
      assert.throws(
        () => h.send(ev as never),
        (e) => isDomainError(e) && (field === undefined || (e as { field?: string }).field === field),
        JSON.stringify(ev),
      );
    }
    assert.equal(JSON.stringify(waitingCalls(h.state, 'retail')), before);
    assert.equal(h.state.calls.size, 0);
  });
});
