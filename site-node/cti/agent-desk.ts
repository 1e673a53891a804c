/**
 * The port between agents (people at a CTI client, or simulated agents) and the site's
 * call handling. The gRPC agent service is a thin adapter over it; the site runtime
 * implements it on top of the ACD core. Every method validates its input and throws a
 * DomainError (invalid-argument, not-found, failed-precondition) that changes nothing.
 */
import type { ContactSummary, CustomerProfile } from '../../shared/domain/customer.js';

export type AgentStateName = 'logged-out' | 'ready' | 'not-ready' | 'reserved' | 'on-call' | 'wrap-up';

export interface AgentView {
  agentId: string;
  state: AgentStateName;
  /** Set when state is not-ready. */
  reasonCode?: string;
  /** The call the agent is reserved for, talking on, or wrapping up. */
  callId?: string;
  skills: Record<string, number>;
  /**
   * The agent's desk phone (site-node/telephony/phone-registrar.ts): whether it can be rung.
   * Absent when the site has no SIP or the agent has no phone in the config.
   */
  phone?: 'registered' | 'not-registered';
}

/** What the agent's screen shows when a call is offered (the screen pop). */
export interface ScreenPop {
  callId: string;
  queueId: string;
  ani: string;
  dnis: string;
  offeredAtMs: number;
  /** When the offer lapses and the call goes back to the queue (ring-no-answer). */
  answerByMs: number;
  customer?: CustomerProfile;
  verified: boolean;
  /** Menu nodes the caller went through, in order. */
  ivrPath: string[];
  attached: Record<string, string>;
  recentContacts: ContactSummary[];
  /** Set when the customer's PIN is locked at the bank host (until then), so the agent offers an unlock. */
  pinLockedUntilMs?: number;
}

/** An agent lifts the PIN lock of the caller on its call (./pin-unlock-rule.ts says who may). */
export interface DeskPinUnlock {
  callId: string;
  customerId: string;
  /** How the agent verified who the caller is: a method from UNLOCK_METHODS, and what was checked. */
  verification: { method: string; detail: string };
  reason: string;
}

export interface DeskPinUnlockResult {
  customerId: string;
  /** False when no lock was in force; the request is recorded either way. */
  wasLocked: boolean;
  /** The `customer.pin-unlocked` event recording it, committed before the answer. */
  eventId: string;
}

/** Events pushed to a logged-in agent's desk. */
export type DeskEvent =
  | { type: 'offer'; pop: ScreenPop }
  | {
      type: 'offer-withdrawn';
      callId: string;
      reason: 'caller-abandoned' | 'ring-no-answer' | 'lease-lapsed' | 'phone-failed';
    }
  | { type: 'call-ended'; callId: string; by: 'caller' | 'agent' }
  | { type: 'state'; agent: AgentView };

export interface AgentDesk {
  login(agentId: string): Promise<AgentView>;
  logout(agentId: string): Promise<AgentView>;
  setReady(agentId: string): Promise<AgentView>;
  setNotReady(agentId: string, reasonCode: string): Promise<AgentView>;
  answer(agentId: string, callId: string): Promise<AgentView>;
  hangup(agentId: string, callId: string): Promise<AgentView>;
  /** Blind transfer of the agent's connected call into another queue, keeping attached data. */
  transfer(agentId: string, callId: string, queueId: string): Promise<AgentView>;
  completeWrapup(agentId: string, callId: string, wrapupCode: string): Promise<AgentView>;
  agent(agentId: string): Promise<AgentView>;
  /**
   * Lift the PIN lock of the caller on the agent's own call at the customer's bank host, and
   * record it; refused (changing nothing) unless ./pin-unlock-rule.ts allows it.
   */
  unlockPin(agentId: string, req: DeskPinUnlock): Promise<DeskPinUnlockResult>;
  /**
   * Keep the desk's lease (./lease.ts); returns how long it lasts (0: the site keeps none for
   * this agent). Only a remote desk has one: a desk in the site's own process cannot vanish.
   */
  heartbeat?(agentId: string): Promise<number>;
  /** Subscribe to a desk's events; returns the unsubscribe function. */
  subscribe(agentId: string, listener: (e: DeskEvent) => void): () => void;
}
