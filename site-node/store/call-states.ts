/**
 * The call state machine as the store enforces it (docs/architecture.md §4). One guarded function,
 * `checkCallTransition`, decides; the repository refuses anything it rejects.
 *
 *            +--------------------------------------------------+
 *            |                  (ring-no-answer)                |
 *   ivr ---> queued ---> offered ---> connected ---> wrapup ---> ended
 *              ^                         |  (agent transfer to another queue)
 *              '-------------------------'
 *    |  \      |  ^ <------' |            |                       ^
 *    |   \     |             |            '-----------------------'
 *    |    \    +--> overflowed (the call left for another site)
 *    |     \   +--> callback-scheduled (caller chose a callback)
 *    |      '--+--> abandoned (caller hung up before an agent answered)
 *    '-----------> ended (self-service completed in the IVR)
 *   any non-terminal state --> failed (media/trunk failure, site restart)
 *
 * Terminal states: ended, abandoned, overflowed, callback-scheduled, failed.
 */
import { DomainError } from '../../shared/errors.js';

export const CALL_STATES = [
  'ivr',
  'queued',
  'offered',
  'connected',
  'wrapup',
  'ended',
  'abandoned',
  'overflowed',
  'callback-scheduled',
  'failed',
] as const;
export type CallState = (typeof CALL_STATES)[number];

export const TERMINAL_CALL_STATES = [
  'ended',
  'abandoned',
  'overflowed',
  'callback-scheduled',
  'failed',
] as const;
export type TerminalCallState = (typeof TERMINAL_CALL_STATES)[number];
export type LiveCallState = Exclude<CallState, TerminalCallState>;

const NEXT: Record<LiveCallState, readonly CallState[]> = {
  ivr: ['queued', 'ended', 'abandoned', 'callback-scheduled', 'failed'],
  // queued -> ended: the queue's fallback (max wait, queue full, after hours) played an
  // announcement or took a message and released the caller.
  queued: ['offered', 'ended', 'abandoned', 'overflowed', 'callback-scheduled', 'failed'],
  offered: ['connected', 'queued', 'abandoned', 'failed'],
  // connected -> queued: the agent transferred the call into another queue.
  connected: ['wrapup', 'ended', 'queued', 'failed'],
  wrapup: ['ended', 'failed'],
};

export function isTerminal(s: CallState): s is TerminalCallState {
  return (TERMINAL_CALL_STATES as readonly string[]).includes(s);
}

export function isCallState(s: string): s is CallState {
  return (CALL_STATES as readonly string[]).includes(s);
}

export function canTransition(from: CallState, to: CallState): boolean {
  if (isTerminal(from)) return false;
  return NEXT[from].includes(to);
}

/** Throws `failed-precondition` for an illegal move, `invalid-argument` for an unknown state. */
export function checkCallTransition(callId: string, from: CallState, to: string): asserts to is CallState {
  if (!isCallState(to)) {
    throw new DomainError(
      'invalid-argument',
      `call state ${JSON.stringify(to)} is not one of ${CALL_STATES.join(', ')}`,
      {
        field: 'to',
      },
    );
  }
  if (!canTransition(from, to)) {
    throw new DomainError('failed-precondition', `call ${callId}: illegal transition ${from} -> ${to}`);
  }
}
