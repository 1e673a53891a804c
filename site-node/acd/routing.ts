/**
 * Routing: which agent gets a call, and which call a freed agent gets.
 *
 * Eligibility. A queue requires one skill. A call in the queue is at an expansion level
 * (config.ts `CompiledLevel`): level 0 accepts agents whose proficiency in the queue's
 * skill is >= `minProficiency`; each expansion step `{afterMs, minProficiency?, alsoSkills?}`
 * applies once the call has waited `afterMs` in this queue, and is cumulative: it may lower
 * (or raise) the required proficiency on the queue's skill, and adds `alsoSkills` that are
 * accepted at any proficiency (>= 1). Example: `minProficiency: 4` then
 * `[{afterMs: 20000, minProficiency: 3}, {afterMs: 40000, alsoSkills: ['retail']}]` = experts
 * first, good agents after 20 s, any retail agent after 40 s. A call never narrows again.
 *
 * Call picks agent (a call arrives or ages into a new level and agents are ready):
 * - `longest-idle`: the eligible ready agent that has been ready longest.
 * - `best-proficiency`: highest proficiency in the queue's own skill; agents reached only
 *   through `alsoSkills` rank below every own-skill agent (by their proficiency in that
 *   skill); ties go to the longest idle.
 *
 * Agent picks call (an agent becomes ready and calls wait): among the heads of the
 * priority buckets of every queue the agent can serve, the eligible call with the highest
 * priority, then the oldest (earliest enqueue time, then lowest enqueue sequence: a callback
 * back after a restart keeps its place by its first enqueue time). Within one queue and one priority
 * calls are strictly FIFO: the head of a bucket is its oldest call, so it is the most
 * expanded one, and if it cannot take an agent no later call of that bucket can.
 *
 * Below own (docs/architecture.md §5.9, a covered call whose entry says `below-own`): such a
 * call ranks after every caller of this site's own, in any of the agent's queues, whatever
 * the priorities, so an own caller arriving later still goes first; among themselves they
 * rank by priority, then age, as above. Their buckets come after the own buckets, so the
 * order is (own first, priority, enqueue time, seq). It is a rank, not a block: an agent no
 * own waiting caller is eligible for takes a below-own call, as a lower priority is served
 * when no higher one can use the agent. The call keeps its own priority (its records show it).
 */
import type { AcdState, AgentRec, Bucket, CallRec, QueueRt, ReadyList, ReadyNode } from './state.js';
import type { CompiledQueue } from './config.js';

// ---------------------------------------------------------------------------------------
// Ready-agent index

export function addReady(state: AcdState, agent: AgentRec): void {
  agent.readySeq = ++state.readySeq;
  agent.readySinceMs = state.nowMs;
  for (const node of agent.nodes) {
    let levels = state.ready.get(node.skill);
    if (!levels) {
      levels = [];
      for (let i = 0; i <= 5; i++) levels.push({ head: null, tail: null, size: 0 });
      state.ready.set(node.skill, levels);
    }
    const list = levels[node.proficiency]!;
    node.list = list;
    node.prev = list.tail;
    node.next = null;
    if (list.tail) list.tail.next = node;
    else list.head = node;
    list.tail = node;
    list.size++;
  }
}

export function removeReady(_state: AcdState, agent: AgentRec): void {
  for (const node of agent.nodes) {
    const list = node.list;
    if (!list) continue;
    if (node.prev) node.prev.next = node.next;
    else list.head = node.next;
    if (node.next) node.next.prev = node.prev;
    else list.tail = node.prev;
    list.size--;
    node.list = node.prev = node.next = null;
  }
}

/** Build the per-skill ready nodes of an agent (at login). */
export function readyNodes(agent: AgentRec): ReadyNode[] {
  return [...agent.skills].map(([skill, proficiency]) => ({
    agent,
    skill,
    proficiency,
    prev: null,
    next: null,
    list: null,
  }));
}

function first(list: ReadyList | undefined): AgentRec | undefined {
  return list?.head?.agent;
}

// ---------------------------------------------------------------------------------------
// Levels and eligibility

/** The expansion level a call reaches after waiting `waitedMs`. */
export function levelFor(cfg: CompiledQueue, waitedMs: number): number {
  const levels = cfg.levels;
  let l = 0;
  while (l + 1 < levels.length && levels[l + 1]!.afterMs <= waitedMs) l++;
  return l;
}

/** Bring a queued call's level up to date with time (levels only ever grow). */
export function refreshLevel(call: CallRec, nowMs: number): void {
  const l = levelFor(call.queue.cfg, nowMs - call.enqueueMs);
  if (l > call.level) call.level = l;
}

export function isEligible(agent: AgentRec, cfg: CompiledQueue, level: number): boolean {
  const lv = cfg.levels[level]!;
  const p = agent.skills.get(cfg.skill);
  if (p !== undefined && p >= lv.minProficiency) return true;
  for (const s of lv.alsoSkills) if (agent.skills.has(s)) return true;
  return false;
}

// ---------------------------------------------------------------------------------------
// Call picks agent

export function pickAgent(state: AcdState, cfg: CompiledQueue, level: number): AgentRec | undefined {
  const lv = cfg.levels[level]!;
  const own = state.ready.get(cfg.skill);
  if (cfg.strategy === 'best-proficiency') {
    if (own) {
      for (let p = 5; p >= lv.minProficiency; p--) {
        const a = first(own[p]);
        if (a) return a;
      }
    }
    let best: AgentRec | undefined;
    let bestP = 0;
    for (const s of lv.alsoSkills) {
      const sets = state.ready.get(s);
      if (!sets) continue;
      for (let p = 5; p >= 1 && p >= bestP; p--) {
        const a = first(sets[p]);
        if (!a) continue;
        if (p > bestP || a.readySeq < best!.readySeq) {
          best = a;
          bestP = p;
        }
        break;
      }
    }
    return best;
  }
  // longest-idle
  let best: AgentRec | undefined;
  if (own) {
    for (let p = lv.minProficiency; p <= 5; p++) {
      const a = first(own[p]);
      if (a && (!best || a.readySeq < best.readySeq)) best = a;
    }
  }
  for (const s of lv.alsoSkills) {
    const sets = state.ready.get(s);
    if (!sets) continue;
    for (let p = 1; p <= 5; p++) {
      const a = first(sets[p]);
      if (a && (!best || a.readySeq < best.readySeq)) best = a;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------------------
// Priority buckets

/** The rank of a bucket (or of a call's place): own callers before below-own ones, then priority. */
interface Rank {
  belowOwn: boolean;
  priority: number;
}

/** Whether a bucket of rank `a` is served before one of rank `b` (strictly). */
export function ranksAbove(a: Rank, b: Rank): boolean {
  return a.belowOwn !== b.belowOwn ? !a.belowOwn : a.priority > b.priority;
}

function bucketFor(q: QueueRt, belowOwn: boolean, priority: number): Bucket {
  const bs = q.buckets;
  const rank: Rank = { belowOwn, priority };
  let i = 0;
  while (i < bs.length && ranksAbove(bs[i]!, rank)) i++;
  if (i < bs.length && bs[i]!.priority === priority && bs[i]!.belowOwn === belowOwn) return bs[i]!;
  const b: Bucket = { belowOwn, priority, calls: [], head: 0 };
  bs.splice(i, 0, b);
  return b;
}

/** Service order within a bucket: enqueue time, then enqueue sequence. */
export function servedBefore(a: CallRec, b: CallRec): boolean {
  return a.enqueueMs < b.enqueueMs || (a.enqueueMs === b.enqueueMs && a.seq < b.seq);
}

/** Index of the first call not served before `call` in [head, length). */
function lowerBound(b: Bucket, call: CallRec): number {
  let lo = b.head;
  let hi = b.calls.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (servedBefore(b.calls[mid]!, call)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Put a call in its queue's bucket, in service order (usually an append). */
export function insertCall(q: QueueRt, call: CallRec): void {
  const b = bucketFor(q, call.belowOwn, call.priority);
  const n = b.calls.length;
  if (n === b.head || servedBefore(b.calls[n - 1]!, call)) b.calls.push(call);
  else b.calls.splice(lowerBound(b, call), 0, call);
  q.waiting++;
  if (call.virtual) q.virtualWaiting++;
}

export function removeCall(q: QueueRt, call: CallRec): void {
  const b = bucketFor(q, call.belowOwn, call.priority);
  if (b.calls[b.head] === call) {
    b.calls[b.head] = undefined as unknown as CallRec;
    b.head++;
    if (b.head === b.calls.length) {
      b.calls.length = 0;
      b.head = 0;
    } else if (b.head > 32 && b.head * 2 > b.calls.length) {
      b.calls.splice(0, b.head);
      b.head = 0;
    }
  } else {
    const i = lowerBound(b, call);
    if (b.calls[i] !== call) throw new Error(`acd internal: call ${call.id} not in its bucket`);
    b.calls.splice(i, 1);
  }
  q.waiting--;
  if (call.virtual) q.virtualWaiting--;
}

export function headOf(b: Bucket): CallRec | undefined {
  return b.head < b.calls.length ? b.calls[b.head] : undefined;
}

/** Every queued call of a queue in service order (own first, priority, then age). For stats and tests. */
export function* queuedCalls(q: QueueRt): Generator<CallRec> {
  for (const b of q.buckets) for (let i = b.head; i < b.calls.length; i++) yield b.calls[i]!;
}

// ---------------------------------------------------------------------------------------
// Agent picks call

/** Queues an agent with these skills can serve at some level, each once. */
export function servableQueues(state: AcdState, skills: ReadonlyMap<string, number>): QueueRt[] {
  const out = new Set<QueueRt>();
  for (const skill of skills.keys()) {
    for (const cfg of state.config.queuesBySkill.get(skill) ?? []) out.add(state.queues[cfg.index]!);
  }
  return [...out];
}

export function pickCallForAgent(state: AcdState, agent: AgentRec): CallRec | undefined {
  const now = state.nowMs;
  let best: CallRec | undefined;
  for (const q of agent.queues) {
    if (q.waiting === 0) continue;
    for (const b of q.buckets) {
      if (best && ranksAbove(best, b)) break;
      const h = headOf(b);
      if (!h) continue;
      refreshLevel(h, now);
      if (!isEligible(agent, q.cfg, h.level)) continue;
      if (!best || ranksAbove(h, best) || servedBefore(h, best)) best = h;
      break;
    }
  }
  return best;
}
