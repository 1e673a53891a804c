import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { AcdHarness } from './harness.js';
import { agentView, callView } from './views.js';
import { queueStats, waitingCalls } from './stats.js';
import { acdStep } from './core.js';
import type { AcdCommand } from './types.js';

const of = <T extends AcdCommand['type']>(cmds: AcdCommand[], type: T): Extract<AcdCommand, { type: T }>[] =>
  cmds.filter((c): c is Extract<AcdCommand, { type: T }> => c.type === type);

const offers = (cmds: AcdCommand[]): string[] =>
  of(cmds, 'offer-call').map((c) => `${c.callId}->${c.agentId}`);

function harness(queue: Record<string, unknown> = {}, extra: Record<string, unknown> = {}): AcdHarness {
  return new AcdHarness({
    offerTimeoutMs: '10s',
    wrapUpMs: '5s',
    queues: [
      { id: 'retail', skill: 'retail' },
      { id: 'q', skill: 'vip', ...queue },
    ],
    ...extra,
  });
}

function login(h: AcdHarness, id: string, skills: Record<string, number>): void {
  h.send({ type: 'agent-login', agentId: id, skills, ready: true });
}

describe('routing strategies', () => {
  test('longest-idle: the agent ready longest gets the call', () => {
    const h = harness();
    login(h, 'a1', { vip: 5 });
    h.advance(1000);
    login(h, 'a2', { vip: 1 });
    h.advance(1000);
    login(h, 'a3', { vip: 3 });
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' })), ['c1->a1']);
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' })), ['c2->a2']);
  });

  test('best-proficiency: highest proficiency wins, ties by longest idle', () => {
    const h = harness({ strategy: 'best-proficiency' });
    login(h, 'a1', { vip: 3 });
    h.advance(1000);
    login(h, 'a2', { vip: 5 });
    h.advance(1000);
    login(h, 'a3', { vip: 5 });
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' })), ['c1->a2']);
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' })), ['c2->a3']);
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c3', queueId: 'q' })), ['c3->a1']);
  });

  test('priority: a VIP call that arrives later is served first; FIFO within a priority', () => {
    const h = harness();
    for (const [id, p] of [
      ['n1', 0],
      ['n2', 0],
      ['v1', 10],
      ['v2', 10],
    ] as const) {
      h.send({ type: 'call-arrived', callId: id, queueId: 'q', priority: p });
      h.advance(100);
    }
    assert.deepEqual(waitingCalls(h.state, 'q'), ['v1', 'v2', 'n1', 'n2']);
    const served: string[] = [];
    for (let i = 0; i < 4; i++) {
      login(h, `a${i}`, { vip: 2 });
      served.push(...offers(h.log.slice(-3)).map((s) => s.split('->')[0]!));
    }
    assert.deepEqual(served, ['v1', 'v2', 'n1', 'n2']);
  });

  test('skill expansion widens a waiting call to more agents as it ages', () => {
    const h = harness({
      minProficiency: 4,
      expansion: [
        { afterMs: 20000, minProficiency: 3 },
        { afterMs: '40s', alsoSkills: ['retail'] },
      ],
    });
    login(h, 'junior', { vip: 3 });
    login(h, 'retail', { retail: 2 });
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' })), []);
    assert.deepEqual(offers(h.advance(19_999)), []);
    assert.deepEqual(offers(h.advance(1)), ['c1->junior']);
    h.send({ type: 'agent-answered', agentId: 'junior', callId: 'c1' });
    h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' });
    assert.equal(callView(h.state, 'c2')?.level, 0);
    assert.deepEqual(offers(h.advance(39_999)), []);
    assert.deepEqual(offers(h.advance(1)), ['c2->retail']);
  });
});

describe('agent state machine', () => {
  test('offer, answer, hang up, wrap-up timer, auto ready', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q', attached: { customerId: 'k1' } });
    assert.equal(agentView(h.state, 'a')?.state, 'reserved');
    const ans = h.send({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    assert.deepEqual(of(ans, 'call-connected'), [
      { type: 'call-connected', callId: 'c', agentId: 'a', queueId: 'q', waitMs: 0 },
    ]);
    assert.deepEqual(of(ans, 'cancel-timer'), [{ type: 'cancel-timer', id: 'offer:c' }]);
    h.advance(60_000);
    const end = h.send({ type: 'agent-hung-up', agentId: 'a', callId: 'c' });
    assert.deepEqual(of(end, 'call-ended'), [
      { type: 'call-ended', callId: 'c', queueId: 'q', outcome: 'completed', agentId: 'a' },
    ]);
    assert.equal(agentView(h.state, 'a')?.state, 'wrap-up');
    const ready = h.advance(5000);
    assert.deepEqual(
      of(ready, 'agent-state-changed').map((c) => `${c.from}->${c.to}`),
      ['wrap-up->ready'],
    );
  });

  test('not-ready requested on a call is applied after wrap-up; wrap-up can end early', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q' });
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    assert.deepEqual(h.send({ type: 'agent-not-ready', agentId: 'a', reason: 'lunch' }), []);
    assert.equal(agentView(h.state, 'a')?.pendingNotReady, 'lunch');
    h.send({ type: 'caller-hung-up', callId: 'c' });
    const done = h.send({ type: 'wrapup-done', agentId: 'a', wrapupCode: 'ok' });
    assert.deepEqual(of(done, 'cancel-timer'), [{ type: 'cancel-timer', id: 'wrapup:a' }]);
    assert.deepEqual(agentView(h.state, 'a'), {
      agentId: 'a',
      state: 'not-ready',
      reasonCode: 'lunch',
      skills: { vip: 3 },
      readySinceMs: 0,
    });
  });

  test('ring-no-answer: agent goes not-ready and the call keeps its old place in the queue', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'old', queueId: 'q' });
    h.advance(3000);
    h.send({ type: 'call-arrived', callId: 'young', queueId: 'q' });
    assert.deepEqual(waitingCalls(h.state, 'q'), ['young']);
    const rna = h.advance(7000);
    assert.deepEqual(of(rna, 'withdraw-offer'), [
      { type: 'withdraw-offer', callId: 'old', agentId: 'a', reason: 'ring-no-answer' },
    ]);
    assert.deepEqual(agentView(h.state, 'a')?.reasonCode, 'ring-no-answer');
    assert.deepEqual(waitingCalls(h.state, 'q'), ['old', 'young']);
    assert.equal(callView(h.state, 'old')?.enqueueMs, 0);
    login(h, 'b', { vip: 1 });
    assert.deepEqual(offers(h.log.slice(-3)), ['old->b']);
  });

  test('lease lapsed while offered: not-ready at once, the offer withdrawn, the call back at its old place', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'old', queueId: 'q' });
    h.advance(3000);
    h.send({ type: 'call-arrived', callId: 'young', queueId: 'q' });
    const lapse = h.send({ type: 'agent-lease-lapsed', agentId: 'a', reason: 'lease-lapsed' });
    assert.deepEqual(of(lapse, 'withdraw-offer'), [
      { type: 'withdraw-offer', callId: 'old', agentId: 'a', reason: 'lease-lapsed' },
    ]);
    assert.deepEqual(of(lapse, 'cancel-timer').length, 1, 'the offer timer is cancelled');
    assert.equal(agentView(h.state, 'a')?.state, 'not-ready');
    assert.equal(agentView(h.state, 'a')?.reasonCode, 'lease-lapsed');
    assert.deepEqual(waitingCalls(h.state, 'q'), ['old', 'young']);
    assert.equal(callView(h.state, 'old')?.enqueueMs, 0);
    login(h, 'b', { vip: 1 });
    assert.deepEqual(offers(h.log.slice(-3)), ['old->b']);
  });

  test("the agent's phone failed while offered: the offer withdrawn, the call back at its old place, the agent not-ready with the phone's reason", () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'old', queueId: 'q' });
    h.advance(3000);
    h.send({ type: 'call-arrived', callId: 'young', queueId: 'q' });
    const failed = h.send({ type: 'agent-phone-failed', agentId: 'a', callId: 'old', reason: 'phone-busy' });
    assert.deepEqual(of(failed, 'withdraw-offer'), [
      { type: 'withdraw-offer', callId: 'old', agentId: 'a', reason: 'phone-failed' },
    ]);
    assert.deepEqual(of(failed, 'cancel-timer').length, 1, 'the offer timer is cancelled');
    assert.equal(agentView(h.state, 'a')?.state, 'not-ready');
    assert.equal(agentView(h.state, 'a')?.reasonCode, 'phone-busy');
    assert.deepEqual(waitingCalls(h.state, 'q'), ['old', 'young']);
    assert.equal(callView(h.state, 'old')?.enqueueMs, 0);
    login(h, 'b', { vip: 1 });
    assert.deepEqual(offers(h.log.slice(-3)), ['old->b']);
    // Too late once answered, or for a call not offered to it: refused, nothing changes.
    h.send({ type: 'agent-answered', agentId: 'b', callId: 'old' });
    const before = JSON.stringify([agentView(h.state, 'b'), callView(h.state, 'old')]);
    for (const [agentId, callId] of [
      ['b', 'old'],
      ['a', 'young'],
    ] as const)
      assert.throws(
        () => h.send({ type: 'agent-phone-failed', agentId, callId, reason: 'phone-no-answer' }),
        (e: unknown) => isDomainError(e, 'failed-precondition'),
      );
    assert.equal(JSON.stringify([agentView(h.state, 'b'), callView(h.state, 'old')]), before);
  });

  test('lease lapsed: ready goes not-ready now; on a call the reason waits for the call to end', () => {
    const h = harness();
    login(h, 'idle', { vip: 3 });
    assert.deepEqual(
      of(
        h.send({ type: 'agent-lease-lapsed', agentId: 'idle', reason: 'lease-lapsed' }),
        'agent-state-changed',
      ),
      [
        {
          type: 'agent-state-changed',
          agentId: 'idle',
          from: 'ready',
          to: 'not-ready',
          reason: 'lease-lapsed',
        },
      ],
    );
    login(h, 'busy', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q' });
    h.send({ type: 'agent-answered', agentId: 'busy', callId: 'c' });
    h.send({ type: 'agent-lease-lapsed', agentId: 'busy', reason: 'lease-lapsed' });
    assert.equal(agentView(h.state, 'busy')?.state, 'on-call');
    assert.equal(agentView(h.state, 'busy')?.pendingNotReady, 'lease-lapsed');
    h.send({ type: 'caller-hung-up', callId: 'c' });
    h.advance(5000); // wrap-up timer
    assert.equal(agentView(h.state, 'busy')?.reasonCode, 'lease-lapsed');
  });

  test('a forced logout carries its reason; a plain logout none', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    login(h, 'b', { vip: 3 });
    const forced = of(
      h.send({ type: 'agent-logout', agentId: 'a', reason: 'lease-expired' }),
      'agent-state-changed',
    );
    assert.deepEqual(forced, [
      { type: 'agent-state-changed', agentId: 'a', from: 'ready', to: 'logged-out', reason: 'lease-expired' },
    ]);
    const plain = of(h.send({ type: 'agent-logout', agentId: 'b' }), 'agent-state-changed');
    assert.deepEqual(plain, [{ type: 'agent-state-changed', agentId: 'b', from: 'ready', to: 'logged-out' }]);
  });

  test('illegal events are rejected with a typed error and change nothing', () => {
    const h = harness();
    login(h, 'a', { vip: 3 });
    login(h, 'b', { vip: 3 });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q' });
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    const before = JSON.stringify([
      agentView(h.state, 'a'),
      agentView(h.state, 'b'),
      callView(h.state, 'c'),
      h.state.nowMs,
    ]);
    const bad: [Parameters<typeof acdStep>[1], string, string][] = [
      [{ type: 'agent-answered', agentId: 'b', callId: 'c' }, 'failed-precondition', 'not offered'],
      [{ type: 'agent-ready', agentId: 'a' }, 'failed-precondition', 'on-call'],
      [{ type: 'agent-logout', agentId: 'a' }, 'failed-precondition', 'on-call -> logged-out'],
      [{ type: 'wrapup-done', agentId: 'b' }, 'failed-precondition', 'wrap-up'],
      [{ type: 'call-arrived', callId: 'c', queueId: 'q' }, 'failed-precondition', 'already'],
      [{ type: 'call-arrived', callId: 'd', queueId: 'nope' }, 'invalid-argument', 'queueId'],
      [{ type: 'call-arrived', callId: 'd', queueId: 'q', priority: 1.5 }, 'invalid-argument', 'priority'],
      [{ type: 'agent-login', agentId: 'z', skills: { vip: 7 } }, 'invalid-argument', 'skills.vip'],
      [{ type: 'transfer', callId: 'c', toQueueId: 'x' }, 'invalid-argument', 'toQueueId'],
      [{ type: 'agent-hung-up', agentId: 'b', callId: 'c' }, 'failed-precondition', 'not talking'],
      [{ type: 'caller-hung-up', callId: 'ghost' }, 'failed-precondition', 'ghost'],
      [{ type: 'agent-not-ready', agentId: 'b', reason: '' }, 'invalid-argument', 'reason'],
    ];
    for (const [ev, kind, text] of bad) {
      assert.throws(
        () => acdStep(h.state, ev, h.now + 5),
        (e: unknown) => isDomainError(e, kind as 'invalid-argument') && e.message.includes(text),
        JSON.stringify(ev),
      );
    }
    assert.throws(() => acdStep(h.state, { type: 'agent-ready', agentId: 'b' }, -1), /time cannot go back/);
    const after = JSON.stringify([
      agentView(h.state, 'a'),
      agentView(h.state, 'b'),
      callView(h.state, 'c'),
      h.state.nowMs,
    ]);
    assert.equal(after, before);
  });
});

describe('abandons and transfers', () => {
  test('caller abandons while queued and while ringing', () => {
    const h = harness();
    h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' });
    const ab = h.send({ type: 'caller-hung-up', callId: 'c1' });
    assert.deepEqual(of(ab, 'call-ended')[0]?.outcome, 'abandoned-queued');
    login(h, 'a', { vip: 2 });
    h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' });
    const ring = h.send({ type: 'caller-hung-up', callId: 'c2' });
    assert.deepEqual(
      ring.map((c) => c.type),
      ['cancel-timer', 'withdraw-offer', 'call-ended', 'agent-state-changed'],
    );
    assert.equal(of(ring, 'call-ended')[0]?.outcome, 'abandoned-ringing');
    assert.equal(agentView(h.state, 'a')?.state, 'ready');
  });

  test('caller leaves after the desk answered, the phone still ringing: abandoned, the answer taken back, no handle time', () => {
    const h = harness();
    login(h, 'a', { vip: 2 });
    const aht = queueStats(h.state, 'q', h.now).ahtMs;
    // One answer that stays, so taking back the other is seen to take back only that one.
    h.send({ type: 'call-arrived', callId: 'kept', queueId: 'q' });
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'kept' });
    h.send({ type: 'agent-hung-up', agentId: 'a', callId: 'kept' });
    h.send({ type: 'wrapup-done', agentId: 'a' });
    const ahtAfterKept = queueStats(h.state, 'q', h.now).ahtMs;
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q' });
    h.advance(2000);
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    assert.equal(queueStats(h.state, 'q', h.now).window.answered, 2);
    h.advance(3000);
    const left = h.send({ type: 'caller-hung-up', callId: 'c', unbridged: true });
    assert.deepEqual(of(left, 'call-ended'), [
      { type: 'call-ended', callId: 'c', queueId: 'q', outcome: 'abandoned-ringing', agentId: 'a' },
    ]);
    const w = queueStats(h.state, 'q', h.now).window;
    assert.deepEqual({ answered: w.answered, abandoned: w.abandoned }, { answered: 1, abandoned: 1 });
    assert.equal(agentView(h.state, 'a')?.state, 'wrap-up');
    h.send({ type: 'wrapup-done', agentId: 'a' });
    assert.equal(agentView(h.state, 'a')?.state, 'ready');
    assert.equal(
      queueStats(h.state, 'q', h.now).ahtMs,
      ahtAfterKept,
      'no handle time from a call nobody spoke on',
    );
    assert.notEqual(ahtAfterKept, aht);
    // Without the flag a connected caller's hang-up is a completed call, as before.
    h.send({ type: 'call-arrived', callId: 'd', queueId: 'q' });
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'd' });
    assert.equal(of(h.send({ type: 'caller-hung-up', callId: 'd' }), 'call-ended')[0]?.outcome, 'completed');
    h.send({ type: 'call-arrived', callId: 'e', queueId: 'q' });
    assert.throws(
      () => h.send({ type: 'caller-hung-up', callId: 'e', unbridged: 'yes' as unknown as boolean }),
      /unbridged/,
    );
    assert.equal(callView(h.state, 'e')?.state, 'queued');
  });

  test('transfer puts a connected call in another queue with its attached data', () => {
    const h = harness();
    login(h, 'a', { vip: 2 });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'q', priority: 5, attached: { intent: 'loan' } });
    h.send({ type: 'agent-answered', agentId: 'a', callId: 'c' });
    h.advance(1000);
    const t = h.send({ type: 'transfer', callId: 'c', toQueueId: 'retail' });
    assert.deepEqual(of(t, 'call-transferred'), [
      { type: 'call-transferred', callId: 'c', fromQueueId: 'q', toQueueId: 'retail', agentId: 'a' },
    ]);
    assert.equal(of(t, 'call-ended').length, 0);
    assert.deepEqual(callView(h.state, 'c'), {
      callId: 'c',
      queueId: 'retail',
      state: 'queued',
      priority: 5,
      attached: { intent: 'loan' },
      enqueueMs: 1000,
      arrivedMs: 0,
      seq: 2,
      level: 0,
      moves: 1,
      hops: 0,
      visitedSiteIds: [],
      belowOwn: false,
      callerLeft: false,
      virtual: false,
      callback: false,
      tries: 0,
    });
    assert.equal(agentView(h.state, 'a')?.state, 'wrap-up');
  });
});

describe('limits, fallbacks and hours', () => {
  test('queue full -> announcement; max wait -> callback offer', () => {
    const h = harness({ maxQueueLength: 1, maxWaitMs: '30s', onQueueFull: 'announcement:busy' });
    h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' });
    const full = h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' });
    assert.deepEqual(of(full, 'call-fallback'), [
      {
        type: 'call-fallback',
        callId: 'c2',
        queueId: 'q',
        reason: 'queue-full',
        action: { kind: 'announcement', announcement: 'busy' },
        priority: 0,
        enqueueMs: 0,
      },
    ]);
    assert.equal(of(full, 'call-ended')[0]?.outcome, 'fallback-announcement');
    const wait = h.advance(30_000);
    assert.deepEqual(of(wait, 'call-fallback')[0]?.action, { kind: 'callback-offer' });
    assert.equal(of(wait, 'call-ended')[0]?.outcome, 'fallback-callback-offer');
  });

  test('a callback-offer fallback says where the call was: its priority and the time it queued', () => {
    // The call is gone from the ACD once the step ends; the site books the callback from this.
    const h = harness({ maxWaitMs: '30s', onMaxWait: 'callback-offer' });
    h.advance(1_000);
    h.send({ type: 'call-arrived', callId: 'vip', queueId: 'q', priority: 10 });
    const taken = of(h.advance(30_000), 'call-fallback');
    assert.deepEqual(
      taken.map((c) => [c.callId, c.reason, c.priority, c.enqueueMs]),
      [['vip', 'max-wait', 10, 1_000]],
    );
  });

  test('maxQueueLength 0 still serves a call when an agent is free', () => {
    const h = harness({ maxQueueLength: 0 });
    login(h, 'a', { vip: 1 });
    assert.deepEqual(offers(h.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' })), ['c1->a']);
    assert.equal(
      of(h.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' }), 'call-fallback')[0]?.reason,
      'queue-full',
    );
  });

  test('overflow to another queue on max wait, then leave-message there', () => {
    const h = new AcdHarness({
      queues: [
        { id: 'vip', skill: 'vip', maxWaitMs: 20000, onMaxWait: 'overflow-queue:retail' },
        { id: 'retail', skill: 'retail', maxWaitMs: 60000, onMaxWait: { kind: 'leave-message' } },
      ],
    });
    h.send({ type: 'call-arrived', callId: 'c', queueId: 'vip', attached: { x: '1' } });
    const ov = h.advance(20_000);
    assert.deepEqual(of(ov, 'call-queued'), [{ type: 'call-queued', callId: 'c', queueId: 'retail' }]);
    assert.equal(of(ov, 'call-ended').length, 0);
    const lm = h.advance(60_000);
    assert.deepEqual(of(lm, 'call-ended'), [
      { type: 'call-ended', callId: 'c', queueId: 'retail', outcome: 'fallback-leave-message' },
    ]);
  });

  test('business hours per weekday, holidays, UTC offset', () => {
    const h = new AcdHarness(
      {
        calendars: {
          cn: {
            utcOffsetMinutes: 480,
            weekly: {
              mon: [
                { from: '08:00', to: '12:00' },
                { from: '13:00', to: '18:00' },
              ],
            },
            holidays: ['2026-11-30'],
          },
        },
        queues: [{ id: 'q', skill: 'vip', calendarId: 'cn', afterHours: 'leave-message' }],
      },
      Date.UTC(2026, 10, 23, 0, 30), // Monday 08:30 in UTC+8
    );
    const arrive = (id: string): AcdCommand[] => h.send({ type: 'call-arrived', callId: id, queueId: 'q' });
    assert.deepEqual(of(arrive('open'), 'call-queued').length, 1);
    h.advance(4 * 3600_000); // 12:30 lunch
    assert.equal(of(arrive('lunch'), 'call-fallback')[0]?.reason, 'after-hours');
    h.advance(3600_000); // 13:30
    assert.equal(of(arrive('pm'), 'call-queued').length, 1);
    h.advance(24 * 3600_000); // Tuesday: closed
    assert.equal(of(arrive('tue'), 'call-fallback')[0]?.action.kind, 'leave-message');
    h.advance(6 * 24 * 3600_000); // next Monday 13:30 is a holiday
    assert.equal(of(arrive('hol'), 'call-fallback')[0]?.reason, 'after-hours');
  });
});
