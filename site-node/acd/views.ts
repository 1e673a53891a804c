/**
 * Read-only views of the core's state, as plain data (copies): what the CTI desk, the hub
 * snapshot and tests may look at.
 */
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
  /** Transfers and overflows so far. */
  moves: number;
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
    virtual: c.virtual,
    callback: c.callback,
    tries: c.tries,
  };
  if (c.agent) v.agentId = c.agent.id;
  return v;
}
