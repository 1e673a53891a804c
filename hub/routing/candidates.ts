/**
 * The candidate checks overflow and cover share, and the ranking (docs/architecture.md §5.8).
 *
 * Checks, in this order, the first that applies is the verdict: the origin itself
 * (`is-origin`), a site the call has been at (`already-visited`: no ping-pong), then the
 * caller's rule-specific checks, then the live ones (site-view.ts: `drained`,
 * `link-not-up`, `stale-state`), then again the caller's checks on the live snapshot.
 *
 * Ranking, among the eligible: a site whose snapshot shows a ready agent for the queue comes
 * before one that shows none; within each group the rule's preference order decides. So the
 * preferred site wins unless it has no ready agent and a less preferred one has. Ages,
 * expected waits and queue lengths do not reorder anything: they are a few hundred ms old
 * and the target decides on its own state anyway; a fixed order keeps the choice
 * predictable for the admin who wrote it. No two candidates tie: a rule lists a site once.
 */
import type { CandidateVerdict, SkipReason } from './decision.js';
import type { MoveRequest } from './request.js';
import { liveSkip, stateUsed, type SiteLiveView, type StateUsed } from './site-view.js';

/** A verdict before ranking: skipped with a reason, or eligible with its readiness. */
export type Judged =
  | {
      siteId: string;
      skip: { reason: SkipReason; why: string };
      state: StateUsed;
      agentReady: boolean | null;
    }
  | { siteId: string; skip: null; state: StateUsed; agentReady: boolean | null; why: string };

export const skipped = (
  siteId: string,
  state: StateUsed,
  reason: SkipReason,
  why: string,
  agentReady: boolean | null = null,
): Judged => ({ siteId, skip: { reason, why }, state, agentReady });

/**
 * Judge one candidate: the common checks around the rule's own. `before` runs on the
 * topology (may skip), `onLive` on a view whose live state is usable (skips or says whether
 * an agent is ready).
 */
export function judge(
  siteId: string,
  req: MoveRequest,
  view: SiteLiveView,
  nowMs: number,
  maxSnapshotAgeMs: number,
  before: () => { reason: SkipReason; why: string } | null,
  onLive: (view: SiteLiveView, state: StateUsed) => Judged | { agentReady: boolean | null; why: string },
): Judged {
  const state = stateUsed(view, nowMs);
  if (siteId === req.originSiteId) return skipped(siteId, state, 'is-origin', 'the call is already there');
  if (req.visitedSiteIds.includes(siteId)) {
    return skipped(siteId, state, 'already-visited', 'the call has been there before');
  }
  const rule = before();
  if (rule) return skipped(siteId, state, rule.reason, rule.why);
  const live = liveSkip(view, state, maxSnapshotAgeMs);
  if (live) return skipped(siteId, state, live.reason, live.why);
  const r = onLive(view, state);
  return 'siteId' in r ? r : { siteId, skip: null, state, agentReady: r.agentReady, why: r.why };
}

/** Rank the eligible (ready first, then preference order) and write every verdict. */
export function rank(judged: readonly Judged[]): CandidateVerdict[] {
  const order = judged
    .map((j, preference) => ({ j, preference }))
    .filter(({ j }) => j.skip === null)
    .sort(
      (a, b) =>
        Number(b.j.agentReady === true) - Number(a.j.agentReady === true) || a.preference - b.preference,
    )
    .map(({ j }) => j.siteId);
  return judged.map((j): CandidateVerdict => {
    if (j.skip !== null) {
      return {
        siteId: j.siteId,
        outcome: 'skipped',
        reason: j.skip.reason,
        rank: null,
        agentReady: j.agentReady,
        why: j.skip.why,
        state: j.state,
      };
    }
    const r = order.indexOf(j.siteId) + 1;
    return {
      siteId: j.siteId,
      outcome: r === 1 ? 'taken' : 'eligible',
      reason: null,
      rank: r,
      agentReady: j.agentReady,
      why: j.why,
      state: j.state,
    };
  });
}
