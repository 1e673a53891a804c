/**
 * The routing's work per event must not grow with the centre's size faster than log2 of it
 * (issue 11's goal, counted in steps rather than time: docs/operations.md §8.5). The scaling
 * bench's seeded centre (scale-scenario.ts) at two sizes twenty times apart, every queue
 * keeping about the same traffic; the logins at the start are left out (a login's work grows
 * with the agent's skills, not with the centre).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { acdStep, type AcdStepResult } from './core.js';
import { scaleScenario } from './scale-scenario.js';
import { simulate } from './simulate.js';
import type { AcdEvent } from './types.js';
import type { AcdState } from './state.js';
import { routingWork } from './work-count.js';

function province(agents: number, hours: number): { perEvent: number; events: number } {
  let events = 0;
  let startSteps = 0;
  const step = (s: AcdState, e: AcdEvent, now: number): AcdStepResult => {
    if (e.type !== 'agent-login' && events++ === 0) startSteps = routingWork.steps;
    return acdStep(s, e, now);
  };
  simulate({
    ...scaleScenario({ agents, queues: agents / 20, skills: 5, hours, seed: 11, load: 0.88 }),
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
