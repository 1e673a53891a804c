/**
 * RTP inactivity watchdog (pure): a talking call on which no RTP has arrived for
 * `timeoutMs` has lost its far end (a phone unplugged, a NAT binding gone, a BYE lost), and
 * is ended with `far-end-gone`. Only while we expect media in: a call the far end holds with
 * `inactive` (or whose agreed direction gives us nothing to receive) sends nothing, and is
 * not watched until media flows our way again. The adapter feeds packets and ticks (at the
 * `wake-at` it is given) and carries out the commands; no clock or socket in here.
 *
 *            receiving                      silent for timeoutMs
 *   idle -----------------> watching ----------------------------> gone
 *     ^   not-receiving        |  ^                                  |
 *     +------------------------+  +-- packet (silence starts over)   |
 *     +---------------------- stopped (from any state) --------------+
 *
 * `gone` stays gone (one `far-end-gone` per call) until the call is stopped.
 */
import { DomainError } from '../errors.js';

export type InactivityState = 'idle' | 'watching' | 'gone';

export type InactivityEvent =
  | { kind: 'receiving' }
  | { kind: 'not-receiving' }
  | { kind: 'packet' }
  | { kind: 'tick' }
  | { kind: 'stopped' };

export type InactivityCommand =
  { kind: 'far-end-gone'; silentForMs: number } | { kind: 'wake-at'; atMs: number };

export interface InactivityWatch {
  state: InactivityState;
  timeoutMs: number;
  /** When the current silence began: the last packet, or when watching started. */
  lastHeardMs: number;
}

/** Asterisk's rtptimeout and most SBCs default to 30 s; shorter cuts off silence-suppressing phones. */
export const DEFAULT_RTP_TIMEOUT_MS = 30_000;

export function inactivityWatch(timeoutMs: number = DEFAULT_RTP_TIMEOUT_MS): InactivityWatch {
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new DomainError(
      'invalid-argument',
      `rtpTimeoutMs: must be a positive number of ms, got ${timeoutMs}`,
      {
        field: 'rtpTimeoutMs',
      },
    );
  }
  return { state: 'idle', timeoutMs, lastHeardMs: 0 };
}

const MOVES: Readonly<Record<InactivityState, readonly InactivityState[]>> = {
  idle: ['watching'],
  watching: ['idle', 'gone'],
  gone: [],
};

function move(w: InactivityWatch, to: InactivityState, lastHeardMs = w.lastHeardMs): InactivityWatch {
  // `stopped` is the one way out of every state; it does not come through here.
  if (!MOVES[w.state].includes(to)) {
    throw new DomainError('internal', `inactivity watch: no move from ${w.state} to ${to}`);
  }
  return { ...w, state: to, lastHeardMs };
}

export function stepInactivity(
  w: InactivityWatch,
  event: InactivityEvent,
  nowMs: number,
): { watch: InactivityWatch; commands: InactivityCommand[] } {
  const wakeAt = (x: InactivityWatch): InactivityCommand[] => [
    { kind: 'wake-at', atMs: x.lastHeardMs + x.timeoutMs },
  ];
  switch (event.kind) {
    case 'stopped':
      return { watch: { ...w, state: 'idle', lastHeardMs: nowMs }, commands: [] };
    case 'receiving': {
      if (w.state !== 'idle') return { watch: w, commands: [] };
      const watch = move(w, 'watching', nowMs);
      return { watch, commands: wakeAt(watch) };
    }
    case 'not-receiving':
      return w.state === 'watching' ? { watch: move(w, 'idle'), commands: [] } : { watch: w, commands: [] };
    case 'packet':
      // Ticks are only asked for at the end of a silence, so a packet needs no new wake-up:
      // the tick at the old time finds the newer packet and asks again.
      return w.state === 'watching'
        ? { watch: { ...w, lastHeardMs: Math.max(w.lastHeardMs, nowMs) }, commands: [] }
        : { watch: w, commands: [] };
    case 'tick': {
      if (w.state !== 'watching') return { watch: w, commands: [] };
      const silentForMs = nowMs - w.lastHeardMs;
      if (silentForMs < w.timeoutMs) return { watch: w, commands: wakeAt(w) };
      return { watch: move(w, 'gone'), commands: [{ kind: 'far-end-gone', silentForMs }] };
    }
  }
}
