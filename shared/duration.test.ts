import { test } from 'vitest';
import assert from 'node:assert/strict';
import { durationMs } from './duration.js';

test('a duration is milliseconds or a number with a unit, parsed to integer ms', () => {
  const cases: Array<[number | string, number]> = [
    [0, 0],
    [1500, 1500],
    [2.4, 2],
    ['500ms', 500],
    ['20s', 20_000],
    ['1.5s', 1500],
    ['15m', 900_000],
    ['1h', 3_600_000],
    ['7d', 604_800_000],
    [' 20 s ', 20_000],
  ];
  for (const [input, ms] of cases) assert.equal(durationMs.parse(input), ms, JSON.stringify(input));
});

test('anything else is refused with a message that says what a duration looks like', () => {
  for (const bad of ['20', '20 sec', '-5s', 's', '1w', '', '1e3s']) {
    const r = durationMs.safeParse(bad);
    assert.equal(r.success, false, JSON.stringify(bad));
    assert.match(r.error!.issues[0]!.message, /is not a duration \(use ms or e\.g\. '20s'/);
  }
  const negative = durationMs.safeParse(-1);
  assert.equal(negative.success, false);
  assert.equal(negative.error!.issues[0]!.message, 'duration must be a finite number >= 0');
  for (const bad of [Infinity, NaN, true, null])
    assert.equal(durationMs.safeParse(bad).success, false, String(bad));
});
