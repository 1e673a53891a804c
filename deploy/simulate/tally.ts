/**
 * How a run counts its calls, the way the province statistics must (docs/architecture.md
 * §5.9, "Records"): each call once, at the site where it ended (answered, abandoned or
 * turned away), with its full wait from when it first arrived, whatever site it was moved
 * from; by the hour it arrived, so an hour's service level is that hour's callers'. Moves are
 * counted apart (moved out of the origin, into the target); a call moved is not offered at its
 * origin. Service level and abandon rate are shared/stats/service-level.ts's, under the
 * province's rule (PROVINCE_SERVICE_LEVEL_RULE).
 */
import {
  PROVINCE_SERVICE_LEVEL_RULE,
  measureServiceLevel,
  type QueueOutcomeCounts,
} from '../../shared/stats/service-level.js';
import type { CallOutcome } from '../../site-node/acd/index.js';

export interface Counts {
  answeredWithinT: number;
  answeredAfterT: number;
  abandoned: number;
  /** Ended by a fallback (max wait, queue full, after hours): neither answered nor abandoned. */
  other: number;
  answeredWaitMs: number;
}

const zero = (): Counts => ({
  answeredWithinT: 0,
  answeredAfterT: 0,
  abandoned: 0,
  other: 0,
  answeredWaitMs: 0,
});

export interface SiteTally {
  total: Counts;
  byHour: Counts[];
  movedOut: number;
  movedIn: number;
}

export interface Figures {
  offered: number;
  answered: number;
  abandoned: number;
  /** Offered calls that were neither answered nor abandoned (a fallback ended them). */
  other: number;
  serviceLevel: number | null;
  averageSpeedOfAnswerMs: number | null;
  abandonRate: number | null;
  movedOut: number;
  movedIn: number;
}

export class Tally {
  readonly sites = new Map<string, SiteTally>();

  constructor(
    siteIds: readonly string[],
    private readonly thresholdMs: number,
  ) {
    for (const id of siteIds) {
      this.sites.set(id, {
        total: zero(),
        byHour: Array.from({ length: 24 }, zero),
        movedOut: 0,
        movedIn: 0,
      });
    }
  }

  private site(id: string): SiteTally {
    const s = this.sites.get(id);
    if (!s) throw new Error(`tally: unknown site ${id}`);
    return s;
  }

  /** A call ended at `siteId`; `waitMs` is its full wait when answered. */
  ended(siteId: string, hour: number, outcome: CallOutcome, waitMs: number): void {
    const s = this.site(siteId);
    for (const c of [s.total, s.byHour[hour]!]) {
      if (outcome === 'completed') {
        if (waitMs <= this.thresholdMs) c.answeredWithinT++;
        else c.answeredAfterT++;
        c.answeredWaitMs += waitMs;
      } else if (outcome === 'abandoned-queued' || outcome === 'abandoned-ringing') c.abandoned++;
      else c.other++;
    }
  }

  moved(fromSiteId: string, toSiteId: string): void {
    this.site(fromSiteId).movedOut++;
    this.site(toSiteId).movedIn++;
  }
}

const outcomeCounts = (c: Counts): QueueOutcomeCounts => ({
  answeredWithinT: c.answeredWithinT,
  answeredAfterT: c.answeredAfterT,
  abandoned: c.abandoned,
  endedByFallback: c.other,
  turnedAway: 0,
});

/** The figures of some counts under the province's service-level rule. */
export function figures(c: Counts, movedOut = 0, movedIn = 0): Figures {
  const m = measureServiceLevel(outcomeCounts(c), PROVINCE_SERVICE_LEVEL_RULE);
  const answered = c.answeredWithinT + c.answeredAfterT;
  return {
    offered: m.offered,
    answered,
    abandoned: c.abandoned,
    other: c.other,
    serviceLevel: m.serviceLevel,
    averageSpeedOfAnswerMs: answered > 0 ? Math.round(c.answeredWaitMs / answered) : null,
    abandonRate: m.abandonRate,
    movedOut,
    movedIn,
  };
}

export function sumCounts(cs: readonly Counts[]): Counts {
  const t = zero();
  for (const c of cs) {
    t.answeredWithinT += c.answeredWithinT;
    t.answeredAfterT += c.answeredAfterT;
    t.abandoned += c.abandoned;
    t.other += c.other;
    t.answeredWaitMs += c.answeredWaitMs;
  }
  return t;
}
