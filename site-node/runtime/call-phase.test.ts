import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { canMovePhase, movePhase, type CallPhase } from './call-phase.js';

const ALL: CallPhase[] = ['ivr', 'queued', 'offered', 'connected', 'wrapup'];

test('exactly the documented moves are legal', () => {
  const legal = ALL.flatMap((f) => ALL.filter((t) => canMovePhase(f, t)).map((t) => `${f}>${t}`));
  assert.deepEqual(
    legal.sort(),
    [
      'ivr>queued',
      'queued>offered',
      'offered>queued',
      'offered>connected',
      'connected>queued',
      'connected>wrapup',
    ].sort(),
  );
});

test('a legal move sets the phase', () => {
  const call = { callId: 'c1', phase: 'offered' as CallPhase };
  movePhase(call, 'connected', 'connect');
  assert.equal(call.phase, 'connected');
});

test('every illegal move throws failed-precondition naming the call and both phases, and changes nothing', () => {
  for (const from of ALL) {
    for (const to of ALL.filter((t) => !canMovePhase(from, t))) {
      const call = { callId: 'c9', phase: from };
      assert.throws(
        () => movePhase(call, to, 'test'),
        (e: unknown) =>
          isDomainError(e, 'failed-precondition') &&
          e.message.includes('"c9"') &&
          e.message.includes(`${from} -> ${to}`),
      );
      assert.equal(call.phase, from);
    }
  }
});
