/**
 * When to ask: which waiting calls of this site should be offered to another site now, and
 * under which overflow policy (docs/architecture.md §5.9). Pure: the site's queue views and
 * `nowMs` in, a list of asks out; the origin machine (origin.ts) then runs each ask.
 *
 * A policy's triggers (any one is enough):
 * - `waitingOver: N`: more than N calls wait; the calls beyond the first N in the queue's own
 *   order are asked (those that would wait longest at home; the front of the line is served
 *   here next anyway).
 * - `oldestWaitOverMs: T`: each call that has waited longer than T.
 * - `serviceLevelBelow: S`, `noAgentsLoggedIn`, `afterHours`: the whole queue is in trouble,
 *   so every waiting call is asked.
 *
 * A call is never asked when its priority is excluded (VIP stays home by default), when it
 * has already moved `maxHops` times (a call that came in by overflow stays where it is), while
 * a request for it is in flight (one at a time), within `reaskAfterMs` of its last request
 * ending at home (a refused call is not asked again at once), or when every target of the
 * policy is a site it has already been at (never back where it came from).
 */
import type { OverflowPolicy } from '../../shared/topology/schema.js';

/** A call waiting in a queue, with a caller on the line (callbacks are not moved). */
export interface WaitingCall {
  callId: string;
  priority: number;
  /** When it joined the queue (at its home site, in this site's clock). */
  enqueueMs: number;
  /**
   * Sites it has been at, home first: the ACD call's `visitedSiteIds` (those before this one;
   * this site may be listed too, it is never a target anyway).
   */
  visitedSiteIds: readonly string[];
  /** Moves between sites so far: the ACD call's `hops` (not its `moves`, which count transfers). */
  hops: number;
  /** A request for it is in flight (the origin machine is neither idle nor back home). */
  inFlight: boolean;
  /** When its last request ended with the call at home, or null. */
  lastAskEndedMs: number | null;
}

export interface QueueView {
  queueId: string;
  /** In the queue's own order: higher priority first, then oldest first. */
  waiting: readonly WaitingCall[];
  agentsLoggedIn: number;
  /** Service level of the queue's current window, or null when nothing was answered yet. */
  serviceLevel: number | null;
  /** Inside the queue's calendar hours. */
  inHours: boolean;
}

export type TriggerName =
  'waitingOver' | 'oldestWaitOverMs' | 'serviceLevelBelow' | 'noAgentsLoggedIn' | 'afterHours';

export interface OverflowAsk {
  callId: string;
  queueId: string;
  policyId: string;
  trigger: TriggerName;
  /**
   * The policy's sites in preference order, without those the call has been at: the hub's
   * candidates (it picks; the origin sends no list). Empty means not asked.
   */
  targets: string[];
}

/** How long a call whose request ended at home waits before it may be asked again. */
export const DEFAULT_REASK_AFTER_MS = 5_000;

/** The queue-wide trigger that fires, if any (these ask every waiting call). */
function queueTrigger(p: OverflowPolicy, q: QueueView): TriggerName | null {
  if (p.when.noAgentsLoggedIn && q.agentsLoggedIn === 0) return 'noAgentsLoggedIn';
  if (p.when.afterHours && !q.inHours) return 'afterHours';
  if (
    p.when.serviceLevelBelow !== null &&
    q.serviceLevel !== null &&
    q.serviceLevel < p.when.serviceLevelBelow
  )
    return 'serviceLevelBelow';
  return null;
}

/** The trigger that makes this call (at `index` in the queue's order) a candidate, if any. */
function callTrigger(
  p: OverflowPolicy,
  whole: TriggerName | null,
  call: WaitingCall,
  index: number,
  nowMs: number,
): TriggerName | null {
  if (whole) return whole;
  if (p.when.waitingOver !== null && index >= p.when.waitingOver) return 'waitingOver';
  if (p.when.oldestWaitOverMs !== null && nowMs - call.enqueueMs > p.when.oldestWaitOverMs)
    return 'oldestWaitOverMs';
  return null;
}

function mayAsk(p: OverflowPolicy, call: WaitingCall, nowMs: number, reaskAfterMs: number): boolean {
  if (call.inFlight || call.hops >= p.maxHops) return false;
  if (p.excludePriorities.includes(call.priority)) return false;
  return call.lastAskEndedMs === null || nowMs - call.lastAskEndedMs >= reaskAfterMs;
}

/**
 * The asks to make now for site `siteId`. `policies` is the whole topology's list (only those
 * `from` this site count; the topology allows one policy per site and queue). Deterministic:
 * queues in the order given, calls in each queue's order.
 */
export function overflowAsks(
  siteId: string,
  policies: readonly OverflowPolicy[],
  queues: readonly QueueView[],
  nowMs: number,
  reaskAfterMs: number = DEFAULT_REASK_AFTER_MS,
): OverflowAsk[] {
  const byQueue = new Map<string, OverflowPolicy>();
  for (const p of policies) if (p.from === siteId) for (const q of p.queues) byQueue.set(q, p);
  const asks: OverflowAsk[] = [];
  for (const q of queues) {
    const p = byQueue.get(q.queueId);
    if (!p) continue;
    const whole = queueTrigger(p, q);
    q.waiting.forEach((call, index) => {
      const trigger = callTrigger(p, whole, call, index, nowMs);
      if (!trigger || !mayAsk(p, call, nowMs, reaskAfterMs)) return;
      const targets = p.to.filter((t) => !call.visitedSiteIds.includes(t) && t !== siteId);
      if (targets.length === 0) return;
      asks.push({ callId: call.callId, queueId: q.queueId, policyId: p.id, trigger, targets });
    });
  }
  return asks;
}
