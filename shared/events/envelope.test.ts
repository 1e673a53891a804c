import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import { makeEvent, parseEvent } from './envelope.js';

describe('event envelope', () => {
  test('makeEvent fills id and schema version; parseEvent accepts it back', () => {
    const e = makeEvent({
      type: 'call.ended',
      siteId: 'cq',
      aggregateId: 'cq-1',
      occurredAtMs: 1_700_000_000_000,
      payload: { a: 1 },
    });
    assert.match(e.id, /^evt_[0-9A-Z]{26}$/);
    assert.equal(e.schemaVersion, 1);
    assert.deepEqual(parseEvent(JSON.parse(JSON.stringify(e))), e);
  });

  test('ids sort by time', () => {
    const a = makeEvent({ type: 'x.y', siteId: 'cq', aggregateId: 'a', occurredAtMs: 1000, payload: {} });
    const b = makeEvent({ type: 'x.y', siteId: 'cq', aggregateId: 'a', occurredAtMs: 2000, payload: {} });
    assert.ok(a.id < b.id);
  });

  test('bad envelopes are refused naming the field', () => {
    assert.throws(
      () => makeEvent({ type: 'Ended', siteId: 'cq', aggregateId: 'a', occurredAtMs: 1, payload: {} }),
      (e) => isDomainError(e, 'invalid-argument') && /event\.type/.test(e.message),
    );
    assert.throws(
      () =>
        parseEvent({
          id: 'nope',
          type: 'a.b',
          siteId: 's',
          occurredAtMs: 1,
          aggregateId: 'x',
          schemaVersion: 1,
          payload: {},
        }),
      (e) => isDomainError(e, 'invalid-argument') && /event\.id/.test(e.message),
    );
  });
});
