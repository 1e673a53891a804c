import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { assertAgentTransition, canTransition } from './agent-state.js';
import type { AgentStateName } from './types.js';

const ALL: AgentStateName[] = ['logged-out', 'ready', 'not-ready', 'reserved', 'on-call', 'wrap-up'];

test('exactly the documented moves are legal', () => {
  const legal = ALL.flatMap((f) => ALL.filter((t) => canTransition(f, t)).map((t) => `${f}>${t}`));
  assert.deepEqual(
    legal.sort(),
    [
      'logged-out>ready',
      'logged-out>not-ready',
      'ready>not-ready',
      'ready>reserved',
      'ready>logged-out',
      'not-ready>ready',
      'not-ready>not-ready',
      'not-ready>logged-out',
      'reserved>ready',
      'reserved>not-ready',
      'reserved>on-call',
      'on-call>wrap-up',
      'wrap-up>ready',
      'wrap-up>not-ready',
    ].sort(),
  );
});

test('an illegal move throws failed-precondition naming agent and states', () => {
  assert.throws(
    () => assertAgentTransition('a7', 'on-call', 'ready', 'become ready'),
    (e: unknown) => isDomainError(e, 'failed-precondition') && /a7.*on-call -> ready/.test(e.message),
  );
});
