import { test } from 'vitest';
import assert from 'node:assert/strict';
import { emptyTally, recordAnswer, summarise } from './tally.js';

test('service level counts abandons and ending fallbacks against it; ASA averages answered waits', () => {
  const t = emptyTally();
  recordAnswer(t, 5_000, 20_000);
  recordAnswer(t, 30_000, 20_000);
  t.abandoned = 2;
  const s = summarise(t);
  assert.equal(s.serviceLevelPct, 25); // 1 within T of 4 settled
  assert.equal(s.asaSec, 17.5);
  assert.equal(s.abandonRatePct, 50);
  // A caller who left a message after the queue's max wait counts like the hub counts it.
  t.fallbacks = 1;
  assert.equal(summarise(t).serviceLevelPct, 20); // 1 of 5
  assert.equal(summarise(t).abandonRatePct, 40);
});

test('no settled calls means no service level rather than a made-up 100%', () => {
  assert.equal(summarise(emptyTally()).serviceLevelPct, null);
});
