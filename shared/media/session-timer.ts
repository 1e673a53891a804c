/**
 * RFC 4028 session timer, running (pure; session-expires.ts negotiates it). The refresher
 * sends a refresh (re-INVITE or UPDATE) at half the interval; each refresh that succeeds,
 * whichever side sent it, starts the interval over. A session not refreshed in time is over:
 * we send BYE. The adapter feeds events and ticks at the `wake-at` it is given.
 *
 *          negotiated         half the interval, we refresh
 *   off -------------> running ----------------------------> refreshing
 *                      |  ^  ^                                  |   |
 *                      |  |  +-- refreshed / failed (retry) ----+   |
 *                      |  +-- refreshed (their refresh)             | 408, 481, or expiry
 *                      |        expiry: send BYE                    v
 *                      +------------------------------------------> expired
 *   ended (from any state) -> off
 *
 * - Deadline (§10): the refresher gives up at the expiry; the other side sends its BYE
 *   min(32 s, interval / 3) before it, so its BYE is not crossed by a refresh still on its way.
 * - A refresh answered 408 or 481 (or timed out) means the dialog is gone: BYE at once (§10).
 *   Any other failure (491 glare, 500) leaves the session up and the refresh is retried
 *   halfway to the deadline, at least a second later.
 */
import { DomainError } from '../errors.js';

export type SessionTimerState = 'off' | 'running' | 'refreshing' | 'expired';

export type SessionTimerEvent =
  /** A dialog's offer/answer completed with a timer (at set-up, or any 2xx to a refresh). */
  | { kind: 'refreshed'; intervalS: number; weRefresh: boolean }
  /** A 2xx to a re-INVITE/UPDATE with no Session-Expires: no timer any more. */
  | { kind: 'cleared' }
  /** Our refresh ended without a 2xx: its final status, or 408 for a transaction timeout. */
  | { kind: 'refresh-failed'; status: number }
  | { kind: 'tick' }
  | { kind: 'ended' };

export type SessionTimerCommand =
  | { kind: 'send-refresh' }
  | { kind: 'send-bye'; reason: 'session-expired' | 'refresh-failed' }
  | { kind: 'wake-at'; atMs: number };

export interface SessionTimer {
  state: SessionTimerState;
  intervalMs: number;
  weRefresh: boolean;
  /** When the next refresh is due (refresher) — meaningless for the other side. */
  refreshAtMs: number;
  /** When we give up and send BYE. */
  byeAtMs: number;
}

export const sessionTimer = (): SessionTimer => ({
  state: 'off',
  intervalMs: 0,
  weRefresh: false,
  refreshAtMs: 0,
  byeAtMs: 0,
});

const MOVES: Readonly<Record<SessionTimerState, readonly SessionTimerState[]>> = {
  off: ['running'],
  running: ['running', 'refreshing', 'expired'],
  refreshing: ['running', 'expired'],
  expired: [],
};

function move(t: SessionTimer, to: SessionTimerState, patch: Partial<SessionTimer> = {}): SessionTimer {
  // `ended` and `cleared` lead to off from every state; they do not come through here.
  if (!MOVES[t.state].includes(to)) {
    throw new DomainError('internal', `session timer: no move from ${t.state} to ${to}`);
  }
  return { ...t, ...patch, state: to };
}

const MIN_RETRY_MS = 1000;

const nextWake = (t: SessionTimer): SessionTimerCommand[] =>
  t.state === 'running' && t.weRefresh
    ? [{ kind: 'wake-at', atMs: Math.min(t.refreshAtMs, t.byeAtMs) }]
    : t.state === 'running' || t.state === 'refreshing'
      ? [{ kind: 'wake-at', atMs: t.byeAtMs }]
      : [];

export function stepSessionTimer(
  t: SessionTimer,
  event: SessionTimerEvent,
  nowMs: number,
): { timer: SessionTimer; commands: SessionTimerCommand[] } {
  const stay = { timer: t, commands: [] };
  switch (event.kind) {
    case 'ended':
    case 'cleared':
      return { timer: sessionTimer(), commands: [] };
    case 'refreshed': {
      if (t.state === 'expired') return stay; // the BYE is already out
      if (!Number.isFinite(event.intervalS) || event.intervalS < 1) {
        throw new DomainError(
          'invalid-argument',
          `session timer: interval ${event.intervalS} s is not positive`,
          {
            field: 'Session-Expires',
          },
        );
      }
      const intervalMs = event.intervalS * 1000;
      const early = event.weRefresh ? 0 : Math.min(32_000, intervalMs / 3);
      const timer = move(t, 'running', {
        intervalMs,
        weRefresh: event.weRefresh,
        refreshAtMs: nowMs + intervalMs / 2,
        byeAtMs: nowMs + intervalMs - early,
      });
      return { timer, commands: nextWake(timer) };
    }
    case 'refresh-failed': {
      if (t.state !== 'refreshing') return stay;
      if (event.status === 408 || event.status === 481) {
        return { timer: move(t, 'expired'), commands: [{ kind: 'send-bye', reason: 'refresh-failed' }] };
      }
      const retryAt = nowMs + Math.max(MIN_RETRY_MS, (t.byeAtMs - nowMs) / 2);
      const timer = move(t, 'running', { refreshAtMs: retryAt });
      return { timer, commands: nextWake(timer) };
    }
    case 'tick': {
      if (t.state !== 'running' && t.state !== 'refreshing') return stay;
      if (nowMs >= t.byeAtMs) {
        return { timer: move(t, 'expired'), commands: [{ kind: 'send-bye', reason: 'session-expired' }] };
      }
      if (t.state === 'running' && t.weRefresh && nowMs >= t.refreshAtMs) {
        const timer = move(t, 'refreshing');
        return { timer, commands: [{ kind: 'send-refresh' }, ...nextWake(timer)] };
      }
      return { timer: t, commands: nextWake(t) };
    }
  }
}
