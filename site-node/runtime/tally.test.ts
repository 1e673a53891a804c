import { test } from 'vitest';
import assert from 'node:assert/strict';
import { dayStartMs, emptyTally, recordAnswer, rollDay, summarise } from './tally.js';

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

test("the day starts at the site's local midnight, and the tally starts again then", () => {
  const utc8 = 8 * 3_600_000;
  const midnight = Date.UTC(2026, 11, 1, 16, 0); // 2 Dec 00:00 at UTC+8
  assert.equal(dayStartMs(midnight - 1, utc8), midnight - 86_400_000);
  assert.equal(dayStartMs(midnight, utc8), midnight);
  const t = emptyTally(midnight - 86_400_000);
  t.offered = 5;
  rollDay(t, midnight - 1, utc8);
  assert.equal(t.offered, 5);
  rollDay(t, midnight, utc8);
  assert.deepEqual(t, emptyTally(midnight));
});
