/**
 * The ACD's in-memory state. It is owned by the core: `acdStep` mutates it in place (for
 * speed) and returns the same object, so a caller must treat the state it passed in as
 * consumed. Nothing outside this folder should reach into these records; read through
 * `agentView`, `callView`, `queueStats` (index.ts).
 *
 * Indexes kept for routing speed:
 * - `bySkill`: skill -> proficiency (1..5) -> list of ready agents in the order they became
 *   ready, so the first live entry is the longest idle one. An agent leaving ready is not
 *   unlinked: its entries go dead (routing.ts `firstReady` passes them), so leaving ready
 *   touches no other agent's memory, which at tens of thousands of agents is what costs. An
 *   agent that becomes ready and takes a waiting call at once never joins the lists. A skill's
 *   `mask` says which of its lists may hold a ready agent, so a search for one passes the
 *   lists known empty (most of them, in a busy centre) without reading them. Each queue holds
 *   its skills' lists directly (`own`, `also`), and each agent its own (`lists`), so no
 *   decision looks a skill up by name.
 * - per queue, one bucket per priority, each an array of queued calls sorted by enqueue time,
 *   then `seq` (enqueue order; a ring-no-answer re-queue keeps its old place and is inserted
 *   there; a callback that comes back with an earlier enqueue time goes to its place by it).
 *   Calls another site's cover sent to rank below this site's own (`belowOwn`) have buckets of
 *   their own, after every bucket of the site's own callers (routing.ts).
 */
import type { CompiledAcdConfig, CompiledQueue } from './config.js';
import { createQueueWindow, type QueueWindow } from './stats.js';
import { armedTimers, type CallTimerKind } from './timers.js';
import type { AgentStateName, AttachedData, CallStateName } from './types.js';

/**
 * Ready agents of one skill and proficiency, in the order they became ready: `entries` holds
 * pairs (agent, its `readySeq` then), one array so that joining touches little memory. A pair
 * is live while the agent is still ready from that time (its `readySeq` unchanged); dead
 * pairs are passed from the front and dropped when the list is compacted (routing.ts).
 */
export interface ReadyList {
  entries: Array<AgentRec | number>;
  /** Index of the first pair not yet known dead (pairs before it all are). */
  head: number;
  /** Compact when `entries` reaches this length (twice the live ones at the last compaction). */
  compactAt: number;
  /** The skill the list is of, and the list's bit in its `mask` (1 << proficiency). */
  skill: SkillAgents;
  bit: number;
}

/** The agents of one skill. */
export interface SkillAgents {
  /** Ready lists by proficiency 1..5 (index 0 unused). */
  lists: ReadyList[];
  /** Bit `1 << p` clear: `lists[p]` holds no ready agent (set: it may). */
  mask: number;
  /**
   * Logged-in agents with the skill, in no order (staffing statistics); each knows its place
   * (`AgentRec.staffedAt`), so a logout takes it out without a search.
   */
  staffed: AgentRec[];
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
  /**
   * Of each queue in `queues`, the agent's proficiency in the queue's own skill (0: none) and
   * the first expansion level whose `alsoSkills` it has (Infinity: none), so eligibility
   * (routing.ts `eligibleFor`) reads two numbers instead of the agent's skill map.
   */
  queueOwn: number[];
  queueAlso: number[];
  /** Cached timer id (`wrapup:<agentId>`), and when that timer fires (NaN: not armed; timers.ts). */
  wrapTimer: string;
  wrapAt: number;
  /** The ready list of each of its skills at its proficiency; it joins them when it becomes ready. */
  lists: ReadyList[];
  /** While logged in, its place in `staffed` of each of its skills (in the order of `lists`). */
  staffedAt: number[];
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
  /** Its armed timer, if any, and when that fires (timers.ts). */
  timer: CallTimerKind | undefined;
  timerAt: number;
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
  /** Ready lists of the queue's own skill. */
  own: SkillAgents;
  /** Per expansion level, the ready lists of each of its `alsoSkills`. */
  also: SkillAgents[][];
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
  /** skill -> its agents: ready lists, and who is logged in with it. */
  bySkill: Map<string, SkillAgents>;
  /**
   * skill -> the queues that take it at some level, in config order (as `queuesBySkill`), each
   * with the first level at which it is one of the queue's `alsoSkills` (Infinity: it is the
   * queue's own skill). A login reads its agent's eligibility from here (routing.ts).
   */
  queuesOfSkill: Map<string, Array<{ q: QueueRt; alsoLevel: number }>>;
  /**
   * Every armed timer by id, built on each read from the calls and agents that keep them
   * (timers.ts): for checks and tests, never read by a step.
   */
  readonly timers: ReadonlyMap<string, TimerRec>;
}

export function createAcdState(config: CompiledAcdConfig, nowMs = 0): AcdState {
  const bySkill = new Map<string, SkillAgents>();
  const queues = config.queues.map((cfg): QueueRt => ({
    cfg,
    buckets: [],
    waiting: 0,
    virtualWaiting: 0,
    window: createQueueWindow(),
    ahtMs: config.handleTime.initialMs,
    own: skillAgents(bySkill, cfg.skill),
    also: cfg.levels.map((lv) => lv.alsoSkills.map((s) => skillAgents(bySkill, s))),
  }));
  const queuesOfSkill = new Map<string, Array<{ q: QueueRt; alsoLevel: number }>>();
  for (const [skill, cfgs] of config.queuesBySkill) {
    queuesOfSkill.set(
      skill,
      cfgs.map((cfg) => {
        const l = cfg.levels.findIndex((lv) => lv.alsoSkills.includes(skill));
        return { q: queues[cfg.index]!, alsoLevel: l < 0 ? Number.POSITIVE_INFINITY : l };
      }),
    );
  }
  return {
    config,
    nowMs,
    seq: 0,
    readySeq: 0,
    agents: new Map(),
    calls: new Map(),
    queues,
    queueById: new Map(queues.map((q) => [q.cfg.id, q])),
    bySkill,
    queuesOfSkill,
    get timers() {
      return armedTimers(this);
    },
  };
}

/** The agents of a skill, made on first use. */
export function skillAgents(bySkill: Map<string, SkillAgents>, skill: string): SkillAgents {
  let sk = bySkill.get(skill);
  if (!sk) {
    sk = { lists: [], mask: 0, staffed: [] };
    for (let p = 0; p <= 5; p++)
      sk.lists.push({ entries: [], head: 0, compactAt: 128, skill: sk, bit: 1 << p });
    bySkill.set(skill, sk);
  }
  return sk;
}
