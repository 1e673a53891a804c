/**
 * The ACD core's vocabulary: the events it accepts and the commands it emits
 * (docs/architecture.md §3.1, §3.2). Everything here is plain data so an adapter can log, persist or
 * ship it as-is. Time never appears as "now": each step gets `nowMs` as an argument.
 */

/** Agent states (docs/architecture.md §4). The transition rules live in agent-state.ts. */
export type AgentStateName = 'logged-out' | 'ready' | 'not-ready' | 'reserved' | 'on-call' | 'wrap-up';

/**
 * Call states inside the ACD. A call leaves the ACD's state when it ends (see CallOutcome).
 * A virtual call (a callback keeping a caller's place, docs/architecture.md §4.7) is `queued`
 * while it waits, `dialing` while its reserved agent waits for the site to reach the customer,
 * and `retry-wait` between a failed dial and its retry (out of the line, its place kept); once
 * the customer answers it is an ordinary call (`offered`, then `connected`).
 * A call `taken` for a move to another site (docs/architecture.md §5.9) is out of the line, in
 * transit: never offered here, its place kept until it is returned (`return-call`) or has moved
 * (`call-moved`); if its caller hangs up meanwhile it stays taken (`callerLeft`) until one of
 * those settles it. A call `closed-wait` arrived while its queue was closed and waits, out of
 * the line, at most the queue's `closedOverflowWaitMs` to be moved to another site
 * (docs/architecture.md §4.2): never offered here, then turned away as closed.
 */
export type CallStateName =
  'queued' | 'dialing' | 'retry-wait' | 'offered' | 'connected' | 'taken' | 'closed-wait';

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
  | 'fallback-leave-message'
  | 'callback-requested' // the caller pressed the callback key: a virtual call took over its place
  | 'callback-failed' // a virtual call's customer did not answer, try after try, up to maxTries
  | 'overflowed'; // taken for a move, and another site admitted it (docs/architecture.md §5.9)

/** Why a `take-call` found no call to give up: the call stays where it is. */
export type NotWaitingReason =
  | 'unknown' // not in the ACD: never arrived, or ended
  | 'offered' // being offered to an agent here (or its agent reserved for a dial): the offer wins
  | 'answered' // connected to an agent here
  | 'taken' // already taken for a move
  | 'callback'; // a callback's virtual call: nobody on the line to move

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
  /**
   * The agent's phone, rung as the call was offered, did not take it (not registered, rang
   * out, busy): the offer is withdrawn, the call goes back to its place in the queue and the
   * agent not-ready `reason`, as after a ring-no-answer. Only while that call is offered to
   * that agent; otherwise refused (the offer was answered or withdrawn already).
   */
  | { type: 'agent-phone-failed'; agentId: string; callId: string; reason: string }
  | { type: 'agent-hung-up'; agentId: string; callId: string }
  /**
   * The caller left. `unbridged`: the call is connected (the agent answered at the desk) but the
   * agent's phone still rang, so nobody spoke: it ends `abandoned-ringing`, its answer leaves
   * the queue's window for an abandon, and the agent's wrap-up counts no handle time (the
   * record never says answered; runtime/stats-rebuild.ts rebuilds the same figures).
   */
  | { type: 'caller-hung-up'; callId: string; unbridged?: boolean }
  | { type: 'wrapup-done'; agentId: string; wrapupCode?: string }
  /** Blind transfer of a connected call into another queue; attached data is kept. */
  | { type: 'transfer'; callId: string; toQueueId: string; priority?: number }
  | { type: 'timer-fired'; id: string }
  /**
   * The caller of a queued call asked to be called back (and the request is committed): the
   * call ends (`callback-requested`) and a virtual call `callbackId` takes its exact place
   * (same queue, priority, enqueue time and order). Refused unless the call is queued.
   */
  | { type: 'callback-requested'; callId: string; callbackId: string }
  /**
   * A callback takes its place: a virtual call that entered the queue at `enqueueMs` (at most
   * now; the time the caller was promised, or first queued). Never refused by the queue's
   * limits (full, closed): the place was promised. `tries` already made (default 0).
   */
  | {
      type: 'callback-arrived';
      callId: string;
      queueId: string;
      priority?: number;
      attached?: AttachedData;
      enqueueMs: number;
      tries?: number;
    }
  /**
   * The site's dial of a `dialing` virtual call ended; a stale result (withdrawn) is ignored.
   * `notDialled`: the site placed no call at all (it is stopping): the agent is released and the
   * call waits out of line until its retry, as after a miss, but no try is counted.
   */
  | { type: 'callback-dialled'; callId: string; answered: boolean; notDialled?: boolean }
  /**
   * Overflow to another site (docs/architecture.md §5.9), the origin's side: give up a call
   * waiting in its queue for a move. Answered by `call-taken` (the call is out of the line,
   * `taken`, its place kept) or `call-not-waiting` (why; nothing changes). A call being offered
   * to an agent is not taken: the offer wins.
   */
  | { type: 'take-call'; callId: string; /** The attempt asking; its answer names it. */ requestId: string }
  /**
   * The move failed: a taken call goes back to its very place (as if it had never left); one
   * whose caller hung up in transit ends, `abandoned-queued`.
   */
  | { type: 'return-call'; callId: string }
  /**
   * The move succeeded (the target admitted it): a taken call ends here, `overflowed`, with the
   * site it went to and the token it went under (the CDR's facts).
   */
  | { type: 'call-moved'; callId: string; toSiteId: string; token: string }
  /**
   * The target's side: a call from another site enters `queueId` ranked by its original
   * `enqueueMs` (at most now: now minus the time it waited at home) and priority. Never
   * refused by the queue's limits (full, closed): the target's reservation promised the place.
   * `fromSiteId` and `token` are the `overflow-in` facts; `hops` (site moves, the origin's
   * plus this one) and `visitedSiteIds` (the sites before this one, home first) keep it from
   * being moved again past the policy's `maxHops` or back where it was. `belowOwn` (default
   * false): it ranks below every caller of this site's own, any priority, later arrivals too
   * (a covered call whose entry says `below-own`); among such calls, by priority and
   * `enqueueMs`.
   */
  | {
      type: 'admit-overflow';
      callId: string;
      queueId: string;
      priority?: number;
      attached?: AttachedData;
      enqueueMs: number;
      fromSiteId: string;
      token: string;
      hops: number;
      visitedSiteIds: readonly string[];
      belowOwn?: boolean;
    };

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
      reason: 'caller-abandoned' | 'ring-no-answer' | 'lease-lapsed' | 'phone-failed';
      /** Set when the withdrawn call is a virtual one being dialled (no offer had rung). */
      dialing?: true;
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
      /**
       * The call's place when it was taken: its priority and the time it entered `queueId`
       * (a `callback-offer` fallback books the callback at that place, docs/architecture.md §4.7).
       */
      priority: number;
      enqueueMs: number;
    }
  | {
      type: 'call-ended';
      callId: string;
      queueId: string;
      outcome: CallOutcome;
      agentId?: string;
      /** `overflowed`: where it went and under which token. */
      toSiteId?: string;
      token?: string;
    }
  | {
      type: 'agent-state-changed';
      agentId: string;
      from: AgentStateName;
      to: AgentStateName;
      /** The not-ready reason code (when `to` is not-ready), or why a logout was forced. */
      reason?: string;
      callId?: string;
    }
  /** A virtual call reached the front and `agentId` is reserved for it: dial the customer. */
  | { type: 'dial-callback'; callId: string; agentId: string; queueId: string; tries: number }
  /** The dial failed: the agent is released and the call waits out of line until `retryAtMs`. */
  | { type: 'callback-retry'; callId: string; queueId: string; tries: number; retryAtMs: number }
  /**
   * Answer to `take-call`: the call is out of the line. Its place, as it was: the queue, the
   * priority, the time it entered the queue and its order there (`seq`), the skill-expansion
   * level reached and the moves so far, and its site hops and sites visited. The ACD keeps
   * them too, so `return-call` needs only the id; the target admits with `priority` and
   * `enqueueMs` (as a time waited). `requestId` is the take's: a late answer to an earlier
   * attempt cannot move a later one.
   */
  | {
      type: 'call-taken';
      callId: string;
      requestId: string;
      queueId: string;
      priority: number;
      enqueueMs: number;
      seq: number;
      level: number;
      moves: number;
      hops: number;
      visitedSiteIds: readonly string[];
    }
  /** Answer to `take-call`: no call to give up, and why; nothing changed. */
  | { type: 'call-not-waiting'; callId: string; requestId: string; reason: NotWaitingReason }
  | { type: 'start-timer'; id: string; atMs: number }
  | { type: 'cancel-timer'; id: string };

export type AcdCommandType = AcdCommand['type'];
