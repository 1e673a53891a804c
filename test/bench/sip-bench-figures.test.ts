import { expect, test } from 'vitest';
import { createLogger } from '../../shared/log.js';
import { PLAYOUT_LAG_AT_STOP } from '../../site-node/telephony/sip-voice.js';
import { machineCpuMs, playoutLagFromLog } from './sip-bench-figures.js';

test("the media engine's run total is read from the site's warning at stop, and nothing else", () => {
  const lines: string[] = [];
  const log = createLogger({ site: 'x' }, { write: (l) => lines.push(l) });
  log.warn(PLAYOUT_LAG_AT_STOP, { stalls: 3, delayedMs: 520, longestStallMs: 400 });
  log.warn('something else', { stalls: 9, delayedMs: 9, longestStallMs: 9 });
  expect(playoutLagFromLog(lines[0]!)).toEqual({ stalls: 3, delayedMs: 520, longestStallMs: 400 });
  expect(playoutLagFromLog(lines[1]!)).toBeUndefined();
  expect(playoutLagFromLog(`not json ${PLAYOUT_LAG_AT_STOP}`)).toBeUndefined();
});

test("the machine's CPU goes on, busy never past total", () => {
  const a = machineCpuMs();
  let x = 0;
  for (let i = 0; i < 5e6; i++) x += i;
  const b = machineCpuMs();
  expect(x).toBeGreaterThan(0);
  expect(b.totalMs).toBeGreaterThanOrEqual(a.totalMs);
  expect(b.busyMs).toBeGreaterThanOrEqual(a.busyMs);
  expect(b.busyMs).toBeLessThanOrEqual(b.totalMs);
});
