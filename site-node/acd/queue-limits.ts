/**
 * Queue limits: what happens when a call may not (or may no longer) wait in a queue.
 *
 * - On entry (arrival, transfer in, overflow in): closed by the queue's calendar ->
 *   `after-hours` fallback; otherwise an eligible ready agent gets the call at once;
 *   otherwise if `waiting >= maxQueueLength` -> `queue-full` fallback; otherwise it waits.
 *   (So `maxQueueLength: 0` means "only if an agent is free".)
 * - While waiting: once it has waited `maxWaitMs` in this queue -> `max-wait` fallback.
 *   A ring-no-answer re-queue keeps the original enqueue time, so time spent ringing counts.
 *
 * - A callback (a virtual call keeping a caller's place, and the call it becomes once the
 *   customer answers) is never turned away: no calendar, length or max-wait check applies to
 *   it, and virtual calls do not count towards `maxQueueLength` (they hold no trunk).
 *
 * One timer per waiting call (`wait:<callId>`) fires at the earlier of its next expansion
 * threshold and its max-wait deadline; it is cancelled while the call is offered.
 */
import type { CompiledQueue } from './config.js';
import { isOpen } from './hours.js';
import type { FallbackAction, FallbackReason } from './types.js';

export type EntryDecision = { ok: true } | { ok: false; reason: FallbackReason; action: FallbackAction };

const OK: EntryDecision = { ok: true };

/** Checks that do not depend on agents: business hours. */
export function checkOpen(cfg: CompiledQueue, nowMs: number): EntryDecision {
  return isOpen(cfg.calendar, nowMs) ? OK : { ok: false, reason: 'after-hours', action: cfg.afterHours };
}

/** Called only when no agent can take the call now. */
export function checkRoom(cfg: CompiledQueue, waiting: number): EntryDecision {
  return waiting < cfg.maxQueueLength ? OK : { ok: false, reason: 'queue-full', action: cfg.onQueueFull };
}

export function maxWaitExceeded(cfg: CompiledQueue, enqueueMs: number, nowMs: number): boolean {
  return nowMs - enqueueMs >= cfg.maxWaitMs;
}

/**
 * When the wait timer of a call at `level` should fire next; undefined = never. A callback
 * (`noMaxWait`) has no max wait: the place was promised, so only skill expansion times it.
 */
export function nextWaitDeadline(
  cfg: CompiledQueue,
  enqueueMs: number,
  level: number,
  noMaxWait = false,
): number | undefined {
  let at = noMaxWait ? Number.POSITIVE_INFINITY : enqueueMs + cfg.maxWaitMs;
  const next = cfg.levels[level + 1];
  if (next) at = Math.min(at, enqueueMs + next.afterMs);
  return Number.isFinite(at) ? at : undefined;
}
