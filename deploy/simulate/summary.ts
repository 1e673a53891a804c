/**
 * The JSON summary `npm run simulate` prints: per site and for the province, federation off
 * and on, the figures of tally.ts (each call once, at the site where it ended, with its full
 * wait); the routing counts of the "on" run; and, apart in `timing`, the virtual and wall
 * times (everything outside `timing` is the same for the same scenario and seed).
 */
import type { RunResult, RoutingCounts } from './province-run.js';
import type { CompiledScenario } from './scenario.js';
import { figures, sumCounts, type Counts, type Figures } from './tally.js';

export interface RunSummary {
  province: Figures;
  sites: Record<string, Figures>;
  /** Service level by hour of arrival (0..23) per site; null where no call was offered. */
  serviceLevelByHour: Record<string, Array<number | null>>;
  routing: RoutingCounts;
}

export interface Timing {
  virtualMs: number;
  wallMs: number;
  /** Virtual time over wall time, both runs together. */
  speedUp: number;
}

export interface Summary {
  day: string;
  seed: number;
  calls: number;
  serviceLevelThresholdMs: number;
  off: RunSummary;
  on: RunSummary;
  timing: { off: Timing; on: Timing; total: Timing };
}

export function runSummary(r: RunResult): RunSummary {
  const sites: Record<string, Figures> = {};
  const byHour: Record<string, Array<number | null>> = {};
  const totals: Counts[] = [];
  let movedOut = 0;
  let movedIn = 0;
  for (const [id, t] of r.tally.sites) {
    sites[id] = figures(t.total, t.movedOut, t.movedIn);
    byHour[id] = t.byHour.map((c) => figures(c).serviceLevel);
    totals.push(t.total);
    movedOut += t.movedOut;
    movedIn += t.movedIn;
  }
  return {
    province: figures(sumCounts(totals), movedOut, movedIn),
    sites,
    serviceLevelByHour: byHour,
    routing: r.routing,
  };
}

export function timing(virtualMs: number, wallMs: number): Timing {
  return { virtualMs, wallMs: Math.round(wallMs), speedUp: Math.round(virtualMs / Math.max(wallMs, 1)) };
}

export function summarise(
  s: CompiledScenario,
  off: RunResult,
  on: RunResult,
  wall: { offMs: number; onMs: number },
): Summary {
  return {
    day: s.day,
    seed: s.seed,
    calls: s.totalCalls,
    serviceLevelThresholdMs: s.thresholdMs,
    off: runSummary(off),
    on: runSummary(on),
    timing: {
      off: timing(off.virtualMs, wall.offMs),
      on: timing(on.virtualMs, wall.onMs),
      total: timing(off.virtualMs + on.virtualMs, wall.offMs + wall.onMs),
    },
  };
}
