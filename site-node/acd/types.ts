/**
 * The ACD core's vocabulary: the events it accepts and the commands it emits
 * (docs/architecture.md §3.1, §3.2). Everything here is plain data so an adapter can log, persist or
 * ship it as-is. Time never appears as "now": each step gets `nowMs` as an argument.
 */

/** Agent states (docs/architecture.md §4). The transition rules live in agent-state.ts. */
export type AgentStateName = 'logged-out' | 'ready' | 'not-ready' | 'reserved' | 'on-call' | 'wrap-up';

/** Call states inside the ACD. A call leaves the ACD's state when it ends (see CallOutcome). */
export type CallStateName = 'queued' | 'offered' | 'connected';

/** Skills with proficiency 1 (novice) .. 5 (expert). */
export type SkillMap = Readonly<Record<string, number>>;

/** Attached call data (customer id, verified flag, IVR path, intent...), carried through transfers. */
export type AttachedData = Readonly<Record<string, string>>;

/** What the ACD does with a call it cannot (or may no longer) queue. */
export type FallbackAction =
  | { kind: 'announcement'; announcement: string }
  | { kind: 'callback-offer' }
  | { kind: 'leave-message' }
  | { kind: 'overflow-queue'; queueId: string };

export type FallbackReason = 'queue-full' | 'max-wait' | 'after-hours';

/**
 * Exactly one per call. `transfer` and `overflow-queue` fallbacks are NOT terminal: the call
 * moves to another queue and ends later with one of these.
 */
export type CallOutcome =
  | 'completed' // answered, then either side hung up
  | 'abandoned-queued' // caller hung up while waiting
  | 'abandoned-ringing' // caller hung up while the call was offered to an agent
  | 'fallback-announcement'
  | 'fallback-callback-offer'
  | 'fallback-leave-message';

// ---------------------------------------------------------------------------------------
// Events (input)

export type AcdEvent =
  | {
      type: 'call-arrived';
      callId: string;
      queueId: string;
      /** Higher is served first (e.g. VIP = 10). Integer; default 0. */
      priority?: number;
      attached?: AttachedData;
    }
  | {
      type: 'agent-login';
      agentId: string;
      skills: SkillMap;
      /** Go straight to ready; otherwise the agent starts not-ready with reason `login`. */
      ready?: boolean;
    }
  /** `reason` is recorded with the logged-out state (default: none, the agent's own logout). */
  | { type: 'agent-logout'; agentId: string; reason?: string }
  /**
   * The agent's desk lost its lease (site-node/cti/lease.ts): from ready/not-ready it goes
   * not-ready `reason` now; a call being offered is withdrawn and goes back to its place in the
   * queue (the ring-no-answer path); on-call/wrap-up the reason is pending, as a not-ready is.
   */
  | { type: 'agent-lease-lapsed'; agentId: string; reason: string }
  | { type: 'agent-ready'; agentId: string }
  /** From ready/not-ready: applied now. From reserved/on-call/wrap-up: pending, applied when wrap-up ends. */
  | { type: 'agent-not-ready'; agentId: string; reason: string }
  | { type: 'agent-answered'; agentId: string; callId: string }
  | { type: 'agent-hung-up'; agentId: string; callId: string }
  | { type: 'caller-hung-up'; callId: string }
  | { type: 'wrapup-done'; agentId: string; wrapupCode?: string }
  /** Blind transfer of a connected call into another queue; attached data is kept. */
  | { type: 'transfer'; callId: string; toQueueId: string; priority?: number }
  | { type: 'timer-fired'; id: string };

export type AcdEventType = AcdEvent['type'];

// ---------------------------------------------------------------------------------------
// Commands (output)

export type AcdCommand =
  /** The call waits in the queue (also after a ring-no-answer re-queue): play music/EWT. */
  | { type: 'call-queued'; callId: string; queueId: string }
  | { type: 'offer-call'; callId: string; agentId: string; queueId: string; answerByMs: number }
  | {
      type: 'withdraw-offer';
      callId: string;
      agentId: string;
      reason: 'caller-abandoned' | 'ring-no-answer' | 'lease-lapsed';
    }
  | { type: 'call-connected'; callId: string; agentId: string; queueId: string; waitMs: number }
  | {
      type: 'call-transferred';
      callId: string;
      fromQueueId: string;
      toQueueId: string;
      agentId: string;
    }
  | {
      type: 'call-fallback';
      callId: string;
      queueId: string;
      reason: FallbackReason;
      action: FallbackAction;
    }
  | { type: 'call-ended'; callId: string; queueId: string; outcome: CallOutcome; agentId?: string }
  | {
      type: 'agent-state-changed';
      agentId: string;
      from: AgentStateName;
      to: AgentStateName;
      /** The not-ready reason code (when `to` is not-ready), or why a logout was forced. */
      reason?: string;
      callId?: string;
    }
  | { type: 'start-timer'; id: string; atMs: number }
  | { type: 'cancel-timer'; id: string };

export type AcdCommandType = AcdCommand['type'];
