/**
 * What a simulated site shows the federation, read from its ACD through the ACD's public
 * statistics (never its internals): the snapshot its link would send the hub (the fields
 * site-node/link/snapshot-mapping.ts maps, as hub/routing reads them) and the trigger's view of
 * the queues it may ask for (site-node/overflow/trigger.ts). Pure: state and `nowMs` in.
 */
import { isOpen, queueStats, waitingCalls, type AcdState } from '../../site-node/acd/index.js';
import type { QueueView, WaitingCall } from '../../site-node/overflow/trigger.js';
import type { SnapshotView } from '../../hub/routing/site-view.js';

/** What the simulator knows of a waiting call beyond the ACD: its arrival and its moves. */
export interface CallPlace {
  priority: number;
  /** When it first arrived (its place in line at home, and at a target). */
  arriveMs: number;
  visited: readonly string[];
  hops: number;
  inFlight: boolean;
  lastAskEndedMs: number | null;
}

/** The site's snapshot taken at `nowMs`, as the hub receives it at `receivedAtMs`. */
export function snapshotOf(acd: AcdState, nowMs: number, receivedAtMs: number): SnapshotView {
  return {
    atMs: nowMs,
    receivedAtMs,
    queues: acd.config.queues.map((cq) => {
      const r = queueStats(acd, cq.id, nowMs);
      return {
        queueId: r.queueId,
        callsWaiting: r.waiting,
        agentsReady: r.agentsReady,
        // The link sends the busy agents as those serving (snapshot-mapping.ts).
        agentsServing: r.agentsBusy,
        expectedWaitMs: Math.round(r.ewtMs ?? 0),
      };
    }),
  };
}

/** The trigger's views of `queueIds` (those the site may ask for) that have callers waiting. */
export function triggerViews(
  acd: AcdState,
  queueIds: Iterable<string>,
  nowMs: number,
  placeOf: (callId: string) => CallPlace,
): QueueView[] {
  const views: QueueView[] = [];
  for (const queueId of queueIds) {
    const cq = acd.config.queueById.get(queueId);
    if (!cq) continue;
    const ids = waitingCalls(acd, queueId);
    if (ids.length === 0) continue;
    const r = queueStats(acd, queueId, nowMs);
    const waiting = ids.map((callId): WaitingCall => {
      const p = placeOf(callId);
      return {
        callId,
        priority: p.priority,
        enqueueMs: p.arriveMs,
        visitedSiteIds: p.visited,
        hops: p.hops,
        inFlight: p.inFlight,
        lastAskEndedMs: p.lastAskEndedMs,
      };
    });
    views.push({
      queueId,
      waiting,
      agentsLoggedIn: r.agentsStaffed,
      serviceLevel: r.serviceLevel,
      inHours: isOpen(cq.calendar, nowMs),
    });
  }
  return views;
}
