/**
 * Live queue statistics, computed from what the core records as it steps (time is an
 * input; nothing reads a clock).
 *
 * Sliding window (default 15 min): every call that leaves a queue's waiting line is one
 * record `{atMs, kind, waitMs}` in that queue, at the moment it leaves:
 * - `answered`   the agent answered (wait = enqueue -> answer, ring time included)
 * - `abandoned`  the caller hung up while queued or ringing
 * - `timed-out`  the max-wait fallback took it (including overflow to another queue)
 * - `rejected`   turned away on entry: queue full or after hours (never waited)
 * A record counts while `nowMs - windowMs < atMs <= nowMs`. A ring-no-answer does not leave
 * the line (the call is re-queued at its old place) and a transfer out is already
 * `answered`, so each visit of a call to a queue is counted once.
 *
 * Service level and abandon rate: the one definition in shared/stats/service-level.ts,
 * over the window's counts. T = `thresholdMs` (default 20 s); a short abandon is a caller
 * abandon with a wait < `shortAbandonMs` (default 5 s); time-outs are the calls a fallback
 * ended; `rejected` calls are turned away, and the ACD leaves them out (turnedAway:
 * 'excluded'), so offered = answered + abandoned + timedOut. All three definitions are
 * reported in `serviceLevels`; `serviceLevel` is the configured one, default
 * `abandons-penalise`. The abandon rate counts caller abandons only (time-outs are reported
 * separately).
 *
 * ASA = mean wait of answered calls in the window.
 *
 * EWT (expected wait time) for a new call of priority p: with `ahead` = calls waiting with
 * priority >= p, `R` = ready agents with the queue's skill, `N` = staffed agents with the
 * skill that are ready or busy (not-ready ones are not serving), AHT = exponential moving
 * average of handle time (answer -> end of wrap-up, alpha from config):
 *   EWT = 0 if ahead < R; null if N = 0; else (ahead + 1 - R) * AHT / N.
 * It is the "position times AHT over servers" estimate; good enough to decide callbacks.
 */
import { isBusy } from './agent-state.js';
import { queuedCalls, ranksAbove } from './routing.js';
import type { AcdState, QueueRt } from './state.js';
import { routingWork } from './work-count.js';
import { invalidArgument, failedPrecondition } from '../../shared/errors.js';
import {
  type QueueOutcomeCounts,
  type ServiceLevelDefinition,
  type ServiceLevelRule,
  measureServiceLevel,
} from '../../shared/stats/service-level.js';

const ANSWERED = 0;
const ABANDONED = 1;
const TIMED_OUT = 2;
const REJECTED = 3;
export type WindowKind = 'answered' | 'abandoned' | 'timed-out' | 'rejected';
const KIND: Record<WindowKind, number> = {
  answered: ANSWERED,
  abandoned: ABANDONED,
  'timed-out': TIMED_OUT,
  rejected: REJECTED,
};

/**
 * The records, three numbers each (at, kind, wait) in one array, so a record is written to one
 * place, and running sums over the records still inside.
 */
export interface QueueWindow {
  recs: number[];
  /** Index of the first record still inside (a multiple of 3). */
  head: number;
  answered: number;
  answeredWithinT: number;
  answeredWaitSum: number;
  abandoned: number;
  shortAbandoned: number;
  timedOut: number;
  rejected: number;
}

export function createQueueWindow(): QueueWindow {
  return {
    recs: [],
    head: 0,
    answered: 0,
    answeredWithinT: 0,
    answeredWaitSum: 0,
    abandoned: 0,
    shortAbandoned: 0,
    timedOut: 0,
    rejected: 0,
  };
}

interface SlConfig {
  thresholdMs: number;
  windowMs: number;
  shortAbandonMs: number;
}

function apply(w: QueueWindow, kind: number, wait: number, sl: SlConfig, sign: 1 | -1): void {
  switch (kind) {
    case ANSWERED:
      w.answered += sign;
      w.answeredWaitSum += sign * wait;
      if (wait <= sl.thresholdMs) w.answeredWithinT += sign;
      break;
    case ABANDONED:
      w.abandoned += sign;
      if (wait < sl.shortAbandonMs) w.shortAbandoned += sign;
      break;
    case TIMED_OUT:
      w.timedOut += sign;
      break;
    default:
      w.rejected += sign;
  }
}

function prune(w: QueueWindow, nowMs: number, sl: SlConfig): void {
  const cutoff = nowMs - sl.windowMs;
  const r = w.recs;
  let h = w.head;
  const n = r.length;
  while (h < n && r[h]! <= cutoff) {
    routingWork.steps++;
    apply(w, r[h + 1]!, r[h + 2]!, sl, -1);
    h += 3;
  }
  if (h === n) {
    r.length = 0;
    h = 0;
  } else if (h > 3072 && h * 2 > n) {
    routingWork.steps += (n - h) / 3;
    r.splice(0, h);
    h = 0;
  }
  w.head = h;
}

export function recordWindow(state: AcdState, q: QueueRt, kind: WindowKind, waitMs: number): void {
  const sl = state.config.serviceLevel;
  const w = q.window;
  const k = KIND[kind];
  w.recs.push(state.nowMs, k, waitMs);
  apply(w, k, waitMs, sl, 1);
  if (w.recs[w.head]! <= state.nowMs - sl.windowMs) prune(w, state.nowMs, sl);
}

/**
 * Take back the newest answer of `waitMs` still in the window (an answer at the desk whose
 * caller left before the phone was bridged: core.ts onCallerHungUp). Searched from the newest
 * record, where it is: the phone rings seconds, not a window, after the answer. Nothing when
 * it has left the window already.
 */
export function withdrawAnswered(state: AcdState, q: QueueRt, waitMs: number): void {
  const w = q.window;
  const r = w.recs;
  for (let i = r.length - 3; i >= w.head; i -= 3) {
    routingWork.steps++;
    if (r[i + 1] === ANSWERED && r[i + 2] === waitMs) {
      apply(w, ANSWERED, waitMs, state.config.serviceLevel, -1);
      r.splice(i, 3);
      return;
    }
  }
}

/**
 * Put back a queue's window and AHT rebuilt from stored events (runtime/stats-rebuild.ts) when
 * a site starts, at `nowMs` (the state moves on to it; never back): `records` in time order,
 * none after `nowMs`. Records already outside the window are dropped by the same prune the live
 * window uses.
 */
export function restoreQueueStats(
  state: AcdState,
  queueId: string,
  records: ReadonlyArray<{ atMs: number; kind: WindowKind; waitMs: number }>,
  ahtMs: number,
  nowMs: number,
): void {
  checkTime(state, nowMs);
  const q = queueOf(state, queueId);
  for (const r of records) {
    if (r.atMs > nowMs) throw failedPrecondition(`window record at ${r.atMs} ms is after ${nowMs} ms`);
  }
  state.nowMs = nowMs;
  const sl = state.config.serviceLevel;
  const w = q.window;
  for (const r of records) {
    const k = KIND[r.kind];
    w.recs.push(r.atMs, k, r.waitMs);
    apply(w, k, r.waitMs, sl, 1);
  }
  prune(w, state.nowMs, sl);
  q.ahtMs = ahtMs;
}

/** Fold one handle time (answer -> end of wrap-up) into the queue's moving average. */
export function recordHandleTime(state: AcdState, q: QueueRt, handleMs: number): void {
  q.ahtMs += state.config.handleTime.alpha * (handleMs - q.ahtMs);
}

export interface ServiceLevels {
  abandonsIgnored: number | null;
  abandonsPenalise: number | null;
  shortAbandonsExcluded: number | null;
}

export interface QueueStats {
  queueId: string;
  atMs: number;
  waiting: number;
  /** Longest current wait, 0 when nobody waits. */
  oldestWaitMs: number;
  /** Agents with the queue's own skill (expansion skills not counted). */
  agentsStaffed: number;
  agentsReady: number;
  /** Reserved, on-call or in wrap-up. */
  agentsBusy: number;
  agentsNotReady: number;
  /** For a new call of priority 0; see `expectedWaitMs` for other priorities. null = no agent serving. */
  ewtMs: number | null;
  ahtMs: number;
  window: {
    windowMs: number;
    thresholdMs: number;
    shortAbandonMs: number;
    offered: number;
    answered: number;
    answeredWithinT: number;
    abandoned: number;
    shortAbandoned: number;
    timedOut: number;
    rejected: number;
  };
  serviceLevelDefinition: ServiceLevelDefinition;
  /** The configured definition's value (0..1), null when there is nothing to measure. */
  serviceLevel: number | null;
  serviceLevels: ServiceLevels;
  asaMs: number | null;
  abandonRate: number | null;
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/**
 * A queue's level says how fast callers who waited were answered; a call refused on entry
 * (queue full, closed) never waited, so it is left out (the hub and the site tally count it).
 */
const ACD_TURNED_AWAY: ServiceLevelRule['turnedAway'] = 'excluded';

function queueOf(state: AcdState, queueId: string): QueueRt {
  const q = state.queueById.get(queueId);
  if (!q) throw invalidArgument('queueId', `unknown queue "${queueId}"`);
  return q;
}

function checkTime(state: AcdState, nowMs: number): void {
  if (!(nowMs >= state.nowMs)) {
    throw failedPrecondition(`stats asked at ${nowMs} ms, before the last step (${state.nowMs} ms)`);
  }
}

function staffing(q: QueueRt): { staffed: number; ready: number; busy: number; notReady: number } {
  let ready = 0;
  let busy = 0;
  let notReady = 0;
  for (const a of q.own.staffed) {
    if (a.state === 'ready') ready++;
    else if (isBusy(a.state)) busy++;
    else if (a.state === 'not-ready') notReady++;
  }
  return { staffed: ready + busy + notReady, ready, busy, notReady };
}

/**
 * EWT for a new call of `priority` in `queueId` (see module doc). `belowOwn`: for a call that
 * would rank below every own caller (routing.ts): every own caller waiting is ahead of it, so
 * its estimate is at least an own caller's; own callers yet to arrive will push it back too,
 * which no estimate of the present can count.
 */
export function expectedWaitMs(
  state: AcdState,
  queueId: string,
  priority: number,
  nowMs: number,
  belowOwn = false,
): number | null {
  checkTime(state, nowMs);
  const q = queueOf(state, queueId);
  return ewt(state, q, priority, belowOwn);
}

function ewt(state: AcdState, q: QueueRt, priority: number, belowOwn = false): number | null {
  let ahead = 0;
  const rank = { belowOwn, priority };
  for (const b of q.buckets) if (!ranksAbove(rank, b)) ahead += b.calls.length - b.head;
  const s = staffing(q);
  if (ahead < s.ready) return 0;
  const n = s.ready + s.busy;
  if (n === 0) return null;
  return Math.round(((ahead + 1 - s.ready) * q.ahtMs) / n);
}

export function queueStats(state: AcdState, queueId: string, nowMs: number): QueueStats {
  checkTime(state, nowMs);
  const q = queueOf(state, queueId);
  const sl = state.config.serviceLevel;
  const w = q.window;
  prune(w, nowMs, sl);
  let oldest = Number.POSITIVE_INFINITY;
  for (const b of q.buckets) {
    // The bucket head is the oldest call of the bucket, except a re-queue keeps its old time.
    for (let i = b.head; i < b.calls.length; i++) oldest = Math.min(oldest, b.calls[i]!.enqueueMs);
  }
  const s = staffing(q);
  const counts: QueueOutcomeCounts = {
    answeredWithinT: w.answeredWithinT,
    answeredAfterT: w.answered - w.answeredWithinT,
    abandoned: w.abandoned,
    shortAbandoned: w.shortAbandoned,
    endedByFallback: w.timedOut,
    turnedAway: w.rejected,
  };
  const measure = (definition: ServiceLevelRule['definition']) =>
    measureServiceLevel(counts, { definition, turnedAway: ACD_TURNED_AWAY });
  const configured = measure(sl.definition);
  const levels: ServiceLevels = {
    abandonsIgnored: measure('abandons-ignored').serviceLevel,
    abandonsPenalise: measure('abandons-penalise').serviceLevel,
    shortAbandonsExcluded: measure('short-abandons-excluded').serviceLevel,
  };
  return {
    queueId,
    atMs: nowMs,
    waiting: q.waiting,
    oldestWaitMs: q.waiting === 0 ? 0 : nowMs - oldest,
    agentsStaffed: s.staffed,
    agentsReady: s.ready,
    agentsBusy: s.busy,
    agentsNotReady: s.notReady,
    ewtMs: ewt(state, q, 0),
    ahtMs: Math.round(q.ahtMs),
    window: {
      windowMs: sl.windowMs,
      thresholdMs: sl.thresholdMs,
      shortAbandonMs: sl.shortAbandonMs,
      offered: configured.offered,
      answered: w.answered,
      answeredWithinT: w.answeredWithinT,
      abandoned: w.abandoned,
      shortAbandoned: w.shortAbandoned,
      timedOut: w.timedOut,
      rejected: w.rejected,
    },
    serviceLevelDefinition: sl.definition,
    serviceLevel: configured.serviceLevel,
    serviceLevels: levels,
    asaMs: ratio(w.answeredWaitSum, w.answered),
    abandonRate: configured.abandonRate,
  };
}

/** Every queued call in service order, for dashboards and tests. */
export function waitingCalls(state: AcdState, queueId: string): string[] {
  return [...queuedCalls(queueOf(state, queueId))].map((c) => c.id);
}
