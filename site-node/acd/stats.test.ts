import { test } from 'vitest';
import assert from 'node:assert/strict';
import { AcdHarness } from './harness.js';
import { expectedWaitMs, queueStats, restoreQueueStats } from './stats.js';

test('service level (three definitions), ASA, abandon rate over a sliding window', () => {
  const h = new AcdHarness({ wrapUpMs: 0, offerTimeoutMs: '60s', queues: [{ id: 'q', skill: 'vip' }] });
  for (const id of ['c1', 'c2', 'c3', 'c4']) h.send({ type: 'call-arrived', callId: id, queueId: 'q' });
  h.advance(3000);
  h.send({ type: 'caller-hung-up', callId: 'c4' }); // short abandon
  h.advance(7000);
  h.send({ type: 'agent-login', agentId: 'a', skills: { vip: 3 }, ready: true });
  h.send({ type: 'agent-answered', agentId: 'a', callId: 'c1' }); // wait 10 s
  h.send({ type: 'agent-hung-up', agentId: 'a', callId: 'c1' });
  h.advance(20_000);
  h.send({ type: 'agent-answered', agentId: 'a', callId: 'c2' }); // wait 30 s
  h.send({ type: 'agent-hung-up', agentId: 'a', callId: 'c2' });
  h.advance(10_000);
  h.send({ type: 'caller-hung-up', callId: 'c3' }); // abandoned while ringing, 40 s

  const s = queueStats(h.state, 'q', h.now);
  assert.deepEqual(s.window, {
    windowMs: 900_000,
    thresholdMs: 20_000,
    shortAbandonMs: 5_000,
    offered: 4,
    answered: 2,
    answeredWithinT: 1,
    abandoned: 2,
    shortAbandoned: 1,
    timedOut: 0,
    rejected: 0,
  });
  assert.deepEqual(s.serviceLevels, {
    abandonsIgnored: 1 / 2,
    abandonsPenalise: 1 / 4,
    shortAbandonsExcluded: 1 / 3,
  });
  assert.equal(s.serviceLevelDefinition, 'abandons-penalise');
  assert.equal(s.serviceLevel, 1 / 4);
  assert.equal(s.asaMs, 20_000);
  assert.equal(s.abandonRate, 2 / 4);
  assert.equal(s.agentsReady, 1);
  assert.equal(s.waiting, 0);

  // 15 minutes after the first answer, c4's abandon and c1's answer have left the window.
  const later = queueStats(h.state, 'q', 10_000 + 900_000);
  assert.deepEqual([later.window.answered, later.window.answeredWithinT, later.window.abandoned], [1, 0, 1]);
  const empty = queueStats(h.state, 'q', 10_000_000);
  assert.equal(empty.serviceLevel, null);
  assert.equal(empty.asaMs, null);
});

test('waiting, oldest wait, staffing and EWT', () => {
  const h = new AcdHarness({
    wrapUpMs: 0,
    handleTime: { initialMs: 120_000 },
    serviceLevel: { definition: 'abandons-ignored' },
    queues: [{ id: 'q', skill: 'vip' }],
  });
  h.send({ type: 'agent-login', agentId: 'a', skills: { vip: 3 }, ready: true });
  h.send({ type: 'agent-login', agentId: 'b', skills: { vip: 1 } });
  assert.equal(expectedWaitMs(h.state, 'q', 0, h.now), 0);
  h.send({ type: 'call-arrived', callId: 'busy', queueId: 'q' });
  h.send({ type: 'call-arrived', callId: 'w1', queueId: 'q' });
  h.advance(5000);
  h.send({ type: 'call-arrived', callId: 'w2', queueId: 'q', priority: 9 });
  const s = queueStats(h.state, 'q', h.now + 1000);
  assert.equal(s.waiting, 2);
  assert.equal(s.oldestWaitMs, 6000);
  assert.deepEqual([s.agentsStaffed, s.agentsReady, s.agentsBusy, s.agentsNotReady], [2, 0, 1, 1]);
  // 2 ahead of a priority-0 call, 1 serving agent: (2 + 1) * 120 s / 1
  assert.equal(s.ewtMs, 360_000);
  assert.equal(expectedWaitMs(h.state, 'q', 9, h.now), 240_000);
  assert.equal(s.serviceLevelDefinition, 'abandons-ignored');
  h.send({ type: 'agent-logout', agentId: 'b' });
  h.send({ type: 'agent-not-ready', agentId: 'a', reason: 'x' }); // pending; a still serving
  assert.equal(queueStats(h.state, 'q', h.now).agentsStaffed, 1);
});

test('a window restored from records counts as the live one did; records already out of it are dropped', () => {
  const live = new AcdHarness({ wrapUpMs: 0, offerTimeoutMs: '60s', queues: [{ id: 'q', skill: 'vip' }] });
  live.send({ type: 'call-arrived', callId: 'c1', queueId: 'q' });
  live.send({ type: 'call-arrived', callId: 'c2', queueId: 'q' });
  live.advance(3000);
  live.send({ type: 'caller-hung-up', callId: 'c2' });
  live.advance(27_000);
  live.send({ type: 'agent-login', agentId: 'a', skills: { vip: 3 }, ready: true });
  live.send({ type: 'agent-answered', agentId: 'a', callId: 'c1' });

  const restored = new AcdHarness({
    wrapUpMs: 0,
    offerTimeoutMs: '60s',
    queues: [{ id: 'q', skill: 'vip' }],
  });
  const t0 = restored.now;
  restored.advance(30_000);
  restoreQueueStats(
    restored.state,
    'q',
    [
      { atMs: t0 - 900_000, kind: 'answered', waitMs: 1_000 }, // a quarter of an hour before: out
      { atMs: t0 + 3_000, kind: 'abandoned', waitMs: 3_000 },
      { atMs: t0 + 30_000, kind: 'answered', waitMs: 30_000 },
    ],
    123_000,
    restored.now,
  );
  const a = queueStats(live.state, 'q', live.now);
  const b = queueStats(restored.state, 'q', restored.now);
  assert.deepEqual(b.window, a.window);
  assert.equal(b.serviceLevel, a.serviceLevel);
  assert.equal(b.asaMs, a.asaMs);
  assert.equal(b.ahtMs, 123_000);
});
