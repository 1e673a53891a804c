/**
 * What the routing core answers (docs/architecture.md §5.8): a target or none, and a verdict
 * for every candidate in the rule's preference order saying why it was taken, ranked below,
 * or skipped, each with the state it was judged on (link, drained, snapshot age). The
 * adapter logs it and forwards the offer; `fedctl` and the tests read the verdicts, so every
 * skip has a reason word and a sentence.
 */
import type { LiveSkipReason, StateUsed } from './site-view.js';

export type SkipReason =
  'is-origin' | 'already-visited' | 'does-not-offer-queue' | LiveSkipReason | 'no-capacity';

export interface CandidateVerdict {
  siteId: string;
  /** `taken`: the target; `eligible`: could take the call, ranked below it; `skipped`. */
  outcome: 'taken' | 'eligible' | 'skipped';
  reason: SkipReason | null;
  /** Place among the eligible (1 = taken); null when skipped. */
  rank: number | null;
  /** Whether its snapshot shows a ready agent for the queue; null when not read (cover: the covering site decides). */
  agentReady: boolean | null;
  /** One sentence, for logs and `fedctl`. */
  why: string;
  state: StateUsed;
}

/** Why a request gets no target before any candidate is looked at. */
export type NoTargetReason = 'max-hops' | 'cover-not-active' | 'no-eligible-site';

export interface RoutingDecision {
  kind: 'overflow' | 'cover';
  callId: string;
  /** The overflow policy id or the cover entry id. */
  ruleId: string;
  originSiteId: string;
  queueId: string;
  decidedAtMs: number;
  maxSnapshotAgeMs: number;
  /** The chosen site, or null (the call stays queued at home). */
  target: string | null;
  /** The state the target was chosen on; null with no target. */
  targetState: StateUsed | null;
  noTarget: { reason: NoTargetReason; why: string } | null;
  /** In the rule's preference order; empty when the request was decided before looking (max-hops, cover-not-active). */
  candidates: CandidateVerdict[];
}

/** Fill in target/noTarget from verdicts already ranked. */
export function concluded(
  base: Omit<RoutingDecision, 'target' | 'targetState' | 'noTarget' | 'candidates'>,
  candidates: CandidateVerdict[],
): RoutingDecision {
  const taken = candidates.find((c) => c.outcome === 'taken');
  return {
    ...base,
    target: taken?.siteId ?? null,
    targetState: taken?.state ?? null,
    noTarget: taken
      ? null
      : {
          reason: 'no-eligible-site',
          why:
            candidates.length === 0
              ? 'the rule names no site'
              : `every site skipped: ${candidates.map((c) => `${c.siteId} ${c.reason ?? '?'}`).join(', ')}`,
        },
    candidates,
  };
}
