/**
 * The day's counters of a site, for its live line, its snapshot and the demo's closing
 * summary. Pure: the call flow reports facts, this adds them up. A day starts at the site's
 * local midnight (config `site.utcOffsetMinutes`); `rollDay` starts a new tally then. At start
 * the site rebuilds the day's tally from its stored events (stats-rebuild.ts). Service level and abandon rate are the
 * definition in shared/stats/service-level.ts under the province rule the hub uses too
 * (PROVINCE_SERVICE_LEVEL_RULE), so a site's line and the province's agree: every queued
 * call that left the queue for good counts (answered, abandoned, or taken by a fallback
 * that ended it: announcement, callback, leave a message; a refusal on entry is such a
 * fallback too, so it is among `fallbacks`). A call moved to another site (§5.9) counts here
 * as offered and queued and nothing more; one moved in from another site is not offered or
 * queued here again, and its answer or abandon counts here with the caller's full wait (the
 * ACD ranks it from when it joined at the origin), as the province counts it.
 */
import { PROVINCE_SERVICE_LEVEL_RULE, measureServiceLevel } from '../../shared/stats/service-level.js';

export interface SiteTally {
  /** The start of the day these counts are for (site time, ms). */
  dayStartMs: number;
  offered: number;
  blockedNoTrunk: number;
  blockedNoIvrPort: number;
  selfService: number;
  queued: number;
  answered: number;
  answeredWithinT: number;
  abandoned: number;
  fallbacks: number;
  ticketsOpened: number;
  cardLossReports: number;
  callbacksScheduled: number;
  totalWaitAnsweredMs: number;
}

export const emptyTally = (dayStartMs = 0): SiteTally => ({
  dayStartMs,
  offered: 0,
  blockedNoTrunk: 0,
  blockedNoIvrPort: 0,
  selfService: 0,
  queued: 0,
  answered: 0,
  answeredWithinT: 0,
  abandoned: 0,
  fallbacks: 0,
  ticketsOpened: 0,
  cardLossReports: 0,
  callbacksScheduled: 0,
  totalWaitAnsweredMs: 0,
});

const DAY_MS = 86_400_000;

/** The start (UTC ms) of the local day holding `nowMs`, local time being UTC + `utcOffsetMs`. */
export function dayStartMs(nowMs: number, utcOffsetMs: number): number {
  return Math.floor((nowMs + utcOffsetMs) / DAY_MS) * DAY_MS - utcOffsetMs;
}

/** Start a new day's counts once `nowMs` is past the tally's day. Returns the tally. */
export function rollDay(t: SiteTally, nowMs: number, utcOffsetMs: number): SiteTally {
  const start = dayStartMs(nowMs, utcOffsetMs);
  if (start > t.dayStartMs) Object.assign(t, emptyTally(start));
  return t;
}

export function recordAnswer(t: SiteTally, waitMs: number, thresholdMs: number): void {
  t.answered++;
  t.totalWaitAnsweredMs += waitMs;
  if (waitMs <= thresholdMs) t.answeredWithinT++;
}

export interface SiteSummary {
  offered: number;
  answered: number;
  abandoned: number;
  selfService: number;
  blocked: number;
  fallbacks: number;
  /** Answered within T / (answered + abandoned + fallbacks), percent; null before any queued call ended. */
  serviceLevelPct: number | null;
  /** Average speed of answer, seconds. */
  asaSec: number | null;
  abandonRatePct: number | null;
  tickets: number;
  cardLossReports: number;
  callbacks: number;
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

export function summarise(t: SiteTally): SiteSummary {
  const m = measureServiceLevel(
    {
      answeredWithinT: t.answeredWithinT,
      answeredAfterT: t.answered - t.answeredWithinT,
      abandoned: t.abandoned,
      endedByFallback: t.fallbacks,
      turnedAway: 0, // counted among the fallbacks: the call flow cannot tell them apart
    },
    PROVINCE_SERVICE_LEVEL_RULE,
  );
  // Percentages from the integer terms: 100 * (a / b) would round differently for some a, b.
  return {
    offered: t.offered,
    answered: t.answered,
    abandoned: t.abandoned,
    selfService: t.selfService,
    blocked: t.blockedNoTrunk + t.blockedNoIvrPort,
    fallbacks: t.fallbacks,
    serviceLevelPct: m.denominator === 0 ? null : round1((100 * m.answeredWithinT) / m.denominator),
    asaSec: t.answered === 0 ? null : round1(t.totalWaitAnsweredMs / t.answered / 1000),
    abandonRatePct: m.offered === 0 ? null : round1((100 * m.abandoned) / m.offered),
    tickets: t.ticketsOpened,
    cardLossReports: t.cardLossReports,
    callbacks: t.callbacksScheduled,
  };
}
