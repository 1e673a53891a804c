/**
 * Read-only views of the core's state, as plain data (copies): what the CTI desk, the hub
 * snapshot and tests may look at.
 */
import { queuedCalls } from './routing.js';
import type { AcdState } from './state.js';
import type { AgentStateName, AttachedData, CallStateName } from './types.js';

export interface AcdAgentView {
  agentId: string;
  state: AgentStateName;
  /** Set when state is not-ready. */
  reasonCode?: string;
  /** A not-ready requested during a call, applied when wrap-up ends. */
  pendingNotReady?: string;
  /** The call the agent is reserved for, talking on, or wrapping up. */
  callId?: string;
  skills: Record<string, number>;
  /** When the agent last became ready (meaningful while ready). */
  readySinceMs: number;
}

export interface AcdCallView {
  callId: string;
  queueId: string;
  state: CallStateName;
  priority: number;
  attached: AttachedData;
  /** When it entered its current queue (kept across a ring-no-answer re-queue). */
  enqueueMs: number;
  arrivedMs: number;
  /** Enqueue order (global counter); FIFO key within a queue and priority. */
  seq: number;
  /** Skill-expansion level reached (0 = base). */
  level: number;
  agentId?: string;
  /** Moves to another queue of this site so far (transfers, overflow-queue fallbacks). */
  moves: number;
  /** Moves between sites so far (docs/architecture.md §5.9). */
  hops: number;
  /** The sites it was at before this one, home first (empty: it arrived here). */
  visitedSiteIds: readonly string[];
  /** Came in from another site: the origin and the token (the `overflow-in` facts). */
  fromSiteId?: string;
  token?: string;
  /** Ranks below every caller of this site's own (a covered call's `below-own`, §5.9). */
  belowOwn: boolean;
  /** Taken for a move and its caller hung up in transit (ended when the move is settled). */
  callerLeft: boolean;
  /** A callback keeping a place with nobody on the line (docs/architecture.md §4.7). */
  virtual: boolean;
  /** A callback (virtual, or answered and now an ordinary call). */
  callback: boolean;
  /** Unanswered dials so far (callbacks). */
  tries: number;
}

export function agentView(state: AcdState, agentId: string): AcdAgentView | undefined {
  const a = state.agents.get(agentId);
  if (!a) return undefined;
  const v: AcdAgentView = {
    agentId: a.id,
    state: a.state,
    skills: Object.fromEntries(a.skills),
    readySinceMs: a.readySinceMs,
  };
  if (a.reason !== undefined) v.reasonCode = a.reason;
  if (a.pendingNotReady !== undefined) v.pendingNotReady = a.pendingNotReady;
  if (a.callId !== undefined) v.callId = a.callId;
  return v;
}

export function callView(state: AcdState, callId: string): AcdCallView | undefined {
  const c = state.calls.get(callId);
  if (!c) return undefined;
  const v: AcdCallView = {
    callId: c.id,
    queueId: c.queue.cfg.id,
    state: c.state,
    priority: c.priority,
    attached: c.attached,
    enqueueMs: c.enqueueMs,
    arrivedMs: c.arrivedMs,
    seq: c.seq,
    level: c.level,
    moves: c.moves,
    hops: c.hops,
    visitedSiteIds: c.visitedSiteIds,
    belowOwn: c.belowOwn,
    callerLeft: c.callerLeft,
    virtual: c.virtual,
    callback: c.callback,
    tries: c.tries,
  };
  if (c.agent) v.agentId = c.agent.id;
  if (c.overflowIn) Object.assign(v, c.overflowIn);
  return v;
}

/**
 * The calls of a queue another site could take (docs/architecture.md §5.9, the trigger's
 * input): callers waiting in the line, in its order, then those waiting out of it while the
 * queue is closed (`closed-wait`). Callbacks have nobody on the line to move.
 */
export function movableCalls(state: AcdState, queueId: string): AcdCallView[] {
  const q = state.queueById.get(queueId);
  if (!q) return [];
  const out: AcdCallView[] = [];
  for (const c of queuedCalls(q)) if (!c.virtual) out.push(callView(state, c.id)!);
  for (const c of state.calls.values()) {
    if (c.state === 'closed-wait' && c.queue === q) out.push(callView(state, c.id)!);
  }
  return out;
}
