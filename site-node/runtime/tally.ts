/**
 * Whole-run counters of a site, for the demo's live line and its closing summary. Pure:
 * the call flow reports facts, this adds them up. Service level is the hub's province
 * definition (hub/stats/province-stats.ts): answered within T / every queued call that
 * left the queue for good (answered, abandoned, or taken by a fallback that ended it:
 * announcement, callback, leave a message), so a site's line and the province's agree.
 */
export interface SiteTally {
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

export const emptyTally = (): SiteTally => ({
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
  const settled = t.answered + t.abandoned + t.fallbacks;
  return {
    offered: t.offered,
    answered: t.answered,
    abandoned: t.abandoned,
    selfService: t.selfService,
    blocked: t.blockedNoTrunk + t.blockedNoIvrPort,
    fallbacks: t.fallbacks,
    serviceLevelPct: settled === 0 ? null : round1((100 * t.answeredWithinT) / settled),
    asaSec: t.answered === 0 ? null : round1(t.totalWaitAnsweredMs / t.answered / 1000),
    abandonRatePct: settled === 0 ? null : round1((100 * t.abandoned) / settled),
    tickets: t.ticketsOpened,
    cardLossReports: t.cardLossReports,
    callbacks: t.callbacksScheduled,
  };
}
