/**
 * The agent state machine (docs/architecture.md §3.4, §4).
 *
 * ```
 *                 login(ready)            offer-call
 *   logged-out ------------------> ready ------------> reserved
 *      |  ^                       ^ | ^  caller-abandon  |   |
 *      |  | logout                | | +------------------+   | agent-answered
 *      |  +-----------------------|-+                        v
 *      |  | logout       ready    | | not-ready           on-call
 *      |  |        +--------------+ |                        |
 *      v  |        |                v  ring-no-answer        | agent-hung-up / caller-hung-up
 *    not-ready <---+-- not-ready <------- (from reserved)     | / transfer
 *    (reason)  <-- reason change                             v
 *      ^                                                  wrap-up --(timer / wrapup-done)--> ready
 *      +------------------- wrap-up ends with a pending not-ready ---------------------------+
 * ```
 *
 * Legal moves, exactly:
 *
 * | from        | to                                                        |
 * |-------------|-----------------------------------------------------------|
 * | logged-out  | ready, not-ready                                          |
 * | ready       | reserved, not-ready, logged-out                           |
 * | not-ready   | ready, not-ready (new reason), logged-out                 |
 * | reserved    | on-call (answered), ready (caller abandoned),             |
 * |             | not-ready (ring-no-answer, lease lapsed, or abandoned     |
 * |             | with a pending not-ready)                                 |
 * | on-call     | wrap-up                                                   |
 * | wrap-up     | ready, not-ready (pending not-ready applied)              |
 *
 * A not-ready request while reserved, on-call or in wrap-up is not a move: it is recorded
 * as pending and applied when wrap-up ends (or when an offer ends without a call). A
 * ring-no-answer replaces a pending reason with `ring-no-answer`; `agent-ready` during
 * wrap-up ends it early and drops a pending not-ready; logging out needs ready or not-ready.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { AgentStateName } from './types.js';

const LEGAL: Readonly<Record<AgentStateName, readonly AgentStateName[]>> = {
  'logged-out': ['ready', 'not-ready'],
  ready: ['reserved', 'not-ready', 'logged-out'],
  'not-ready': ['ready', 'not-ready', 'logged-out'],
  reserved: ['on-call', 'ready', 'not-ready'],
  'on-call': ['wrap-up'],
  'wrap-up': ['ready', 'not-ready'],
};

export function canTransition(from: AgentStateName, to: AgentStateName): boolean {
  return LEGAL[from].includes(to);
}

/**
 * The one guard every agent state change in the core goes through. Throws
 * DomainError('failed-precondition') naming the agent and both states; changes nothing.
 */
export function assertAgentTransition(
  agentId: string,
  from: AgentStateName,
  to: AgentStateName,
  why: string,
): void {
  if (!LEGAL[from].includes(to)) {
    throw failedPrecondition(
      `agent ${JSON.stringify(agentId)} cannot ${why}: it is ${from} (${from} -> ${to} is not allowed)`,
    );
  }
}

/** States in which the agent is logged in and counted as staffed. */
export function isStaffed(s: AgentStateName): boolean {
  return s !== 'logged-out';
}

/** States in which the agent is working a call (reserved counts: the phone is ringing). */
export function isBusy(s: AgentStateName): boolean {
  return s === 'reserved' || s === 'on-call' || s === 'wrap-up';
}
