/**
 * A routing decision as the hub keeps it (pure): the row of `overflow_decisions` and the
 * fields of its one log line (`overflow routed` / `overflow not routed`). Both carry every
 * candidate's verdict with the age of the snapshot it was judged on, so "why did this call go
 * there, or stay home" is answered from either (docs/architecture.md §5.8).
 *
 * The decision is the routing core's; the outcome may differ from it in one way only: the
 * chosen target's link took nothing (`target-unreachable`), and the call stayed home.
 */
import type { RoutingDecision } from '../routing/decision.js';
import type { MoveRequest } from '../routing/request.js';
import type { OverflowDecisionRow } from '../ports.js';

/** What became of the decision: the target the request went to, or why it went nowhere. */
export interface DecisionOutcome {
  targetSiteId: string | null;
  reason: string | null;
  why: string;
}

/** The outcome the decision itself says (before the forward is tried). */
export function decidedOutcome(d: RoutingDecision): DecisionOutcome {
  if (d.target !== null) {
    const taken = d.candidates.find((c) => c.outcome === 'taken');
    return { targetSiteId: d.target, reason: null, why: taken?.why ?? '' };
  }
  return { targetSiteId: null, reason: d.noTarget?.reason ?? 'no-eligible-site', why: d.noTarget?.why ?? '' };
}

export function decisionRow(
  requestId: string,
  req: MoveRequest,
  d: RoutingDecision,
  outcome: DecisionOutcome,
): OverflowDecisionRow {
  return {
    requestId,
    callId: d.callId,
    kind: d.kind,
    ruleId: d.ruleId,
    originSiteId: d.originSiteId,
    queueId: d.queueId,
    targetSiteId: outcome.targetSiteId,
    reason: outcome.reason,
    why: outcome.why,
    decidedAtMs: d.decidedAtMs,
    maxSnapshotAgeMs: d.maxSnapshotAgeMs,
    targetAgeMs: outcome.targetSiteId === null ? null : (d.targetState?.ageMs ?? null),
    request: {
      priority: req.priority,
      waitedMs: req.waitedMs,
      remainingPatienceMs: req.remainingPatienceMs,
      visitedSiteIds: [...req.visitedSiteIds],
    },
    candidates: d.candidates.map((c) => ({
      siteId: c.siteId,
      outcome: c.outcome,
      reason: c.reason,
      rank: c.rank,
      agentReady: c.agentReady,
      why: c.why,
      state: { ...c.state },
    })),
  };
}

/** The log line's fields: the row, candidates shortened to verdict and age. */
export function decisionLogFields(row: OverflowDecisionRow): Record<string, unknown> {
  return {
    requestId: row.requestId,
    kind: row.kind,
    ruleId: row.ruleId,
    originSiteId: row.originSiteId,
    queueId: row.queueId,
    target: row.targetSiteId,
    ...(row.reason === null ? {} : { reason: row.reason }),
    why: row.why,
    maxSnapshotAgeMs: row.maxSnapshotAgeMs,
    candidates: row.candidates.map((c) => ({
      siteId: c.siteId,
      verdict: c.reason ?? c.outcome,
      ageMs: c.state.ageMs,
    })),
  };
}
