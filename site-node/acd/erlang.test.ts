/**
 * The core against queueing theory: one queue, Poisson arrivals, exponential handle times,
 * no abandons, no wrap-up, answer at once. 10 agents at 80% load (160 calls/h, AHT 180 s):
 * Erlang C gives P(wait) 0.409, SL(20 s) 67.2%, ASA 36.8 s. 1,000 simulated hours (about
 * 160,000 calls after a 1 h warm-up) land within 2 points of SL and 10% of ASA; with the
 * shared mulberry32 generator seeds 1-6 all pass (seed 1: SL -0.7 points, ASA +0.1%; worst,
 * seed 6: SL -1.6 points, ASA +8.1%); seed 1 is the one run here.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { erlangC } from './erlang-c.js';
import { exponential, simulate } from './simulate.js';

test('Erlang C formula: M/M/1 and a textbook M/M/10 case', () => {
  const mm1 = erlangC(1, 10, 180_000, 0); // A = 0.5
  assert.ok(Math.abs(mm1.probWait - 0.5) < 1e-12);
  assert.ok(Math.abs(mm1.asaMs - 180_000) < 1e-6); // rho/(1-rho) * h
  const c = erlangC(10, 160, 180_000, 20_000);
  assert.ok(Math.abs(c.load - 8) < 1e-12);
  assert.ok(Math.abs(c.probWait - 0.4092) < 5e-4, String(c.probWait));
  assert.ok(Math.abs(c.serviceLevel - 0.6724) < 5e-4, String(c.serviceLevel));
  assert.equal(erlangC(2, 100, 180_000, 0).asaMs, Infinity);
});

test('simulated M/M/10 at 80% load matches Erlang C (SL within 2 points, ASA within 10%)', () => {
  const N = 10;
  const perHour = 160;
  const aht = 180_000;
  const T = 20_000;
  const theory = erlangC(N, perHour, aht, T);
  const sim = simulate({
    seed: 1,
    durationMs: 1000 * 3_600_000,
    warmupMs: 3_600_000,
    thresholdMs: T,
    config: { wrapUpMs: 0, offerTimeoutMs: '1h', queues: [{ id: 'q', skill: 'x' }] },
    agents: Array.from({ length: N }, (_, i) => ({ id: `a${i}`, skills: { x: 1 } })),
    arrivals: [{ queueId: 'q', perHour }],
    talkMs: exponential(aht),
  });
  assert.equal(sim.rejectedSteps, 0);
  assert.equal(sim.answered, sim.calls);
  assert.ok(sim.calls > 150_000, String(sim.calls));
  assert.ok(
    Math.abs(sim.serviceLevel - theory.serviceLevel) <= 0.02,
    `SL simulated ${sim.serviceLevel} vs Erlang C ${theory.serviceLevel}`,
  );
  assert.ok(
    Math.abs(sim.asaMs / theory.asaMs - 1) <= 0.1,
    `ASA simulated ${sim.asaMs} vs Erlang C ${theory.asaMs}`,
  );
  assert.ok(
    Math.abs(sim.probWait - theory.probWait) <= 0.02,
    `P(wait) ${sim.probWait} vs ${theory.probWait}`,
  );
});
