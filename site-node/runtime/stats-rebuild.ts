/**
 * The site's statistics rebuilt from its stored events (pure: events in, stats state out), so
 * that a site stopped and started mid-day shows the figures it showed before (issue 9): the
 * day's tally (tally.ts) and each queue's sliding window and AHT (acd/stats.ts). The adapter
 * that reads the rows is site-node/store/stats-events.ts; Site.start() calls both before it
 * takes calls.
 *
 * Each live counter is replayed from the event its fact wrote (the call flow writes every fact
 * with the time it happened, so an event's `occurredAtMs` is the live counter's time):
 *
 *   offered             call.created in state `ivr` (an inbound call), call.refused
 *   blocked (no trunk)  call.refused                 (no IVR port) call.ended `no-ivr-port`
 *   self-service        call.ended with a reason `ivr:...`
 *   queued              call.state-changed ivr -> queued; call.created in state `queued` (a
 *                       callback taking its place, runtime/callback-flow.ts), less those ended
 *                       `callback-no-answer` (records of callbacks placed before they kept places);
 *                       not a call moved in from another site (`overflowIn`): it was counted
 *                       where it came in
 *   moved away          call.ended `overflowed`: none of the counts below, no window record
 *                       (the province counts the call once, where it is answered or lost)
 *   answered, ASA       call.state-changed to `connected` (its detail has the ACD's waitMs)
 *   abandoned           call.ended `abandoned`
 *   fallbacks           call.ended with a reason `fallback:...`
 *   tickets, card-loss reports, callbacks   ticket.opened, card-loss.reported, callback.scheduled
 *
 * and each queue's window records ({atMs, kind, waitMs}, acd/stats.ts) from the same events:
 * `answered` at the answer, `abandoned` at the call's end (wait since it last entered a
 * queue; for a call moved in, since it joined at the origin, `overflowIn.waitedMs` before it
 * arrived), a fallback's `timed-out` or `rejected` (by the ACD's reason, which the end event's
 * detail carries; an overflow to another queue carries it in `overflowReason`). AHT is the
 * ACD's moving average replayed over the handle times (answer -> end of wrap-up) in the
 * events read, from the configured initial value.
 *
 * Bounded: the caller reads only events since the earlier of the start of the site's day and
 * the start of the window; the tally counts events since the start of the day, the window
 * those inside it.
 */
import type { WindowKind } from '../acd/stats.js';
import type { SiteConfig } from '../config.js';
import { dayStartMs, emptyTally, recordAnswer, type SiteTally } from './tally.js';

/** One stored event, as the rebuild needs it (an outbox row). */
export interface StoredEvent {
  type: string;
  aggregateId: string;
  occurredAtMs: number;
  payload: Record<string, unknown>;
}

export interface WindowRecord {
  atMs: number;
  kind: WindowKind;
  waitMs: number;
}

export interface RebuildOptions {
  nowMs: number;
  /** The start of the site's day (dayStartMs in tally.ts); the tally counts from here. */
  dayStartMs: number;
  /** The ACD's service-level settings: the window's length and T. */
  windowMs: number;
  thresholdMs: number;
  /** The ACD's handle-time moving average. */
  handleTime: { initialMs: number; alpha: number };
  queueIds: readonly string[];
}

export interface RebuiltStats {
  tally: SiteTally;
  /** Per queue, its window records in time order (only those inside the window). */
  windows: Map<string, WindowRecord[]>;
  /** Per queue, its AHT moving average. */
  ahtMs: Map<string, number>;
}

/** The events the rebuild reads; the adapter asks only for these. */
export const STATS_EVENT_TYPES = [
  'call.created',
  'call.refused',
  'call.state-changed',
  'call.data-changed',
  'call.ended',
  'agent.state-changed',
  'ticket.opened',
  'card-loss.reported',
  'callback.scheduled',
] as const;

/** The earliest event time the rebuild needs. */
/** The options a site at `nowMs` rebuilds with: its day, its ACD's settings, its queues. */
export function rebuildOptions(
  config: Pick<SiteConfig, 'acd' | 'utcOffsetMs'>,
  queueIds: readonly string[],
  nowMs: number,
): RebuildOptions {
  const sl = config.acd.serviceLevel;
  return {
    nowMs,
    dayStartMs: dayStartMs(nowMs, config.utcOffsetMs),
    windowMs: sl.windowMs,
    thresholdMs: sl.thresholdMs,
    handleTime: config.acd.handleTime,
    queueIds,
  };
}

export function rebuildSinceMs(o: Pick<RebuildOptions, 'nowMs' | 'dayStartMs' | 'windowMs'>): number {
  return Math.min(o.dayStartMs, o.nowMs - o.windowMs);
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};

/** An agent's end of wrap-up: the event that closes a handle time. */
const isWrapUpEnd = (e: StoredEvent): boolean =>
  e.type === 'agent.state-changed' && e.payload.from === 'wrap-up';

/**
 * Two ends of wrap-up of one millisecond in the ACD's order (their `order`, agents-repo.ts):
 * each moves its queue's handle-time average, which depends on the order, and agents' writes
 * commit side by side, so the outbox may hold them the other way round. Events written before
 * the field existed keep the read order.
 */
const byAcdOrder = (a: StoredEvent, b: StoredEvent): number => {
  const x = num(a.payload.order);
  const y = num(b.payload.order);
  return x !== undefined && y !== undefined ? x - y : 0;
};

/**
 * The events in time order, each millisecond's in the order the ACD made them where the read
 * order may differ. The writes of a call and of an agent commit side by side
 * (durable-writes.ts), so an answer (the call's) and an end of wrap-up (the agent's) of one
 * millisecond can be read in either order, and the handle time pairs each end of wrap-up with
 * its agent's answer before it. Which came first is told by the agent's state at the start of
 * the millisecond: an agent with an answer still open (`hasAnswer`) ended that wrap-up first,
 * and its next answer can follow in the same millisecond; an agent with none was answered in
 * this millisecond and wrapped up in it too (a handle time of 0: a stopping site's simulated
 * agents answer, hang up and wrap up at once). Everything else keeps the read order (the sort
 * is stable), which is each call's and each agent's own order. `hasAnswer` is asked as each
 * millisecond starts, so it sees the events before it.
 */
function* inAcdOrder(
  events: readonly StoredEvent[],
  hasAnswer: (agentId: string) => boolean,
): Generator<StoredEvent> {
  const sorted = [...events].sort((a, b) => a.occurredAtMs - b.occurredAtMs);
  for (let i = 0; i < sorted.length;) {
    let j = i + 1;
    while (j < sorted.length && sorted[j]!.occurredAtMs === sorted[i]!.occurredAtMs) j++;
    const ms = sorted.slice(i, j);
    i = j;
    if (ms.length === 1) {
      yield ms[0]!;
      continue;
    }
    const ends = ms.filter(isWrapUpEnd).sort(byAcdOrder);
    const closing = ends.filter((e) => hasAnswer(e.aggregateId));
    const opened = ends.filter((e) => !hasAnswer(e.aggregateId));
    yield* closing;
    yield* ms.filter((e) => !isWrapUpEnd(e));
    yield* opened;
  }
}

/** Rebuild the stats from `events` (any order of calls; each call's events in the order written). */
export function rebuildStats(events: readonly StoredEvent[], o: RebuildOptions): RebuiltStats {
  const tally = emptyTally(o.dayStartMs);
  const windows = new Map<string, WindowRecord[]>(o.queueIds.map((q) => [q, []]));
  const ahtMs = new Map<string, number>(o.queueIds.map((q) => [q, o.handleTime.initialMs]));
  const enqueuedAt = new Map<string, number>();
  const answeredBy = new Map<string, { atMs: number; queueId: string }>();
  /** Callbacks counted as queued today: only those take it back when unanswered (midnight). */
  const callbacksQueuedToday = new Set<string>();
  const windowStart = o.nowMs - o.windowMs;
  for (const e of inAcdOrder(events, (agentId) => answeredBy.has(agentId))) {
    const at = e.occurredAtMs;
    if (at > o.nowMs) continue;
    const today = at >= o.dayStartMs;
    const p = e.payload;
    const record = (queueId: string | undefined, kind: WindowKind, waitMs: number): void => {
      if (at <= windowStart || queueId === undefined) return;
      windows.get(queueId)?.push({ atMs: at, kind, waitMs: Math.max(0, waitMs) });
    };
    switch (e.type) {
      case 'call.refused':
        if (today) {
          tally.offered++;
          tally.blockedNoTrunk++;
        }
        break;
      case 'call.created':
        if (p.overflowIn !== null && typeof p.overflowIn === 'object') {
          // A call moved in from another site (store/overflow-repo.ts): counted queued where it
          // came in; here its wait runs from when it joined there, as the ACD ranks it.
          enqueuedAt.set(e.aggregateId, at - (num(obj(p.overflowIn).waitedMs) ?? 0));
        } else if (p.state === 'queued') {
          enqueuedAt.set(e.aggregateId, at);
          if (today) {
            tally.queued++;
            callbacksQueuedToday.add(e.aggregateId);
          }
        } else if (today) tally.offered++;
        break;
      case 'call.state-changed': {
        const to = p.to;
        const queueId = str(p.queueId);
        if (to === 'queued' && p.from !== 'offered') {
          // Entering a queue (from the IVR, or a transfer); a ring-no-answer keeps its place.
          enqueuedAt.set(e.aggregateId, at);
          if (p.from === 'ivr' && today) tally.queued++;
        } else if (to === 'connected') {
          const waitMs = num(obj(p.detail).waitMs) ?? 0;
          if (today) recordAnswer(tally, waitMs, o.thresholdMs);
          record(queueId, 'answered', waitMs);
          const agentId = str(obj(p.detail).agentId) ?? str(p.agentId);
          if (agentId && queueId) answeredBy.set(agentId, { atMs: at, queueId });
        }
        break;
      }
      case 'call.data-changed': {
        const attached = obj(p.attached);
        const from = str(attached.overflowFrom);
        if (from !== undefined) {
          record(from, attached.overflowReason === 'max-wait' ? 'timed-out' : 'rejected', 0);
          enqueuedAt.set(e.aggregateId, at);
        }
        break;
      }
      case 'call.ended': {
        const reason = str(p.reason) ?? '';
        const cdr = obj(p.cdr);
        const queueId = str(cdr.queueId);
        const waitMs = at - (enqueuedAt.get(e.aggregateId) ?? at - (num(cdr.waitMs) ?? 0));
        enqueuedAt.delete(e.aggregateId);
        if (p.to === 'abandoned') {
          if (today) tally.abandoned++;
          record(queueId, 'abandoned', waitMs);
        } else if (reason.startsWith('fallback:')) {
          if (today) tally.fallbacks++;
          const why = obj(p.detail).fallbackReason;
          record(queueId, why === 'max-wait' ? 'timed-out' : 'rejected', why === 'max-wait' ? waitMs : 0);
        } else if (today) {
          if (reason.startsWith('ivr:')) tally.selfService++;
          else if (reason === 'no-ivr-port') tally.blockedNoIvrPort++;
          else if (reason === 'callback-no-answer' && callbacksQueuedToday.has(e.aggregateId)) tally.queued--;
        }
        break;
      }
      case 'agent.state-changed': {
        const answered = answeredBy.get(e.aggregateId);
        if (p.from === 'wrap-up' && answered) {
          answeredBy.delete(e.aggregateId);
          const aht = ahtMs.get(answered.queueId);
          // Only a wrap-up the ACD ended (ready, or a pending not-ready) is a handle time: an
          // agent logged out in wrap-up by a stopping site never finished it (acd/core.ts).
          if (aht !== undefined && p.to !== 'logged-out') {
            ahtMs.set(answered.queueId, aht + o.handleTime.alpha * (at - answered.atMs - aht));
          }
        }
        break;
      }
      case 'ticket.opened':
        if (today) tally.ticketsOpened++;
        break;
      case 'card-loss.reported':
        if (today) tally.cardLossReports++;
        break;
      case 'callback.scheduled':
        if (today) tally.callbacksScheduled++;
        break;
    }
  }
  return { tally, windows, ahtMs };
}
