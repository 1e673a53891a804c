/**
 * The day's callers, drawn once from the scenario's seed: when each call arrives, in which
 * queue, how long its agent will talk and how long the caller will wait before hanging up.
 * Both runs (federation off and on) replay this very list, so they differ only in what the
 * federation does. Pure and seeded (shared/random.ts): the same scenario gives the same calls.
 *
 * An hour's calls arrive at uniformly random instants inside the hour (the count is exact,
 * so the day's total is what the scenario says). Handle time is talk time: the ACD adds its
 * queue's wrap-up on top. Patience is exponential around its mean.
 */
import { mulberry32 } from '../../shared/random.js';
import { exponential, lognormal, constant, type Dist } from '../../site-node/acd/index.js';
import { HOUR_MS, type CallerSource, type CompiledScenario, type HandleTime } from './scenario.js';

export interface SimCall {
  callId: string;
  /** The city the caller dialled in. */
  cityId: string;
  /** The full site whose ACD the call enters first (its home site). */
  homeSiteId: string;
  queueId: string;
  priority: number;
  /** UTC ms. */
  arriveMs: number;
  talkMs: number;
  patienceMs: number;
}

/** A 32-bit hash of a string (FNV-1a), to give each city its own stream from the one seed. */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

function handleDist(h: HandleTime): Dist {
  switch (h.distribution) {
    case 'constant':
      return constant(h.meanMs);
    case 'exponential':
      return exponential(h.meanMs);
    case 'lognormal':
      return h.sdMs > 0 ? lognormal(h.meanMs, h.sdMs) : constant(h.meanMs);
  }
}

function callsOf(src: CallerSource, seed: number, dayStartMs: number): Omit<SimCall, 'callId'>[] {
  const rng = mulberry32((seed ^ hash(src.cityId)) >>> 0);
  const talk = handleDist(src.handleTime);
  const patience = exponential(src.patienceMeanMs);
  const out: Omit<SimCall, 'callId'>[] = [];
  for (const q of src.byQueue) {
    q.perHour.forEach((n, hour) => {
      for (let i = 0; i < n; i++) {
        out.push({
          cityId: src.cityId,
          homeSiteId: src.siteId,
          queueId: q.queueId,
          priority: q.priority,
          arriveMs: dayStartMs + Math.floor((hour + rng()) * HOUR_MS),
          talkMs: Math.max(1000, Math.round(talk(rng))),
          patienceMs: Math.max(1000, Math.round(patience(rng))),
        });
      }
    });
  }
  return out;
}

/** Every call of the day, in arrival order, with ids `<city>-<n>`. */
export function drawCalls(s: CompiledScenario): SimCall[] {
  const all = s.callers.flatMap((c) => callsOf(c, s.seed, s.dayStartMs));
  all.sort((a, b) => a.arriveMs - b.arriveMs || (a.cityId < b.cityId ? -1 : a.cityId > b.cityId ? 1 : 0));
  const n = new Map<string, number>();
  return all.map((c) => {
    const k = (n.get(c.cityId) ?? 0) + 1;
    n.set(c.cityId, k);
    return { ...c, callId: `${c.cityId}-${k}` };
  });
}
