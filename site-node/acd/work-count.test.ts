/**
 * The routing's work per event must not grow with the centre's size faster than log2 of it
 * (issue 11's goal, counted in steps rather than time: docs/operations.md §8.5). The same
 * seeded traffic shape as the scaling bench at two sizes twenty times apart, every queue
 * keeping about the same traffic; the logins at the start are left out (a login's work grows
 * with the agent's skills, not with the centre).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { acdStep } from './core.js';
import { exponential, lognormal, seededRng, simulate, uniform } from './simulate.js';
import type { AcdEvent } from './types.js';
import type { AcdState } from './state.js';
import { routingWork } from './work-count.js';

function province(agents: number, hours: number): { perEvent: number; events: number } {
  const queues = agents / 20;
  const rng = seededRng(7);
  const config = {
    offerTimeoutMs: '15s',
    wrapUpMs: '20s',
    queues: Array.from({ length: queues }, (_, i) => ({
      id: `q${i}`,
      skill: `s${i}`,
      strategy: i % 2 === 0 ? 'longest-idle' : 'best-proficiency',
      minProficiency: i % 3 === 0 ? 3 : 1,
      expansion:
        i % 3 === 0
          ? [
              { afterMs: '20s', minProficiency: 1 },
              { afterMs: '60s', alsoSkills: [`s${(i + 1) % queues}`] },
            ]
          : [],
      maxQueueLength: 40,
      maxWaitMs: '5m',
      onMaxWait: 'callback-offer',
    })),
  };
  const roster = Array.from({ length: agents }, (_, i) => {
    const skills: Record<string, number> = {};
    while (Object.keys(skills).length < 5)
      skills[`s${Math.floor(rng() * queues)}`] = 1 + Math.floor(rng() * 5);
    return { id: `agent-${i}`, skills };
  });
  const perHour = ((agents * 3600) / 195) * 0.88;
  let events = 0;
  let startSteps = 0;
  const step = (s: AcdState, e: AcdEvent, now: number) => {
    if (e.type !== 'agent-login' && events++ === 0) startSteps = routingWork.steps;
    return acdStep(s, e, now);
  };
  simulate({
    seed: 11,
    config,
    agents: roster,
    arrivals: Array.from({ length: queues }, (_, i) => ({ queueId: `q${i}`, perHour: perHour / queues })),
    durationMs: hours * 3_600_000,
    talkMs: lognormal(180_000, 120_000),
    answerDelayMs: uniform(1_000, 6_000),
    ringNoAnswer: 0.03,
    rnaRecoveryMs: exponential(30_000),
    patienceMs: lognormal(150_000, 120_000),
    breaks: { everyMs: exponential(2 * 3_600_000), lengthMs: exponential(600_000) },
    transfer: 0.05,
    wrapupDoneMs: exponential(12_000),
    step,
  });
  return { perEvent: (routingWork.steps - startSteps) / events, events };
}

test('routing work per event grows no faster than log2 of the centre size', () => {
  const small = province(200, 2);
  const large = province(4_000, 0.5);
  // Both past the first wave of calls: enough events that the ratio is the steady state's.
  assert.ok(small.events > 20_000 && large.events > 100_000, JSON.stringify({ small, large }));
  // Every event is at least its own step, and routing adds some.
  assert.ok(small.perEvent > 1 && large.perEvent > 1);
  const growth = large.perEvent / small.perEvent;
  const allowed = Math.log2(4_000) / Math.log2(200);
  assert.ok(
    growth <= allowed,
    `work per event grew ${growth.toFixed(2)}x, log2 allows ${allowed.toFixed(2)}x`,
  );
});
