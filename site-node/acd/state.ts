/**
 * The ACD's in-memory state. It is owned by the core: `acdStep` mutates it in place (for
 * speed) and returns the same object, so a caller must treat the state it passed in as
 * consumed. Nothing outside this folder should reach into these records; read through
 * `agentView`, `callView`, `queueStats` (index.ts).
 *
 * Indexes kept for routing speed:
 * - `ready`: skill -> proficiency (1..5) -> intrusive linked list of ready agents. Agents
 *   are appended when they become ready, so the head of a list is the longest idle one.
 * - per queue, one bucket per priority, each an array of queued calls sorted by enqueue time,
 *   then `seq` (enqueue order; a ring-no-answer re-queue keeps its old place and is inserted
 *   there; a callback that comes back with an earlier enqueue time goes to its place by it).
 *   Calls another site's cover sent to rank below this site's own (`belowOwn`) have buckets of
 *   their own, after every bucket of the site's own callers (routing.ts).
 */
import type { CompiledAcdConfig, CompiledQueue } from './config.js';
import { createQueueWindow, type QueueWindow } from './stats.js';
import type { AgentStateName, AttachedData, CallStateName } from './types.js';

/** An agent's place in one ready list (one per skill the agent has). */
export interface ReadyNode {
  agent: AgentRec;
  skill: string;
  proficiency: number;
  prev: ReadyNode | null;
  next: ReadyNode | null;
  list: ReadyList | null;
}

/** Ready agents of one skill and proficiency, longest idle first (intrusive, O(1) ops). */
export interface ReadyList {
  head: ReadyNode | null;
  tail: ReadyNode | null;
  size: number;
}

export interface AgentRec {
  id: string;
  state: AgentStateName;
  /** Not-ready reason code (state not-ready). */
  reason: string | undefined;
  /** Not-ready requested while reserved / on-call / wrap-up; applied when that ends. */
  pendingNotReady: string | undefined;
  skills: Map<string, number>;
  /** Queues the agent can serve at some expansion level (from its skills). */
  queues: QueueRt[];
  /** Cached timer id (`wrapup:<agentId>`). */
  wrapTimer: string;
  /** One node per skill, linked into `ready` while the agent is ready. */
  nodes: ReadyNode[];
  /** Order of becoming ready: smaller = idle longer. */
  readySeq: number;
  readySinceMs: number;
  /** The call the agent is reserved for, talking on, or wrapping up. */
  callId: string | undefined;
  /** Queue of the call being handled, and when it was answered (for handle time). */
  handleQueue: QueueRt | undefined;
  answeredAtMs: number;
}

export interface CallRec {
  id: string;
  queue: QueueRt;
  priority: number;
  attached: AttachedData;
  /** Enqueue order in its current queue (global counter). FIFO key within a priority. */
  seq: number;
  enqueueMs: number;
  arrivedMs: number;
  state: CallStateName;
  /** Index into queue.cfg.levels: how far skill expansion has gone. */
  level: number;
  agent: AgentRec | undefined;
  /** Times the call was moved to another queue of this site (transfer or overflow-queue). */
  moves: number;
  /** Moves between sites so far (docs/architecture.md §5.9), kept apart from `moves`. */
  hops: number;
  /** The sites it was at before this one, home first (empty for a call that arrived here). */
  visitedSiteIds: readonly string[];
  /** Came in from another site: the origin and the token (the `overflow-in` facts). */
  overflowIn: { fromSiteId: string; token: string } | undefined;
  /**
   * Ranks below every caller of this site's own, whatever their priority (a covered call whose
   * entry says `below-own`, docs/architecture.md §5.9); its `priority` is still its own.
   */
  belowOwn: boolean;
  /** Taken for a move and its caller hung up in transit: ended when the move is settled. */
  callerLeft: boolean;
  /** Arrived while its queue was closed: waits `closed-wait` until then for a move. */
  closedUntilMs: number | undefined;
  /** Cached timer ids (`wait:<callId>`, `offer:<callId>`): built once, hashed once. */
  waitTimer: string;
  offerTimer: string;
  /**
   * A callback keeping a place (no caller on the line): it waits with no max-wait, does not
   * count against the queue's length limit, and its front place reserves an agent and makes
   * the site dial (`dial-callback`). Cleared once the customer answers.
   */
  virtual: boolean;
  /** A callback, virtual or answered: never turned away by a limit, never offered a fallback. */
  callback: boolean;
  /** Dials made for a virtual call that went unanswered. */
  tries: number;
}

export interface Bucket {
  /** The bucket of calls ranked below this site's own (after every own bucket). */
  belowOwn: boolean;
  priority: number;
  calls: CallRec[];
  head: number;
}

export interface QueueRt {
  cfg: CompiledQueue;
  /** Buckets in service order: own callers' by priority, highest first, then the below-own ones the same way. */
  buckets: Bucket[];
  /** Calls in the line, virtual ones included. */
  waiting: number;
  /** Of `waiting`, virtual calls (they hold no trunk, so the length limit leaves them out). */
  virtualWaiting: number;
  window: QueueWindow;
  /** Moving average handle time (talk + wrap-up), ms. */
  ahtMs: number;
}

export type TimerRec =
  | { kind: 'wait'; call: CallRec; atMs: number }
  | { kind: 'offer'; call: CallRec; atMs: number }
  | { kind: 'wrapup'; agent: AgentRec; atMs: number }
  | { kind: 'retry'; call: CallRec; atMs: number }
  | { kind: 'closed'; call: CallRec; atMs: number };

export interface AcdState {
  readonly config: CompiledAcdConfig;
  /** Time of the last step; steps must not go back in time. */
  nowMs: number;
  seq: number;
  readySeq: number;
  agents: Map<string, AgentRec>;
  /** Live calls only: a call is removed when it ends. */
  calls: Map<string, CallRec>;
  queues: QueueRt[];
  queueById: Map<string, QueueRt>;
  /** skill -> lists indexed by proficiency (1..5; index 0 unused). */
  ready: Map<string, ReadyList[]>;
  /** Logged-in agents per skill (for staffing statistics). */
  staffed: Map<string, Set<AgentRec>>;
  timers: Map<string, TimerRec>;
}

export function createAcdState(config: CompiledAcdConfig, nowMs = 0): AcdState {
  const queues = config.queues.map((cfg): QueueRt => ({
    cfg,
    buckets: [],
    waiting: 0,
    virtualWaiting: 0,
    window: createQueueWindow(),
    ahtMs: config.handleTime.initialMs,
  }));
  return {
    config,
    nowMs,
    seq: 0,
    readySeq: 0,
    agents: new Map(),
    calls: new Map(),
    queues,
    queueById: new Map(queues.map((q) => [q.cfg.id, q])),
    ready: new Map(),
    staffed: new Map(),
    timers: new Map(),
  };
}

export const timerId = {
  wait: (callId: string): string => `wait:${callId}`,
  offer: (callId: string): string => `offer:${callId}`,
  wrapup: (agentId: string): string => `wrapup:${agentId}`,
  retry: (callId: string): string => `retry:${callId}`,
  closed: (callId: string): string => `closed:${callId}`,
};
