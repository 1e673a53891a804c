import { expect, test } from 'vitest';
import { PlayoutLag } from './playout-lag.js';

test('each stall adds to the totals; a warning at once, then at most one a period with what came since', () => {
  const lag = new PlayoutLag(10_000);
  expect(lag.note(0, 0)).toBeNull();
  expect(lag.total).toEqual({ stalls: 0, delayedMs: 0, longestStallMs: 0 });

  expect(lag.note(60, 1_000)).toEqual({
    sinceLast: { stalls: 1, delayedMs: 60, longestStallMs: 60 },
    total: { stalls: 1, delayedMs: 60, longestStallMs: 60 },
  });
  // Within the period: counted, not warned.
  expect(lag.note(400, 2_000)).toBeNull();
  expect(lag.note(100, 10_999)).toBeNull();
  expect(lag.total).toEqual({ stalls: 3, delayedMs: 560, longestStallMs: 400 });
  // The next warning carries the two held back and this one; the totals everything.
  expect(lag.note(20, 11_000)).toEqual({
    sinceLast: { stalls: 3, delayedMs: 520, longestStallMs: 400 },
    total: { stalls: 4, delayedMs: 580, longestStallMs: 400 },
  });
});
