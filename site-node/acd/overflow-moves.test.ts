/**
 * The ACD's side of a move to another site (docs/architecture.md §5.9): the origin takes a
 * waiting call out of its queue (`take-call`) only while it waits in the line, and puts it back
 * in its very place when the move fails (`return-call`) or ends it when the target admitted it
 * (`call-moved`); the target admits it ranked by its original time (`admit-overflow`).
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { AcdHarness, arriveInRetail, commandsOf, loginReady, retailHarness } from './harness.js';
import { checkAcdInvariants } from './invariants.js';
import { expectedWaitMs, queueStats, waitingCalls } from './stats.js';
import { agentView, callView, movableCalls } from './views.js';
import type { AcdCommand } from './types.js';

const of = commandsOf;
const harness = retailHarness;
const arrive = arriveInRetail;
const login = loginReady;
const take = (h: AcdHarness, callId: string, requestId = `${callId}#1`): AcdCommand[] =>
  h.send({ type: 'take-call', callId, requestId });
const moved = (h: AcdHarness, callId: string): AcdCommand[] =>
  h.send({ type: 'call-moved', callId, toSiteId: 'chongqing', token: `tok-${callId}` });
/** What admit-overflow carries besides the call: where it came from, the token, its hops. */
const FROM_WZ = { fromSiteId: 'wanzhou', token: 'tok-w', hops: 1, visitedSiteIds: ['wanzhou'] } as const;
const notWaiting = (out: AcdCommand[]): string[] => of(out, 'call-not-waiting').map((c) => c.reason);

describe('take-call', () => {
  test('a waiting call is taken out of the line with its place, and nothing here times or offers it', () => {
    const h = harness({ maxWaitMs: '5m' });
    arrive(h, 'c1');
    h.advance(1000);
    arrive(h, 'c2');
    h.advance(1000);
    arrive(h, 'c3');
    h.advance(31_000); // c1 and c2 have reached the expansion step, c3 not yet
    const before = callView(h.state, 'c2')!;
    const out = take(h, 'c2');
    assert.deepEqual(of(out, 'call-taken'), [
      {
        type: 'call-taken',
        callId: 'c2',
        requestId: 'c2#1',
        queueId: 'retail',
        priority: 5,
        enqueueMs: 1000,
        seq: before.seq,
        level: 1,
        moves: 0,
        hops: 0,
        visitedSiteIds: [],
      },
    ]);
    assert.deepEqual(of(out, 'cancel-timer'), [{ type: 'cancel-timer', id: 'wait:c2' }]);
    assert.equal(callView(h.state, 'c2')?.state, 'taken');
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1', 'c3']);
    assert.equal(queueStats(h.state, 'retail', h.now).waiting, 2);
    // An agent who could take it gets the others, never the taken one.
    login(h, 'a');
    login(h, 'b');
    login(h, 'c');
    assert.deepEqual(
      h.log.filter((c) => c.type === 'offer-call').map((c) => (c as { callId: string }).callId),
      ['c1', 'c3'],
    );
    assert.equal(agentView(h.state, 'c')?.state, 'ready');
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('refused while offered, answered, unknown, already taken or a callback: nothing changes', () => {
    const h = harness();
    login(h, 'a');
    arrive(h, 'offered');
    assert.deepEqual(notWaiting(take(h, 'offered')), ['offered'], 'the offer wins');
    assert.equal(callView(h.state, 'offered')?.state, 'offered');
    assert.equal(agentView(h.state, 'a')?.callId, 'offered');
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'offered' });
    assert.deepEqual(notWaiting(take(h, 'offered')), ['answered']);
    assert.equal(callView(h.state, 'offered')?.state, 'connected');

    assert.deepEqual(notWaiting(take(h, 'nobody')), ['unknown']);

    arrive(h, 'c1');
    assert.equal(of(take(h, 'c1'), 'call-taken').length, 1);
    const again = take(h, 'c1');
    assert.deepEqual(notWaiting(again), ['taken']);
    assert.deepEqual(again, [{ type: 'call-not-waiting', callId: 'c1', requestId: 'c1#1', reason: 'taken' }]);

    arrive(h, 'c2');
    h.send({ type: 'callback-requested', callId: 'c2', callbackId: 'v2' });
    assert.deepEqual(notWaiting(take(h, 'v2')), ['callback'], 'nobody on the line to move');
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['v2']);
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('a malformed id is an error, not an answer', () => {
    const h = harness();
    assert.throws(
      () => h.send({ type: 'take-call', callId: '', requestId: 'x#1' }),
      (e) => isDomainError(e, 'invalid-argument') && /callId/.test((e as Error).message),
    );
    assert.throws(
      () => h.send({ type: 'take-call', callId: 'c1', requestId: '' } as never),
      (e) => isDomainError(e, 'invalid-argument') && /requestId/.test((e as Error).message),
    );
  });
});

describe('return-call', () => {
  test('a returned call keeps its place ahead of later callers, as if it had never left', () => {
    const h = harness();
    arrive(h, 'early');
    h.advance(1000);
    arrive(h, 'moving');
    const placed = callView(h.state, 'moving')!;
    h.advance(1000);
    take(h, 'moving');
    h.advance(5000);
    arrive(h, 'late1');
    h.advance(1000);
    arrive(h, 'late2');
    const out = h.send({ type: 'return-call', callId: 'moving' });
    assert.deepEqual(of(out, 'call-queued'), [{ type: 'call-queued', callId: 'moving', queueId: 'retail' }]);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['early', 'moving', 'late1', 'late2']);
    const back = callView(h.state, 'moving')!;
    assert.equal(back.enqueueMs, placed.enqueueMs);
    assert.equal(back.seq, placed.seq);
    // Served in that order, and its wait runs from when it first queued.
    login(h, 'a');
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'early' });
    h.send({ type: 'agent-hung-up', agentId: 'a', callId: 'early' });
    const next = h.advance(5000);
    assert.deepEqual(
      of(next, 'offer-call').map((c) => c.callId),
      ['moving'],
    );
    const conn = h.send({ type: 'agent-answered', agentId: 'a', callId: 'moving' });
    assert.equal(of(conn, 'call-connected')[0]?.waitMs, h.now - 1000);
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('returned to a free agent it is offered at once, at the expansion its wait reached', () => {
    const h = harness();
    arrive(h, 'c1');
    take(h, 'c1');
    login(h, 'vipOnly', { vip: 5 });
    h.advance(40_000); // in transit past the 30 s step: no timer of its own fires meanwhile
    assert.equal(agentView(h.state, 'vipOnly')?.state, 'ready');
    const out = h.send({ type: 'return-call', callId: 'c1' });
    assert.deepEqual(
      of(out, 'offer-call').map((c) => [c.callId, c.agentId]),
      [['c1', 'vipOnly']],
    );
    assert.equal(callView(h.state, 'c1')?.level, 1);
  });

  test('only a taken call can be returned or moved; the refusal changes nothing', () => {
    const h = harness();
    arrive(h, 'c1');
    for (const type of ['return-call', 'call-moved'] as const) {
      const e = { type, callId: 'c1', toSiteId: 'chongqing', token: 't' };
      assert.throws(
        () => h.send(e),
        (e) => isDomainError(e, 'failed-precondition') && /queued, not taken/.test((e as Error).message),
      );
      assert.throws(
        () => h.send({ ...e, callId: 'gone' }),
        (e) => isDomainError(e, 'failed-precondition') && /not in the ACD/.test((e as Error).message),
      );
    }
    assert.equal(callView(h.state, 'c1')?.state, 'queued');
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1']);
  });
});

describe('a taken call ends here', () => {
  test('moved: it ends overflowed, once, and is not counted in this queue', () => {
    const h = harness();
    arrive(h, 'c1');
    h.advance(3000);
    take(h, 'c1');
    const out = moved(h, 'c1');
    assert.deepEqual(of(out, 'call-ended'), [
      {
        type: 'call-ended',
        callId: 'c1',
        queueId: 'retail',
        outcome: 'overflowed',
        toSiteId: 'chongqing',
        token: 'tok-c1',
      },
    ]);
    assert.equal(callView(h.state, 'c1'), undefined);
    const w = queueStats(h.state, 'retail', h.now).window;
    assert.equal(w.answered + w.abandoned, 0);
  });

  test('the caller hung up in transit: kept taken until the move settles it, then ended once', () => {
    // Returned (the target refused): abandoned while waiting, counted in this queue.
    const h = harness();
    arrive(h, 'c1');
    take(h, 'c1');
    const hung = h.send({ type: 'caller-hung-up', callId: 'c1' });
    assert.deepEqual(hung, [], 'not ended yet: the target may have admitted it');
    assert.deepEqual(h.send({ type: 'caller-hung-up', callId: 'c1' }), [], 'said twice: no news');
    assert.equal(callView(h.state, 'c1')?.callerLeft, true);
    assert.deepEqual(checkAcdInvariants(h.state), []);
    const back = h.send({ type: 'return-call', callId: 'c1' });
    assert.deepEqual(
      of(back, 'call-ended').map((c) => c.outcome),
      ['abandoned-queued'],
    );
    assert.equal(of(back, 'call-queued').length, 0, 'never back in the line');
    assert.equal(queueStats(h.state, 'retail', h.now).window.abandoned, 1);
    // Moved (the target admitted it): overflowed, once; never an error.
    const m = harness();
    arrive(m, 'c2');
    take(m, 'c2');
    m.send({ type: 'caller-hung-up', callId: 'c2' });
    const out = moved(m, 'c2');
    assert.deepEqual(
      of(out, 'call-ended').map((c) => c.outcome),
      ['overflowed'],
    );
    assert.equal(callView(m.state, 'c2'), undefined);
    assert.equal(m.log.filter((c) => c.type === 'call-ended').length, 1);
  });

  test('the answer to take-call names the request it answers', () => {
    const h = harness();
    arrive(h, 'c1');
    assert.equal(of(take(h, 'c1', 'c1#7'), 'call-taken')[0]?.requestId, 'c1#7');
    assert.deepEqual(of(take(h, 'c1', 'c1#8'), 'call-not-waiting')[0], {
      type: 'call-not-waiting',
      callId: 'c1',
      requestId: 'c1#8',
      reason: 'taken',
    });
  });
});

describe('admit-overflow', () => {
  test('an admitted call ranks by its original time and priority, ahead of callers who came later', () => {
    const h = harness();
    h.advance(60_000);
    arrive(h, 'local-old'); // queued at 60 s
    h.advance(10_000);
    arrive(h, 'local-new'); // queued at 70 s
    arrive(h, 'local-vip', 10);
    h.advance(5000);
    const out = h.send({
      type: 'admit-overflow',
      callId: 'from-b',
      queueId: 'retail',
      priority: 5,
      enqueueMs: 65_000,
      ...FROM_WZ,
    });
    assert.deepEqual(of(out, 'call-queued'), [{ type: 'call-queued', callId: 'from-b', queueId: 'retail' }]);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['local-vip', 'local-old', 'from-b', 'local-new']);
    const v = callView(h.state, 'from-b')!;
    assert.equal(v.enqueueMs, 65_000);
    assert.equal(v.moves, 0, 'site hops are not transfers');
    assert.deepEqual([v.hops, v.visitedSiteIds, v.fromSiteId, v.token], [1, ['wanzhou'], 'wanzhou', 'tok-w']);
    assert.equal(v.level, 0, 'waited 10 s: short of the 30 s step');
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('its expansion follows its full wait, and it is answered with its full wait', () => {
    const h = harness();
    h.advance(100_000);
    login(h, 'vipOnly', { vip: 5 });
    const out = h.send({
      type: 'admit-overflow',
      callId: 'from-b',
      queueId: 'retail',
      enqueueMs: 60_000,
      attached: { customerId: 'k1' },
      ...FROM_WZ,
    });
    assert.deepEqual(
      of(out, 'offer-call').map((c) => [c.callId, c.agentId]),
      [['from-b', 'vipOnly']],
    );
    const conn = h.send({ type: 'agent-answered', agentId: 'vipOnly', callId: 'from-b' });
    assert.equal(of(conn, 'call-connected')[0]?.waitMs, 40_000);
    assert.deepEqual(callView(h.state, 'from-b')?.attached, { customerId: 'k1' });
  });

  test('the promised place is not refused by a full queue', () => {
    const h = harness({ maxQueueLength: 1 });
    h.advance(1000);
    arrive(h, 'c1');
    const out = h.send({
      type: 'admit-overflow',
      callId: 'from-b',
      queueId: 'retail',
      priority: 5,
      enqueueMs: 0,
      ...FROM_WZ,
    });
    assert.equal(of(out, 'call-fallback').length, 0);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['from-b', 'c1']);
  });

  test('bad input is refused naming the field, and changes nothing', () => {
    const h = harness();
    h.advance(1000);
    arrive(h, 'c1');
    const bad: Array<[Record<string, unknown>, RegExp]> = [
      [{ enqueueMs: 2000 }, /enqueueMs.*no later than now/],
      [{ enqueueMs: 1.5 }, /enqueueMs/],
      [{ enqueueMs: undefined }, /enqueueMs/],
      [{ queueId: 'nope' }, /unknown queue/],
      [{ priority: 'high' }, /priority/],
      [{ callId: 'c1' }, /already in the ACD/],
      [{ fromSiteId: '' }, /fromSiteId/],
      [{ token: undefined }, /token/],
      [{ hops: 0 }, /hops.*>= 1/],
      [{ visitedSiteIds: [] }, /visitedSiteIds/],
      [{ belowOwn: 'yes' }, /belowOwn.*true or false/],
    ];
    for (const [patch, why] of bad) {
      assert.throws(
        () =>
          h.send({
            type: 'admit-overflow',
            callId: 'from-b',
            queueId: 'retail',
            enqueueMs: 500,
            ...FROM_WZ,
            ...patch,
          } as never),
        (e) =>
          (isDomainError(e, 'invalid-argument') || isDomainError(e, 'failed-precondition')) &&
          why.test((e as Error).message),
      );
    }
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1']);
    assert.equal(callView(h.state, 'from-b'), undefined);
  });
});

describe('admit-overflow below own (a covered call whose entry says below-own)', () => {
  const admit = (h: AcdHarness, callId: string, enqueueMs: number, priority = 5, belowOwn = true) =>
    h.send({
      type: 'admit-overflow',
      callId,
      queueId: 'retail',
      priority,
      enqueueMs,
      ...FROM_WZ,
      token: `tok-${callId}`,
      belowOwn,
    });

  test('it ranks below every own caller, of any priority, including ones who arrive after it', () => {
    const h = harness({ maxWaitMs: '10m' });
    h.advance(60_000);
    arrive(h, 'own-early', 1);
    h.advance(10_000);
    admit(h, 'covered-vip', 0, 10); // waited 70 s at home, VIP
    h.advance(5_000);
    arrive(h, 'own-late', 0); // lowest priority, arrives after the covered call
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['own-early', 'own-late', 'covered-vip']);
    const v = callView(h.state, 'covered-vip')!;
    assert.deepEqual([v.priority, v.belowOwn, v.enqueueMs], [10, true, 0], 'its own priority and wait kept');
    assert.deepEqual(checkAcdInvariants(h.state), []);
    // Freed agents take the own callers first, then it.
    login(h, 'a');
    login(h, 'b');
    login(h, 'c');
    assert.deepEqual(
      of(h.log, 'offer-call').map((c) => [c.callId, c.agentId]),
      [
        ['own-early', 'a'],
        ['own-late', 'b'],
        ['covered-vip', 'c'],
      ],
    );
  });

  test('by-wait (no belowOwn) keeps the original place ahead of later own callers, as before', () => {
    const h = harness();
    h.advance(60_000);
    arrive(h, 'own-early', 1);
    admit(h, 'covered', 0, 1, false);
    arrive(h, 'own-late', 1);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['covered', 'own-early', 'own-late']);
    assert.equal(callView(h.state, 'covered')?.belowOwn, false);
  });

  test('among below-own calls: priority, then the original enqueue time', () => {
    const h = harness({ maxWaitMs: '10m' });
    h.advance(100_000);
    admit(h, 'cov-young', 90_000, 5);
    admit(h, 'cov-old', 10_000, 5);
    admit(h, 'cov-high', 95_000, 7);
    arrive(h, 'own', 0);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['own', 'cov-high', 'cov-old', 'cov-young']);
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('an agent no own caller waits for takes it at once: a rank, not a block', () => {
    const h = harness();
    h.advance(1_000);
    login(h, 'a');
    const out = admit(h, 'covered', 0);
    assert.deepEqual(
      of(out, 'offer-call').map((c) => [c.callId, c.agentId]),
      [['covered', 'a']],
    );
  });

  test('an agent freed while own callers of another queue it serves wait takes them first', () => {
    const h = new AcdHarness({
      offerTimeoutMs: '10s',
      wrapUpMs: 0,
      queues: [
        { id: 'retail', skill: 'retail' },
        { id: 'cards', skill: 'cards' },
      ],
    });
    h.advance(60_000);
    h.send({
      type: 'admit-overflow',
      callId: 'covered',
      queueId: 'retail',
      priority: 10,
      enqueueMs: 0,
      ...FROM_WZ,
      belowOwn: true,
    });
    h.advance(1_000);
    h.send({ type: 'call-arrived', callId: 'own-cards', queueId: 'cards', priority: 0 });
    const out = h.send({
      type: 'agent-login',
      agentId: 'both',
      skills: { retail: 3, cards: 3 },
      ready: true,
    });
    assert.deepEqual(
      of(out, 'offer-call').map((c) => c.callId),
      ['own-cards'],
    );
  });

  test('its expected wait counts every own caller ahead of it, so it is longer', () => {
    const h = harness();
    login(h, 'busy');
    arrive(h, 'talking');
    h.send({ type: 'agent-answered', agentId: 'busy', callId: 'talking' });
    arrive(h, 'own-low', 0);
    arrive(h, 'own-high', 9);
    const own = expectedWaitMs(h.state, 'retail', 9, h.now);
    const below = expectedWaitMs(h.state, 'retail', 9, h.now, true);
    assert.ok(own !== null && below !== null);
    assert.ok(below > own, `below-own ${below} ms must exceed own ${own} ms`);
    // Two own callers ahead of it (the priority-0 one too), against one for an own caller.
    assert.equal(below, 3 * (own / 2));
  });

  test('it never waits past the queue max wait: the fallback ends it, not never', () => {
    const h = harness({ maxWaitMs: '2m', onMaxWait: 'leave-message' });
    h.advance(60_000);
    admit(h, 'covered', 0);
    arrive(h, 'own', 0);
    const out = h.advance(60_000);
    assert.deepEqual(
      of(out, 'call-fallback').map((c) => [c.callId, c.reason]),
      [['covered', 'max-wait']],
    );
  });

  test('a below-own call transferred to another queue keeps its rank there', () => {
    const h = new AcdHarness({
      offerTimeoutMs: '10s',
      wrapUpMs: 0,
      queues: [
        { id: 'retail', skill: 'retail' },
        { id: 'cards', skill: 'cards' },
      ],
    });
    h.advance(10_000);
    h.send({ type: 'agent-login', agentId: 'r', skills: { retail: 3 }, ready: true });
    h.send({
      type: 'admit-overflow',
      callId: 'covered',
      queueId: 'retail',
      enqueueMs: 0,
      ...FROM_WZ,
      belowOwn: true,
    });
    h.send({ type: 'agent-answered', agentId: 'r', callId: 'covered' });
    h.send({ type: 'call-arrived', callId: 'own-cards', queueId: 'cards', priority: 0 });
    h.send({ type: 'transfer', callId: 'covered', toQueueId: 'cards', priority: 9 });
    assert.deepEqual(waitingCalls(h.state, 'cards'), ['own-cards', 'covered']);
    assert.deepEqual(
      [callView(h.state, 'covered')?.priority, callView(h.state, 'covered')?.belowOwn],
      [9, true],
    );
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });

  test('a callback requested by a below-own caller keeps its rank', () => {
    const h = harness();
    h.advance(10_000);
    admit(h, 'covered', 0);
    arrive(h, 'own', 0);
    h.send({ type: 'callback-requested', callId: 'covered', callbackId: 'cb' });
    assert.equal(callView(h.state, 'cb')?.belowOwn, true);
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['own', 'cb']);
    assert.deepEqual(checkAcdInvariants(h.state), []);
  });
});

describe('closed queue under an afterHours overflow policy', () => {
  // Closed all week (no window on any day): every arrival finds it closed.
  const closed = (wait: string | undefined) =>
    retailHarness(
      { calendarId: 'never', ...(wait === undefined ? {} : { closedOverflowWaitMs: wait }) },
      { calendars: { never: { weekly: {} } } },
    );

  test('without closedOverflowWaitMs a closed queue turns the caller away on arrival, as before', () => {
    const h = closed(undefined);
    const out = arrive(h, 'c1');
    assert.deepEqual(
      of(out, 'call-fallback').map((c) => c.reason),
      ['after-hours'],
    );
  });

  test('the caller waits out of the line for a move, never offered here, then is turned away as closed', () => {
    const h = closed('10s');
    login(h, 'a');
    const out = arrive(h, 'c1');
    assert.deepEqual(of(out, 'call-fallback'), []);
    assert.deepEqual(of(out, 'call-queued'), [{ type: 'call-queued', callId: 'c1', queueId: 'retail' }]);
    assert.equal(callView(h.state, 'c1')?.state, 'closed-wait');
    assert.equal(of(h.log, 'offer-call').length, 0, 'no local agent is offered it while closed');
    assert.deepEqual(
      movableCalls(h.state, 'retail').map((c) => c.callId),
      ['c1'],
      'the trigger sees it',
    );
    assert.deepEqual(checkAcdInvariants(h.state), []);
    h.advance(9_999);
    assert.equal(callView(h.state, 'c1')?.state, 'closed-wait');
    const late = h.advance(1);
    assert.deepEqual(
      of(late, 'call-fallback').map((c) => c.reason),
      ['after-hours'],
    );
    assert.equal(callView(h.state, 'c1'), undefined);
  });

  test('taken from its closed wait: moved ends it; returned it waits what is left, then is turned away', () => {
    const h = closed('10s');
    arrive(h, 'c1');
    arrive(h, 'c2');
    h.advance(2_000);
    assert.equal(of(take(h, 'c1'), 'call-taken').length, 1);
    assert.deepEqual(
      of(moved(h, 'c1'), 'call-ended').map((c) => c.outcome),
      ['overflowed'],
    );
    take(h, 'c2');
    h.advance(3_000); // its own closed deadline does not fire while taken
    assert.equal(callView(h.state, 'c2')?.state, 'taken');
    h.send({ type: 'return-call', callId: 'c2' });
    assert.equal(callView(h.state, 'c2')?.state, 'closed-wait');
    assert.deepEqual(checkAcdInvariants(h.state), []);
    const out = h.advance(5_000);
    assert.deepEqual(
      of(out, 'call-fallback').map((c) => c.reason),
      ['after-hours'],
    );
  });

  test('a closed wait that ends after the queue opened lines the call, ranked by its arrival', () => {
    // Monday 07:59:55 (UTC); the queue opens at 08:00 and the closed wait is 10 s.
    const h = new AcdHarness(
      {
        calendars: { day: { weekly: { mon: [{ from: '08:00', to: '18:00' }] } } },
        offerTimeoutMs: '10s',
        wrapUpMs: '5s',
        queues: [{ id: 'retail', skill: 'retail', calendarId: 'day', closedOverflowWaitMs: '10s' }],
      },
      Date.UTC(2026, 10, 23, 7, 59, 55),
    );
    arrive(h, 'c1');
    assert.equal(callView(h.state, 'c1')?.state, 'closed-wait');
    h.advance(6_000); // 08:00:01: open; a new caller joins the line directly
    arrive(h, 'c2');
    const over = h.advance(4_000); // 08:00:05: c1's closed wait ends with the queue open
    assert.deepEqual(of(over, 'call-fallback'), [], 'never turned away at an open queue');
    assert.equal(callView(h.state, 'c1')?.state, 'queued');
    assert.deepEqual(waitingCalls(h.state, 'retail'), ['c1', 'c2'], 'ahead of the later caller');
    assert.deepEqual(checkAcdInvariants(h.state), []);
    login(h, 'a');
    assert.equal(callView(h.state, 'c1')?.state, 'offered');
  });

  test('a caller hanging up during the closed wait ends it abandoned, once', () => {
    const h = closed('10s');
    arrive(h, 'c1');
    const out = h.send({ type: 'caller-hung-up', callId: 'c1' });
    assert.deepEqual(
      of(out, 'call-ended').map((c) => c.outcome),
      ['abandoned-queued'],
    );
    assert.deepEqual(h.advance(20_000), []);
  });
});
