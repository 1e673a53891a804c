import { test } from 'vitest';
import assert from 'node:assert/strict';
import { emptyNonceCounts, recordNonceCount, type NonceCounts } from './digest-nonce-counts.js';

const LIMITS = { capacity: 3, lifetimeMs: 60_000 };

function record(
  counts: NonceCounts,
  nonce: string,
  issuedMs: number,
  nc: number,
  nowMs: number,
): NonceCounts {
  const r = recordNonceCount(counts, nonce, issuedMs, nc, nowMs, LIMITS);
  assert.equal(r.kind, 'accepted', `${nonce} nc ${nc}`);
  return r.kind === 'accepted' ? r.counts : counts;
}

test('nonces past their lifetime leave the memory without raising the forgotten mark', () => {
  let c = record(emptyNonceCounts(), 'old', 0, 1, 0);
  c = record(c, 'new', 50_000, 1, 60_001);
  assert.deepEqual([...c.entries.keys()], ['new']);
  assert.equal(c.forgottenUpToMs, -Infinity);
});

test('a full memory forgets the earliest issued, not the earliest used, and counts on per nonce', () => {
  let c = emptyNonceCounts();
  c = record(c, 'b', 2000, 1, 5000);
  c = record(c, 'a', 1000, 1, 5000);
  c = record(c, 'c', 3000, 7, 5000);
  c = record(c, 'd', 4000, 1, 5000);
  assert.deepEqual([...c.entries.keys()].sort(), ['b', 'c', 'd']);
  assert.equal(c.forgottenUpToMs, 1000);
  assert.deepEqual(recordNonceCount(c, 'a', 1000, 2, 5000, LIMITS), { kind: 'forgotten' });
  assert.deepEqual(recordNonceCount(c, 'c', 3000, 7, 5000, LIMITS), { kind: 'replayed', highestNc: 7 });
  // A nonce issued after the mark and never seen is new, not forgotten.
  record(c, 'e', 1001, 1, 5000);
  // The input memory is a value: recording never changed it.
  assert.equal(c.entries.size, 3);
});
