import { test } from 'vitest';
import assert from 'node:assert/strict';
import { newCallId, ulid } from './ids.js';

test('ulid encodes time first so ids sort by creation time', () => {
  const zero = () => new Uint8Array(10);
  assert.equal(ulid(0, zero), '0'.repeat(26));
  assert.equal(ulid(1469918176385, zero).slice(0, 10), '01ARYZ6S41'); // the spec's example time
  assert.ok(ulid(1000, zero) < ulid(1001, zero));
});

test('call ids carry the entry site and reject a malformed site id', () => {
  assert.match(newCallId('chongqing', Date.now()), /^chongqing-[0-9A-Z]{26}$/);
  assert.throws(() => newCallId('Bad Site', 0), /site id "Bad Site"/);
});
