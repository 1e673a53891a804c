import { test } from 'vitest';
import assert from 'node:assert/strict';
import {
  EventHeap,
  exponential,
  lognormal,
  seededRng,
  simulate,
  uniform,
  type SimOptions,
} from './simulate.js';

const mean = (f: () => number, n = 200_000): number => {
  let s = 0;
  for (let i = 0; i < n; i++) s += f();
  return s / n;
};

test('seeded PRNG and distributions', () => {
  const a = seededRng(9);
  const b = seededRng(9);
  assert.deepEqual([a(), a(), a()], [b(), b(), b()]);
  assert.notEqual(seededRng(10)(), seededRng(9)());
  const r = seededRng(1);
  assert.ok(Math.abs(mean(() => r()) - 0.5) < 0.01);
  assert.ok(Math.abs(mean(() => exponential(100)(r)) / 100 - 1) < 0.02);
  assert.ok(Math.abs(mean(() => lognormal(180, 120)(r)) / 180 - 1) < 0.02);
});

test('event heap pops in time order, FIFO among equal times', () => {
  const h = new EventHeap();
  const r = seededRng(3);
  for (let i = 0; i < 1000; i++)
    h.push({ at: Math.floor(r() * 50), kind: 'acd', n: i, ev: undefined, id: '', gen: 0 });
  let prev: [number, number] = [-1, -1];
  for (let it = h.pop(); it; it = h.pop()) {
    assert.ok(it.at > prev[0] || (it.at === prev[0] && it.n > prev[1]));
    prev = [it.at, it.n];
  }
});

const mixed: SimOptions = {
  seed: 5,
  durationMs: 2 * 3_600_000,
  config: {
    offerTimeoutMs: '10s',
    wrapUpMs: '15s',
    queues: [
      {
        id: 'retail',
        skill: 'retail',
        maxQueueLength: 10,
        maxWaitMs: '3m',
        onMaxWait: 'overflow-queue:general',
      },
      {
        id: 'vip',
        skill: 'vip',
        strategy: 'best-proficiency',
        expansion: [{ afterMs: '30s', alsoSkills: ['retail'] }],
      },
      { id: 'general', skill: 'retail', maxWaitMs: '5m', onMaxWait: 'callback-offer' },
    ],
  },
  agents: Array.from({ length: 12 }, (_, i) => ({
    id: `a${i}`,
    skills: (i % 3 === 0 ? { vip: 5, retail: 2 } : { retail: 1 + (i % 5) }) as Record<string, number>,
  })),
  arrivals: [
    { queueId: 'retail', perHour: 200 },
    { queueId: 'vip', perHour: 40, priority: (r) => (r() < 0.5 ? 10 : 0) },
  ],
  talkMs: lognormal(180_000, 100_000),
  answerDelayMs: uniform(500, 4000),
  ringNoAnswer: 0.05,
  patienceMs: lognormal(120_000, 60_000),
  breaks: { everyMs: exponential(3_600_000), lengthMs: exponential(300_000) },
  transfer: 0.05,
  wrapupDoneMs: exponential(10_000),
};

test('a mixed run is deterministic and every call reaches one outcome', () => {
  const one = simulate(mixed);
  const two = simulate(mixed);
  assert.deepEqual(one, two);
  const ended = Object.values(one.outcomes).reduce((a, b) => a + b, 0);
  assert.equal(ended, one.calls);
  assert.ok(one.calls > 400);
  assert.ok((one.outcomes['abandoned-queued'] ?? 0) > 0);
  assert.ok(one.transfers > 0);
  assert.notDeepEqual(simulate({ ...mixed, seed: 6 }), one);
});
