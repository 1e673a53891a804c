import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { isDomainError } from '../../shared/errors.js';
import {
  CALL_STATES,
  canTransition,
  checkCallTransition,
  isTerminal,
  TERMINAL_CALL_STATES,
} from './call-states.js';

describe('call state machine', () => {
  test('the happy path is legal', () => {
    const path = ['ivr', 'queued', 'offered', 'connected', 'wrapup', 'ended'] as const;
    for (let i = 1; i < path.length; i++)
      assert.ok(canTransition(path[i - 1]!, path[i]!), `${path[i - 1]} -> ${path[i]}`);
  });

  test("a queue's fallback (announcement, leave a message) ends a queued call", () => {
    assert.ok(canTransition('queued', 'ended'));
  });

  test('ring-no-answer returns an offered call to the queue', () => {
    assert.ok(canTransition('offered', 'queued'));
  });

  test('terminal states have no way out', () => {
    fc.assert(
      fc.property(fc.constantFrom(...TERMINAL_CALL_STATES), fc.constantFrom(...CALL_STATES), (from, to) => {
        assert.equal(canTransition(from, to), false);
      }),
    );
  });

  test('every live state can fail', () => {
    for (const s of CALL_STATES) if (!isTerminal(s)) assert.ok(canTransition(s, 'failed'));
  });

  test('illegal moves throw failed-precondition; unknown states invalid-argument', () => {
    assert.throws(
      () => checkCallTransition('c1', 'ivr', 'connected'),
      (e) => isDomainError(e, 'failed-precondition'),
    );
    assert.throws(
      () => checkCallTransition('c1', 'ended', 'queued'),
      (e) => isDomainError(e, 'failed-precondition'),
    );
    assert.throws(
      () => checkCallTransition('c1', 'ivr', 'flying'),
      (e) => isDomainError(e, 'invalid-argument'),
    );
  });
});
