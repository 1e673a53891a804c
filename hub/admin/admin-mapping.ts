/**
 * Admin API messages from the hub's state (pure mapping, no I/O). Proto doubles cannot be
 * null, so "no value" (nothing offered, nothing answered, no snapshot) travels as -1 and
 * `fedctl` prints it as a dash.
 */
import type {
  CustomerRead,
  RouteDecision,
  SiteStats as PbSiteStats,
  SiteStatus,
  StatsResponse,
} from '../../proto/gen/admin.js';
import type { HubState } from '../federation/hub-state.js';
import type { AuditedRead, OverflowDecisionRow } from '../ports.js';
import type { ProvinceStats, SiteStats } from '../stats/province-stats.js';

/** null -> -1 on the wire. */
export const orMinusOne = (v: number | null): number => (v === null ? -1 : v);
/** -1 (or any negative) -> null off the wire. */
export const orNull = (v: number): number | null => (v < 0 ? null : v);

/** One row per site in the topology, plus any connected site that is not (or no longer) in it. */
export function siteStatuses(hub: HubState, eventsBySite: ReadonlyMap<string, number>): SiteStatus[] {
  const ids = new Set<string>((hub.current?.topology.sites ?? []).map((s) => s.id));
  for (const e of hub.d.registry.all()) ids.add(e.siteId);
  return [...ids].sort().map((id) => {
    const e = hub.d.registry.get(id);
    return {
      siteId: id,
      kind: hub.site(id)?.kind ?? 'unknown',
      link: e?.link.state ?? 'never',
      lastHeartbeatMs: e?.link.lastHeardMs ?? 0,
      topologyVersion: e?.topologyVersion ?? 0,
      topologyError: e?.topologyError ?? '',
      softwareVersion: e?.softwareVersion ?? '',
      contractVersion: e?.contractVersion ?? 0,
      drained: hub.drained.has(id),
      connectedSinceMs: e?.link.connectedSinceMs ?? 0,
      outboxBacklog: e?.outboxBacklog ?? 0,
      eventsIngested: eventsBySite.get(id) ?? 0,
    };
  });
}

function siteToProto(s: SiteStats): PbSiteStats {
  return {
    siteId: s.siteId,
    link: s.link,
    agents: s.agents.map((a) => ({ state: a.state, count: a.count })),
    callsWaiting: s.callsWaiting,
    liveCalls: s.liveCalls,
    snapshotAtMs: orMinusOne(s.snapshotAtMs),
    offered: s.offered,
    answered: s.answered,
    abandoned: s.abandoned,
    serviceLevel: orMinusOne(s.serviceLevel),
    averageSpeedOfAnswerMs: Math.round(orMinusOne(s.averageSpeedOfAnswerMs)),
    abandonRate: orMinusOne(s.abandonRate),
  };
}

export function statsToProto(p: ProvinceStats): StatsResponse {
  return {
    atMs: p.atMs,
    windowMs: p.windowMs,
    thresholdMs: p.thresholdMs,
    sites: p.sites.map(siteToProto),
    queues: p.queues.map((q) => ({
      siteId: q.siteId,
      queueId: q.queueId,
      offered: q.offered,
      answered: q.answered,
      abandoned: q.abandoned,
      serviceLevel: orMinusOne(q.serviceLevel),
      averageSpeedOfAnswerMs: Math.round(orMinusOne(q.averageSpeedOfAnswerMs)),
      abandonRate: orMinusOne(q.abandonRate),
      callsWaiting: q.callsWaiting,
      oldestWaitMs: q.oldestWaitMs,
      agentsReady: q.agentsReady,
    })),
    province: siteToProto(p.province),
  };
}

function siteFromProto(s: PbSiteStats): SiteStats {
  return {
    siteId: s.siteId,
    link: s.link,
    agents: s.agents.map((a) => ({ state: a.state, count: a.count })),
    callsWaiting: s.callsWaiting,
    liveCalls: s.liveCalls,
    snapshotAtMs: orNull(s.snapshotAtMs),
    offered: s.offered,
    answered: s.answered,
    abandoned: s.abandoned,
    serviceLevel: orNull(s.serviceLevel),
    averageSpeedOfAnswerMs: orNull(s.averageSpeedOfAnswerMs),
    abandonRate: orNull(s.abandonRate),
  };
}

/** The client side (`fedctl stats`): back to the TS shape the table formatter prints. */
export function statsFromProto(r: StatsResponse): ProvinceStats {
  const empty: PbSiteStats = {
    siteId: '*',
    link: '',
    agents: [],
    callsWaiting: 0,
    liveCalls: 0,
    snapshotAtMs: -1,
    offered: 0,
    answered: 0,
    abandoned: 0,
    serviceLevel: -1,
    averageSpeedOfAnswerMs: -1,
    abandonRate: -1,
  };
  return {
    atMs: r.atMs,
    windowMs: r.windowMs,
    thresholdMs: r.thresholdMs,
    sites: r.sites.map(siteFromProto),
    queues: r.queues.map((q) => ({
      siteId: q.siteId,
      queueId: q.queueId,
      offered: q.offered,
      answered: q.answered,
      abandoned: q.abandoned,
      serviceLevel: orNull(q.serviceLevel),
      averageSpeedOfAnswerMs: orNull(q.averageSpeedOfAnswerMs),
      abandonRate: orNull(q.abandonRate),
      callsWaiting: q.callsWaiting,
      oldestWaitMs: q.oldestWaitMs,
      agentsReady: q.agentsReady,
    })),
    province: siteFromProto(r.province ?? empty),
  };
}

/** A read-audit row on the wire: absent ids travel as "". */
export function readToProto(r: AuditedRead): CustomerRead {
  return {
    ...r,
    callId: r.callId ?? '',
    agentId: r.agentId ?? '',
    ivrSessionId: r.ivrSessionId ?? '',
    flag: r.flag ?? '',
    claimedHomeSiteId: r.claimedHomeSiteId ?? '',
  };
}

/** A stored routing decision on the wire (`fedctl routes`): each candidate's verdict is its skip reason or outcome. */
export function decisionToProto(r: OverflowDecisionRow): RouteDecision {
  return {
    requestId: r.requestId,
    callId: r.callId,
    kind: r.kind,
    ruleId: r.ruleId,
    originSiteId: r.originSiteId,
    queueId: r.queueId,
    targetSiteId: r.targetSiteId ?? '',
    reason: r.reason ?? '',
    why: r.why,
    decidedAtMs: r.decidedAtMs,
    maxSnapshotAgeMs: r.maxSnapshotAgeMs,
    candidates: r.candidates.map((c) => ({
      siteId: c.siteId,
      verdict: c.reason ?? c.outcome,
      why: c.why,
      ...(c.state.ageMs === null ? {} : { ageMs: c.state.ageMs }),
      link: c.state.link,
    })),
  };
}
