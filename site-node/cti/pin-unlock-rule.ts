/**
 * Who may lift a customer's PIN lock from the agent desk (docs/architecture.md §4.3): a pure
 * rule, so the site's desk and the in-memory fake cannot drift apart. Given the agent, the
 * call the agent names and the request, it answers allow, or refuse with the error kind and
 * why. The lock lives at the bank host; the host trusts the site to have checked this.
 *
 * - The request must be well formed: the customer, a verification method from the closed
 *   list `UNLOCK_METHODS` (how the agent proved who the caller is), a reason.
 * - The agent must be logged in and on a call, connected or in wrap-up (failed-precondition):
 *   an offered call is not yet the agent's conversation.
 * - The call must be the agent's own, and its caller must be that customer (permission-denied):
 *   an agent acts only for the caller they are talking to, never for another agent's call or
 *   another customer.
 */
import type { AgentStateName } from './agent-desk.js';

/** How the agent verified the caller's identity; nothing else is accepted. */
export const UNLOCK_METHODS = ['security-questions', 'id-document', 'callback-to-registered-phone'] as const;
export type UnlockMethod = (typeof UNLOCK_METHODS)[number];

/** The longest reason and verification detail kept (they go to the host's record and the event). */
export const MAX_UNLOCK_REASON = 300;
export const MAX_UNLOCK_DETAIL = 200;

export interface PinUnlockAsk {
  agentId: string;
  /** The call the agent is on with the customer. */
  callId: string;
  customerId: string;
  verification: { method: string; detail: string };
  reason: string;
}

export interface PinUnlockFacts {
  /** The agent's state now; undefined for an agent the site does not know. */
  agent: { state: AgentStateName; callId?: string } | undefined;
  /** The call named, if the site has it live: whose it is and who the caller was identified as. */
  call: { agentId?: string; customerId?: string } | undefined;
}

export type PinUnlockDecision =
  | { allow: true; method: UnlockMethod }
  | {
      allow: false;
      kind: 'invalid-argument' | 'not-found' | 'failed-precondition' | 'permission-denied';
      /** The request field at fault, for invalid-argument. */
      field?: string;
      why: string;
    };

const isMethod = (m: string): m is UnlockMethod => (UNLOCK_METHODS as readonly string[]).includes(m);

export function decidePinUnlock(ask: PinUnlockAsk, facts: PinUnlockFacts): PinUnlockDecision {
  const bad = (field: string, why: string): PinUnlockDecision => ({
    allow: false,
    kind: 'invalid-argument',
    field,
    why: `${field}: ${why}`,
  });
  if (ask.customerId.length === 0) return bad('customerId', 'must not be empty');
  const method = ask.verification.method;
  if (method.length === 0) {
    return bad('verification.method', `must say how identity was verified (${UNLOCK_METHODS.join(', ')})`);
  }
  if (!isMethod(method)) {
    return bad(
      'verification.method',
      `${JSON.stringify(method)} is not a verification method (${UNLOCK_METHODS.join(', ')})`,
    );
  }
  if (ask.verification.detail.length > MAX_UNLOCK_DETAIL) {
    return bad('verification.detail', `must be at most ${MAX_UNLOCK_DETAIL} characters`);
  }
  if (ask.reason.trim().length === 0) return bad('reason', 'must say why the lock is lifted');
  if (ask.reason.length > MAX_UNLOCK_REASON)
    return bad('reason', `must be at most ${MAX_UNLOCK_REASON} characters`);

  const refuse = (kind: 'not-found' | 'failed-precondition' | 'permission-denied', why: string) =>
    ({ allow: false, kind, why }) as const;
  const { agent, call } = facts;
  if (!agent) return refuse('not-found', `agent ${JSON.stringify(ask.agentId)} not found`);
  if (agent.state === 'logged-out')
    return refuse('failed-precondition', `agent ${ask.agentId} is not logged in`);
  if ((agent.state !== 'on-call' && agent.state !== 'wrap-up') || agent.callId === undefined) {
    return refuse(
      'failed-precondition',
      `agent ${ask.agentId} is not on a call (${agent.state}): a PIN is unlocked only for the caller on the agent's call`,
    );
  }
  if (agent.callId !== ask.callId || (call?.agentId !== undefined && call.agentId !== ask.agentId)) {
    return refuse(
      'permission-denied',
      `call ${ask.callId} is not agent ${ask.agentId}'s call: an agent unlocks only for its own call`,
    );
  }
  if (call?.customerId === undefined) {
    return refuse(
      'failed-precondition',
      `the caller on call ${ask.callId} was not identified as a customer: nothing to unlock for`,
    );
  }
  if (call.customerId !== ask.customerId) {
    return refuse(
      'permission-denied',
      `customer ${ask.customerId} is not the caller on call ${ask.callId}: an agent unlocks only for its own caller`,
    );
  }
  return { allow: true, method };
}
