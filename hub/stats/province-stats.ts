/**
 * Province statistics (pure; docs/architecture.md §3.1): what `fedctl stats` and the admin Stats RPC
 * show. Two sources meet here: call facts the hub ingested from `call.ended` CDRs (history
 * over a window) and each site's latest live snapshot (now). Keeping the arithmetic out of
 * the service means the definitions below are tested with hand-computed numbers.
 *
 * Definitions, per queue, per site and for the province, over calls that ENDED inside the
 * window [now - windowMs, now] (both ends inclusive, matching IngestStore.callFacts), where
 * "now" is the site's own clock when the caller gives it (`siteNowMs`), else `nowMs`:
 *
 *   offered        = calls that queued (reached the ACD) and ended in the window
 *   answered       = offered calls an agent answered (within T: wait <= T)
 *   abandoned      = offered calls the caller hung up on while waiting
 *   the rest       = offered calls that left the queue another way: a fallback ended them
 *                    (callback taken, message left, announcement), also when the queue
 *                    refused them on entry
 *
 * A call that moved to another site is counted there only, once, with its full wait: the
 * ingest makes no fact of the origin's `overflowed` end (callFactOf in hub/ingest/pg-ingest.ts),
 * and the target's CDR counts the wait at the origin too (overflow-stats.test.ts).
 *   service level, abandon rate: the definition in shared/stats/service-level.ts under
 *                    PROVINCE_SERVICE_LEVEL_RULE ("abandons penalise", turned-away calls
 *                    counted): answered within T / offered and abandoned / offered, null
 *                    when nothing was offered.
 *   ASA            = mean wait of answered calls; null when nothing was answered
 *
 * null rather than 0 or 1 because "no calls" is not "perfect" nor "terrible"; the admin
 * service maps null to -1 on the wire and `fedctl` prints "—".
 *
 * Live figures (calls waiting, oldest wait, agents by state, live calls) come only from the
 * site's snapshot; a site without one shows zeros and `snapshotAtMs: null`.
 *
 * A queue is listed when it has facts in the window or appears in its site's snapshot. A site
 * is listed when it has either, or a link state. Sites sort by id, queues by site then queue.
 */
import { PROVINCE_SERVICE_LEVEL_RULE, measureServiceLevel } from '../../shared/stats/service-level.js';
import type { CallFactRow } from '../ports.js';

export interface LiveQueueSnapshot {
  queueId: string;
  callsWaiting: number;
  oldestWaitMs: number;
  agentsReady: number;
  agentsServing: number;
  /** The site's estimate for a new call; null = unknown (no agent serving the queue). */
  expectedWaitMs: number | null;
  /** The site's own view (its definitions); the hub recomputes from facts, see above. */
  serviceLevel: number | null;
  averageSpeedOfAnswerMs: number | null;
  abandonRate: number | null;
}

/** A site's latest live state as it reported it over the hub link. */
export interface LiveSnapshot {
  atMs: number;
  queues: LiveQueueSnapshot[];
  /** Agents per state: `ready`, `on-call`, `wrap-up`, `not-ready`... */
  agents: Record<string, number>;
  liveCalls: number;
  ivrSessions: number;
}

/** The window counts shared by queue, site and province rows. */
export interface OutcomeStats {
  offered: number;
  answered: number;
  abandoned: number;
  /** 0..1, or null when nothing was offered. */
  serviceLevel: number | null;
  /** null when nothing was answered. */
  averageSpeedOfAnswerMs: number | null;
  /** 0..1, or null when nothing was offered. */
  abandonRate: number | null;
}

/** Mirrors admin.proto QueueStats. */
export interface QueueStats extends OutcomeStats {
  siteId: string;
  queueId: string;
  callsWaiting: number;
  oldestWaitMs: number;
  agentsReady: number;
}

/** Mirrors admin.proto SiteStats; also the province row (siteId '*'). */
export interface SiteStats extends OutcomeStats {
  siteId: string;
  /** Link state (`up`, `suspect`, `down`, `resyncing`), 'unknown' when the hub has none; for the province `n/m up`. */
  link: string;
  /** Sorted by state. */
  agents: Array<{ state: string; count: number }>;
  callsWaiting: number;
  liveCalls: number;
  /** The newest snapshot behind the row; null when there is none. */
  snapshotAtMs: number | null;
}

/** Mirrors admin.proto StatsResponse. */
export interface ProvinceStats {
  atMs: number;
  windowMs: number;
  thresholdMs: number;
  sites: SiteStats[];
  queues: QueueStats[];
  province: SiteStats;
}

export interface ProvinceStatsInput {
  facts: readonly CallFactRow[];
  snapshots: ReadonlyMap<string, LiveSnapshot>;
  links: ReadonlyMap<string, string>;
  nowMs: number;
  /**
   * A site's own "now" (the time of its latest snapshot, on its clock). Its window ends there
   * instead of at the hub's `nowMs`: a site's figures are then right even when its clock is
   * skewed from the hub's, or runs sped up in a simulation. Sites not listed use `nowMs`.
   */
  siteNowMs?: ReadonlyMap<string, number>;
  windowMs: number;
  thresholdMs: number;
}

export const PROVINCE_ID = '*';

/** Running sums for one row; turned into OutcomeStats at the end. */
interface Acc {
  answered: number;
  answeredWithinT: number;
  abandoned: number;
  /** Neither answered nor abandoned: a fallback ended the call (or refused it on entry). */
  endedOtherwise: number;
  answeredWaitMs: number;
}

const emptyAcc = (): Acc => ({
  answered: 0,
  answeredWithinT: 0,
  abandoned: 0,
  endedOtherwise: 0,
  answeredWaitMs: 0,
});

function add(acc: Acc, f: CallFactRow, thresholdMs: number): void {
  if (f.answered) {
    acc.answered++;
    acc.answeredWaitMs += f.waitMs;
    if (f.waitMs <= thresholdMs) acc.answeredWithinT++;
  } else if (f.abandoned) {
    acc.abandoned++;
  } else {
    acc.endedOtherwise++;
  }
}

function outcome(a: Acc): OutcomeStats {
  const m = measureServiceLevel(
    {
      answeredWithinT: a.answeredWithinT,
      answeredAfterT: a.answered - a.answeredWithinT,
      abandoned: a.abandoned,
      // A call record does not say whether the fallback came on entry or after a wait.
      endedByFallback: a.endedOtherwise,
      turnedAway: 0,
    },
    PROVINCE_SERVICE_LEVEL_RULE,
  );
  return {
    offered: m.offered,
    answered: a.answered,
    abandoned: a.abandoned,
    serviceLevel: m.serviceLevel,
    averageSpeedOfAnswerMs: a.answered === 0 ? null : Math.round(a.answeredWaitMs / a.answered),
    abandonRate: m.abandonRate,
  };
}

const byKey = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function agentList(counts: Map<string, number>): Array<{ state: string; count: number }> {
  return [...counts.entries()].sort(([a], [b]) => byKey(a, b)).map(([state, count]) => ({ state, count }));
}

export function computeProvinceStats(input: ProvinceStatsInput): ProvinceStats {
  const { nowMs, windowMs, thresholdMs } = input;

  const queueAcc = new Map<string, Map<string, Acc>>();
  const siteAcc = new Map<string, Acc>();
  const provinceAcc = emptyAcc();
  const queuesOf = (siteId: string): Map<string, Acc> => {
    let m = queueAcc.get(siteId);
    if (!m) queueAcc.set(siteId, (m = new Map()));
    return m;
  };

  for (const f of input.facts) {
    // Each site's window ends at its own "now" when it has one (see siteNowMs).
    const siteNow = input.siteNowMs?.get(f.siteId) ?? nowMs;
    const siteFrom = siteNow - windowMs;
    // Self-service calls never reached the ACD: not offered, no part of any queue figure.
    if (!f.queued || f.endedAtMs < siteFrom || f.endedAtMs > siteNow) continue;
    const qs = queuesOf(f.siteId);
    let q = qs.get(f.queueId);
    if (!q) qs.set(f.queueId, (q = emptyAcc()));
    let s = siteAcc.get(f.siteId);
    if (!s) siteAcc.set(f.siteId, (s = emptyAcc()));
    add(q, f, thresholdMs);
    add(s, f, thresholdMs);
    add(provinceAcc, f, thresholdMs);
  }
  for (const [siteId, snap] of input.snapshots) {
    const qs = queuesOf(siteId);
    for (const q of snap.queues) if (!qs.has(q.queueId)) qs.set(q.queueId, emptyAcc());
  }

  const siteIds = [...new Set([...queueAcc.keys(), ...input.snapshots.keys(), ...input.links.keys()])].sort(
    byKey,
  );

  const sites: SiteStats[] = [];
  const queues: QueueStats[] = [];
  const provinceAgents = new Map<string, number>();
  let provinceWaiting = 0;
  let provinceLive = 0;
  let provinceSnapAt: number | null = null;
  let linksUp = 0;

  for (const siteId of siteIds) {
    const snap = input.snapshots.get(siteId);
    const live = new Map((snap?.queues ?? []).map((q) => [q.queueId, q]));
    const qs = queueAcc.get(siteId) ?? new Map<string, Acc>();
    for (const queueId of [...qs.keys()].sort(byKey)) {
      const l = live.get(queueId);
      queues.push({
        siteId,
        queueId,
        ...outcome(qs.get(queueId) ?? emptyAcc()),
        callsWaiting: l?.callsWaiting ?? 0,
        oldestWaitMs: l?.oldestWaitMs ?? 0,
        agentsReady: l?.agentsReady ?? 0,
      });
    }

    const agents = new Map<string, number>();
    for (const [state, count] of Object.entries(snap?.agents ?? {})) {
      if (count <= 0) continue;
      agents.set(state, count);
      provinceAgents.set(state, (provinceAgents.get(state) ?? 0) + count);
    }
    const callsWaiting = (snap?.queues ?? []).reduce((n, q) => n + q.callsWaiting, 0);
    const link = input.links.get(siteId) ?? 'unknown';
    if (link === 'up') linksUp++;
    provinceWaiting += callsWaiting;
    provinceLive += snap?.liveCalls ?? 0;
    if (snap) provinceSnapAt = Math.max(provinceSnapAt ?? snap.atMs, snap.atMs);
    sites.push({
      siteId,
      link,
      ...outcome(siteAcc.get(siteId) ?? emptyAcc()),
      agents: agentList(agents),
      callsWaiting,
      liveCalls: snap?.liveCalls ?? 0,
      snapshotAtMs: snap?.atMs ?? null,
    });
  }

  return {
    atMs: nowMs,
    windowMs,
    thresholdMs,
    sites,
    queues,
    province: {
      siteId: PROVINCE_ID,
      link: `${linksUp}/${siteIds.length} up`,
      ...outcome(provinceAcc),
      agents: agentList(provinceAgents),
      callsWaiting: provinceWaiting,
      liveCalls: provinceLive,
      snapshotAtMs: provinceSnapAt,
    },
  };
}
