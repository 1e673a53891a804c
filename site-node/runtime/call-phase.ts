/**
 * A live call's phase at the site (docs/architecture.md §4.2, §8): what the media does with the
 * caller now. The ACD core holds the call's queue state; this phase is the adapter's own view,
 * and every change of it goes through `movePhase`, so a command arriving out of order is
 * refused naming the call instead of silently re-labelling it.
 *
 * ```
 *   new inbound call              adopted: a callback answered, a call moved in
 *        |                                   |
 *        v        ivr-transfer               v           offer-call
 *       ivr --------------------------->  queued  ------------------------> offered
 *                                          ^  ^    ring-no-answer /            |
 *                                          |  +------- lease-lapsed -----------+
 *                                          |                                   | call-connected
 *                                          |        call-transferred           v
 *                                          +------------------------------ connected
 *                                                                              |
 *                                                 call-ended(completed, agent) |
 *                                                                              v
 *                                                                           wrapup
 * ```
 *
 * Leaving the live set (an end, a move to another site, a release at stop) is not a phase
 * move: the call is dropped from the flow's map from whatever phase it is in.
 */
import { failedPrecondition } from '../../shared/errors.js';

export type CallPhase = 'ivr' | 'queued' | 'offered' | 'connected' | 'wrapup';

/** The phases a live call can start in: a new call in the IVR, an adopted one waiting. */
export type InitialCallPhase = Extract<CallPhase, 'ivr' | 'queued'>;

const LEGAL: Readonly<Record<CallPhase, readonly CallPhase[]>> = {
  ivr: ['queued'],
  queued: ['offered'],
  offered: ['queued', 'connected'],
  connected: ['queued', 'wrapup'],
  wrapup: [],
};

export function canMovePhase(from: CallPhase, to: CallPhase): boolean {
  return LEGAL[from].includes(to);
}

/**
 * The one way a live call's phase changes. Throws DomainError('failed-precondition') naming the
 * call and both phases, and changes nothing, when the move is not in the table.
 */
export function movePhase(
  call: { readonly callId: string; phase: CallPhase },
  to: CallPhase,
  why: string,
): void {
  const from = call.phase;
  if (!LEGAL[from].includes(to)) {
    throw failedPrecondition(
      `call ${JSON.stringify(call.callId)} cannot ${why}: it is ${from} (${from} -> ${to} is not allowed)`,
    );
  }
  call.phase = to;
}
