/**
 * When a served site asks for cover (docs/architecture.md §5.8, §5.9): pure, like trigger.ts.
 * Cover is an overflow that waits for no trigger: while an entry serving this site is active
 * (the hub's `CoverState`, not stale), every waiting call of the entry's queues is asked under
 * the entry, to the entry's covering site, but only when no agent of this site is ready for
 * the queue: the served site's own ready agents come first (a ready agent takes a waiting call
 * at once anyway, so a queue with one has nobody to ask for but a call being offered).
 *
 * A call is never asked while a request for it is in flight, once it has moved (`hops`: cover
 * moves a call at most once, as overflow does), when it has been at the covering site, or
 * within `reaskAfterMs` of its last ask ending at home.
 */
import type { CoverSchedule } from '../../shared/topology/schema.js';
import { DEFAULT_REASK_AFTER_MS, type QueueView } from './trigger.js';

export interface CoverQueueView extends QueueView {
  /** This site's agents ready for the queue now. */
  agentsReady: number;
}

export interface CoverAsk {
  callId: string;
  queueId: string;
  coverEntryId: string;
  /** The covering site (the hub routes it there, routeCover). */
  coveringSiteId: string;
}

/** The asks to make now for served site `siteId`; deterministic (entries, queues, calls in order). */
export function coverAsks(
  siteId: string,
  entries: readonly CoverSchedule[],
  activeEntryIds: readonly string[],
  queues: readonly CoverQueueView[],
  nowMs: number,
  reaskAfterMs: number = DEFAULT_REASK_AFTER_MS,
): CoverAsk[] {
  const asks: CoverAsk[] = [];
  const asked = new Set<string>();
  for (const e of entries) {
    if (e.serves.site !== siteId || e.agentsOf === siteId || !activeEntryIds.includes(e.id)) continue;
    for (const q of queues) {
      if (!e.serves.queues.includes(q.queueId) || q.agentsReady > 0) continue;
      for (const c of q.waiting) {
        if (asked.has(c.callId) || c.inFlight || c.hops >= 1) continue;
        if (c.visitedSiteIds.includes(e.agentsOf)) continue;
        if (c.lastAskEndedMs !== null && nowMs - c.lastAskEndedMs < reaskAfterMs) continue;
        asked.add(c.callId);
        asks.push({ callId: c.callId, queueId: q.queueId, coverEntryId: e.id, coveringSiteId: e.agentsOf });
      }
    }
  }
  return asks;
}
