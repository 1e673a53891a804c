import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { rebuildSinceMs, rebuildStats, type RebuildOptions, type StoredEvent } from './stats-rebuild.js';
import { dayStartMs } from './tally.js';

const MIN = 60_000;
const DAY0 = Date.UTC(2026, 11, 1, 0, 0) - 8 * 60 * MIN; // local midnight at UTC+8
const at = (localHhMm: string): number => {
  const [h, m] = localHhMm.split(':').map(Number);
  return DAY0 + (h! * 60 + m!) * MIN;
};

function options(nowMs: number): RebuildOptions {
  return {
    nowMs,
    dayStartMs: dayStartMs(nowMs, 8 * 60 * MIN),
    windowMs: 15 * MIN,
    thresholdMs: 20_000,
    handleTime: { initialMs: 180_000, alpha: 0.5 },
    queueIds: ['retail', 'vip'],
  };
}

const ev = (type: string, id: string, atMs: number, payload: Record<string, unknown>): StoredEvent => ({
  type,
  aggregateId: id,
  occurredAtMs: atMs,
  payload,
});
const created = (id: string, t: number, state = 'ivr') => ev('call.created', id, t, { state });
const queued = (id: string, t: number, queueId: string, from = 'ivr') =>
  ev('call.state-changed', id, t, { from, to: 'queued', queueId });
const answered = (id: string, t: number, queueId: string, agentId: string, waitMs: number) =>
  ev('call.state-changed', id, t, {
    from: 'offered',
    to: 'connected',
    queueId,
    agentId,
    detail: { agentId, waitMs },
  });
const ended = (
  id: string,
  t: number,
  to: string,
  reason: string,
  cdr: Record<string, unknown> = {},
  detail?: object,
) => ev('call.ended', id, t, { to, reason, cdr, ...(detail ? { detail } : {}) });

describe('rebuildStats', () => {
  test('counts the day from the events each live counter was fed by', () => {
    const t0 = at('10:00');
    const events = [
      ev('call.refused', 'r1', t0, { reason: 'no-trunk' }),
      created('c1', t0),
      ended('c1', t0 + 30_000, 'ended', 'ivr:completed'),
      created('c2', t0),
      ended('c2', t0 + 1_000, 'failed', 'no-ivr-port'),
      created('c3', t0),
      queued('c3', t0 + 10_000, 'retail'),
      answered('c3', t0 + 25_000, 'retail', 'a1', 15_000),
      created('c4', t0),
      queued('c4', t0 + 10_000, 'retail'),
      ended('c4', t0 + 13_000, 'abandoned', 'abandoned-queued', { queueId: 'retail' }),
      created('c5', t0),
      queued('c5', t0 + 10_000, 'retail'),
      ended(
        'c5',
        t0 + 70_000,
        'callback-scheduled',
        'fallback:callback',
        { queueId: 'retail' },
        { fallbackReason: 'max-wait' },
      ),
      ev('ticket.opened', 't1', t0 + 70_000, { kind: 'callback-request' }),
      ev('callback.scheduled', 't1', t0 + 70_000, {}),
      ev('ticket.opened', 't2', t0 + 5_000, { kind: 'card-loss' }),
      ev('card-loss.reported', 't2', t0 + 5_000, {}),
      // A callback the site placed that nobody answered: not queued after all.
      created('c6', t0 + 80_000, 'queued'),
      ended('c6', t0 + 80_000, 'failed', 'callback-no-answer', { queueId: 'retail' }),
    ];
    const { tally, windows } = rebuildStats(events, options(at('10:05')));
    assert.deepEqual(
      { ...tally },
      {
        dayStartMs: at('00:00'),
        offered: 6,
        blockedNoTrunk: 1,
        blockedNoIvrPort: 1,
        selfService: 1,
        queued: 3,
        answered: 1,
        answeredWithinT: 1,
        abandoned: 1,
        fallbacks: 1,
        ticketsOpened: 2,
        cardLossReports: 1,
        callbacksScheduled: 1,
        totalWaitAnsweredMs: 15_000,
      },
    );
    assert.deepEqual(windows.get('retail'), [
      { atMs: t0 + 13_000, kind: 'abandoned', waitMs: 3_000 },
      { atMs: t0 + 25_000, kind: 'answered', waitMs: 15_000 },
      { atMs: t0 + 70_000, kind: 'timed-out', waitMs: 60_000 },
    ]);
    assert.deepEqual(windows.get('vip'), []);
  });

  test('a refusal on entry and an overflow are told apart by the reason the ACD gave', () => {
    const t0 = at('11:00');
    const events = [
      created('c1', t0),
      queued('c1', t0, 'retail'),
      ended(
        'c1',
        t0,
        'callback-scheduled',
        'fallback:callback',
        { queueId: 'retail' },
        { fallbackReason: 'queue-full' },
      ),
      created('c2', t0),
      queued('c2', t0, 'vip'),
      ev('call.data-changed', 'c2', t0 + 30_000, {
        queueId: 'retail',
        attached: { overflowFrom: 'vip', overflowReason: 'max-wait' },
      }),
      // Abandoned 2 s after it entered retail: a short abandon there, whatever its wait in vip.
      ended('c2', t0 + 32_000, 'abandoned', 'abandoned-queued', { queueId: 'retail', waitMs: 32_000 }),
    ];
    const { windows, tally } = rebuildStats(events, options(at('11:01')));
    assert.deepEqual(windows.get('retail'), [
      { atMs: t0, kind: 'rejected', waitMs: 0 },
      { atMs: t0 + 32_000, kind: 'abandoned', waitMs: 2_000 },
    ]);
    assert.deepEqual(windows.get('vip'), [{ atMs: t0 + 30_000, kind: 'timed-out', waitMs: 0 }]);
    assert.equal(tally.fallbacks, 1); // an overflow is not an end
  });

  test('the tally starts at local midnight, the window reaches back over it', () => {
    const before = at('23:55');
    const after = DAY0 + 24 * 60 * MIN + 5 * MIN; // 00:05 the next day
    const events = [
      created('c1', before - 20 * MIN),
      queued('c1', before - 20 * MIN, 'retail'),
      answered('c1', before - 20 * MIN, 'retail', 'a1', 1_000), // outside the window
      created('c2', before),
      queued('c2', before, 'retail'),
      answered('c2', before, 'retail', 'a1', 2_000),
      created('c3', after),
    ];
    const o = options(after + MIN);
    assert.equal(o.dayStartMs, DAY0 + 24 * 60 * MIN);
    assert.equal(rebuildSinceMs(o), before - 4 * MIN); // 23:51, the window's start
    const { tally, windows } = rebuildStats(events, o);
    assert.equal(tally.offered, 1);
    assert.equal(tally.answered, 0);
    assert.deepEqual(windows.get('retail'), [{ atMs: before, kind: 'answered', waitMs: 2_000 }]);
  });

  test('an unanswered callback across midnight takes back only what it added', () => {
    const midnight = DAY0 + 24 * 60 * MIN;
    // Written as queued just before midnight, ended unanswered just after (live counts neither).
    const events = [
      created('cb', midnight - 10, 'queued'),
      ended('cb', midnight + 10, 'failed', 'callback-no-answer', { queueId: 'retail' }),
    ];
    const { tally } = rebuildStats(events, options(midnight + MIN));
    assert.equal(tally.queued, 0);
  });

  test('a callback keeping a place: the caller who asked is neither abandoned nor a fallback; the callback counts once, answered with its whole wait', () => {
    const t0 = at('11:00');
    const events = [
      created('c1', t0),
      queued('c1', t0 + 5_000, 'retail'),
      // The caller pressed the callback key after 60 s in the queue (runtime/callback-flow.ts).
      ended('c1', t0 + 65_000, 'callback-scheduled', 'callback-requested', { queueId: 'retail' }),
      ev('ticket.opened', 't1', t0 + 65_000, {}),
      ev('callback.scheduled', 't1', t0 + 65_000, {}),
      // Its virtual call: a record of its own, one unanswered dial, then an answered one.
      created('v1', t0 + 65_000, 'queued'),
      queued('v1', t0 + 200_000, 'retail', 'offered'),
      answered('v1', t0 + 500_000, 'retail', 'a1', 495_000),
    ];
    const { tally, windows } = rebuildStats(events, options(t0 + 600_000));
    assert.deepEqual(
      [
        tally.offered,
        tally.queued,
        tally.abandoned,
        tally.fallbacks,
        tally.answered,
        tally.callbacksScheduled,
      ],
      [1, 2, 0, 0, 1, 1],
    );
    assert.deepEqual(windows.get('retail'), [{ atMs: t0 + 500_000, kind: 'answered', waitMs: 495_000 }]);
  });

  test('AHT replays the moving average over answer -> end of wrap-up', () => {
    const t0 = at('09:00');
    const events = [
      answered('c1', t0, 'retail', 'a1', 0),
      ev('agent.state-changed', 'a1', t0 + 100_000, { from: 'on-call', to: 'wrap-up' }),
      ev('agent.state-changed', 'a1', t0 + 120_000, { from: 'wrap-up', to: 'ready' }),
      // An agent seen only in wrap-up (answered before the events read) adds nothing.
      ev('agent.state-changed', 'a2', t0 + 130_000, { from: 'wrap-up', to: 'ready' }),
      // Nor one logged out in wrap-up as its site stopped: the ACD never ended that wrap-up.
      answered('c3', t0 + 140_000, 'retail', 'a3', 0),
      ev('agent.state-changed', 'a3', t0 + 280_000, { from: 'wrap-up', to: 'logged-out' }),
    ];
    const { ahtMs } = rebuildStats(events, options(at('09:05')));
    assert.equal(ahtMs.get('retail'), 180_000 + 0.5 * (120_000 - 180_000));
    assert.equal(ahtMs.get('vip'), 180_000);
  });

  test("an agent's next answer stored before its wrap-up's end of the same millisecond: each handle time pairs with its own answer", () => {
    // The writes of a call and of an agent commit side by side (durable-writes.ts), so events of
    // one millisecond can be read in either order; the ACD ended the wrap-up first.
    const t0 = at('09:00');
    const events = [
      answered('c1', t0, 'retail', 'a1', 0),
      ev('agent.state-changed', 'a1', t0 + 100_000, { from: 'on-call', to: 'wrap-up' }),
      answered('c2', t0 + 120_000, 'retail', 'a1', 0),
      ev('agent.state-changed', 'a1', t0 + 120_000, { from: 'wrap-up', to: 'ready' }),
    ];
    const { ahtMs } = rebuildStats(events, options(at('09:05')));
    assert.equal(ahtMs.get('retail'), 180_000 + 0.5 * (120_000 - 180_000));
  });

  test('an answer and its end of wrap-up in one millisecond, read the other way round: a handle time of 0', () => {
    // A stopping site's simulated agents answer, hang up and wrap up at once; the agent's write
    // of the wrap-up's end can be read before the call's of the answer. Pairing the end with
    // no answer lost the sample the live average took (a CI run's AHT 10% apart).
    const t0 = at('09:00');
    const events = [
      answered('c1', t0, 'retail', 'a1', 0),
      ev('agent.state-changed', 'a1', t0 + 100_000, { from: 'wrap-up', to: 'ready' }),
      ev('agent.state-changed', 'a1', t0 + 200_000, { from: 'wrap-up', to: 'ready' }),
      answered('c2', t0 + 200_000, 'retail', 'a1', 0),
    ];
    const { ahtMs } = rebuildStats(events, options(at('09:05')));
    const afterC1 = 180_000 + 0.5 * (100_000 - 180_000);
    assert.equal(ahtMs.get('retail'), afterC1 + 0.5 * (0 - afterC1));
  });

  test("two agents' ends of wrap-up of one millisecond stored the other way round: averaged in the ACD's order", () => {
    // Agents' writes commit side by side, so the outbox may hold the ACD's second change first;
    // the moving average of handle times depends on the order (a CI run's rebuilt AHT differed).
    const t0 = at('09:00');
    const events = [
      answered('c1', t0, 'retail', 'a1', 0),
      answered('c2', t0 + 10_000, 'retail', 'a2', 0),
      ev('agent.state-changed', 'a2', t0 + 100_000, { from: 'wrap-up', to: 'ready', order: 8 }),
      ev('agent.state-changed', 'a1', t0 + 100_000, { from: 'wrap-up', to: 'ready', order: 7 }),
    ];
    const { ahtMs } = rebuildStats(events, options(at('09:05')));
    const afterA1 = 180_000 + 0.5 * (100_000 - 180_000);
    assert.equal(ahtMs.get('retail'), afterA1 + 0.5 * (90_000 - afterA1));
  });

  test('a call moved to another site: the origin counts it queued and nothing more; the target counts its full wait', () => {
    const t0 = at('10:00');
    const overflowIn = { originSiteId: 'wz', originCallId: 'wz-1', token: 'tok', waitedMs: 40_000 };
    const events = [
      // The origin: queued 40 s, then moved (not an abandon, not a fallback, no window record).
      created('o1', t0),
      queued('o1', t0 + 10_000, 'retail'),
      ended('o1', t0 + 50_000, 'overflowed', 'overflowed', { queueId: 'retail', outcome: 'overflowed' }),
      // The target: two moved-in callers, one abandons 5 s after arriving, one is answered.
      ev('call.created', 'm1', t0 + 60_000, { state: 'queued', queueId: 'retail', overflowIn }),
      ended('m1', t0 + 65_000, 'abandoned', 'abandoned-queued', { queueId: 'retail' }),
      ev('call.created', 'm2', t0 + 60_000, { state: 'queued', queueId: 'vip', overflowIn }),
      // The ACD ranks it from its original time, so its answer's wait is already the full one.
      answered('m2', t0 + 70_000, 'vip', 'a1', 50_000),
    ];
    const r = rebuildStats(events, options(t0 + 5 * MIN));
    assert.deepEqual(
      [r.tally.offered, r.tally.queued, r.tally.abandoned, r.tally.answered, r.tally.fallbacks],
      [1, 1, 1, 1, 0],
      'one inbound call queued here; a moved-in call was counted queued where it came in',
    );
    assert.equal(r.tally.totalWaitAnsweredMs, 50_000);
    assert.deepEqual(r.windows.get('retail'), [{ atMs: t0 + 65_000, kind: 'abandoned', waitMs: 45_000 }]);
    assert.deepEqual(r.windows.get('vip'), [{ atMs: t0 + 70_000, kind: 'answered', waitMs: 50_000 }]);

    // Unanswered past midnight, a moved-in call does not take back a `queued` it never added
    // (only a callback's record does, when it ends callback-no-answer).
    const r2 = rebuildStats(
      [...events, ev('call.created', 'm3', t0 + 90_000, { state: 'queued', queueId: 'retail', overflowIn })],
      options(t0 + 5 * MIN),
    );
    assert.equal(r2.tally.queued, 1);
  });
});
