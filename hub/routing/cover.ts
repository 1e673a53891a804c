/**
 * `routeCover`: where a call of a covered queue goes while a cover entry is active
 * (docs/architecture.md §5.8). Pure, like overflow.ts; the hub's relay (hub/overflow/) runs it.
 *
 * The request must name a cover entry of the topology that serves the asking site and the
 * call's queue; anything else is refused whole (invalid-argument naming the field). An entry
 * not active at `nowMs` (cover-windows.ts) gives no target (`cover-not-active`): a request
 * that crosses the end of a window is a race, not a mistake. A call that has already moved
 * once gets no target (`max-hops`: cover moves a call the way overflow does, at most once).
 *
 * The one candidate is the entry's covering site, with the shared checks (candidates.ts):
 * `is-origin`, `already-visited`, `drained`, `link-not-up`, `stale-state`. There is no queue
 * or capacity check: the covering site serves another site's queue with its agents who have
 * the skill, so its snapshot (its own queues) says nothing about them; it accepts or refuses
 * on its own state when the offer reaches it.
 */
import type { Topology } from '../../shared/topology/schema.js';
import { judge, rank } from './candidates.js';
import { activeCoverEntries, type StartedCover } from './cover-windows.js';
import { concluded, type RoutingDecision } from './decision.js';
import { checkRequest, movesSoFar, type CoverRequest, type RoutingOptions } from './request.js';
import { viewOf, type SiteLiveView } from './site-view.js';

/** Cover moves a call like overflow does: once. */
const COVER_MAX_HOPS = 1;

export interface CoverInput {
  request: CoverRequest;
  topology: Topology;
  sites: ReadonlyMap<string, SiteLiveView>;
  /** The on-demand entries an admin has started, by entry id. */
  started: ReadonlyMap<string, StartedCover>;
  /**
   * The entry ids active now, when the caller already knows them (the hub's cover schedule
   * decides them once for the pushes and the routing alike, so the two never disagree).
   * Absent: computed here from the topology and `started` (cover-windows.ts).
   */
  activeEntryIds?: readonly string[];
  nowMs: number;
  options?: RoutingOptions;
}

export function routeCover(input: CoverInput): RoutingDecision {
  const { request: req, topology, sites, nowMs } = input;
  let found: Topology['cover'][number] | undefined;
  const maxAge = checkRequest(req, nowMs, input.options ?? {}, (problems) => {
    found = topology.cover.find((c) => c.id === req.coverEntryId);
    if (!found) {
      problems.push(`request.coverEntryId: no cover entry "${String(req.coverEntryId)}" in the topology`);
      return;
    }
    if (found.serves.site !== req.originSiteId) {
      problems.push(
        `request.originSiteId: cover entry "${found.id}" serves "${found.serves.site}", not "${req.originSiteId}"`,
      );
    }
    if (!found.serves.queues.includes(req.queueId)) {
      problems.push(
        `request.queueId: cover entry "${found.id}" does not serve queue "${req.queueId}" (it serves ${found.serves.queues.join(', ')})`,
      );
    }
  });
  const entry = found!;
  const base = {
    kind: 'cover' as const,
    callId: req.callId,
    ruleId: entry.id,
    originSiteId: req.originSiteId,
    queueId: req.queueId,
    decidedAtMs: nowMs,
    maxSnapshotAgeMs: maxAge,
  };
  const none = (reason: 'cover-not-active' | 'max-hops', why: string): RoutingDecision => ({
    ...base,
    target: null,
    targetState: null,
    noTarget: { reason, why },
    candidates: [],
  });
  const active = input.activeEntryIds
    ? input.activeEntryIds.includes(entry.id)
    : activeCoverEntries(topology, input.started, nowMs).some((a) => a.entryId === entry.id);
  if (!active) {
    return none(
      'cover-not-active',
      entry.when.kind === 'weekly'
        ? `cover entry "${entry.id}" is outside its window (${entry.when.days.join(',')} ${entry.when.from}-${entry.when.to}, UTC offset ${entry.when.utcOffsetMinutes} min)`
        : `cover entry "${entry.id}" is on-demand and not started (or past its until)`,
    );
  }
  const moves = movesSoFar(req);
  if (moves >= COVER_MAX_HOPS) {
    return none('max-hops', `the call has moved ${moves} time(s); cover allows ${COVER_MAX_HOPS}`);
  }
  const judged = [
    judge(
      entry.agentsOf,
      req,
      viewOf(sites, entry.agentsOf),
      nowMs,
      maxAge,
      () => null,
      () => ({ agentReady: null, why: `covering site of "${entry.id}"; it decides on its own agents` }),
    ),
  ];
  return concluded(base, rank(judged));
}
