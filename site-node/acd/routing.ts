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
import {
  skillAgents,
  type AcdState,
  type AgentRec,
  type Bucket,
  type CallRec,
  type QueueRt,
  type ReadyList,
  type SkillAgents,
} from './state.js';
import type { CompiledQueue } from './config.js';
import { routingWork } from './work-count.js';

// ---------------------------------------------------------------------------------------
// Ready-agent index

/**
 * The agent becomes ready now: it is the newest idle one. It joins the ready lists only if no
 * waiting call takes it at once (`joinReady`), so a busy centre's agents rarely touch them.
 */
export function markReady(state: AcdState, agent: AgentRec): void {
  agent.readySeq = ++state.readySeq;
  agent.readySinceMs = state.nowMs;
}

/** A ready agent no waiting call took joins the ready list of each of its skills, at the back. */
export function joinReady(agent: AgentRec): void {
  const lists = agent.lists;
  routingWork.steps += lists.length;
  for (let i = 0; i < lists.length; i++) {
    const l = lists[i]!;
    if (l.entries.length >= l.compactAt) compact(l);
    l.entries.push(agent, agent.readySeq);
    l.skill.mask |= l.bit;
  }
}

/** The pair at `i` still stands for a ready agent (the agent has not left ready since). */
function live(e: ReadonlyArray<AgentRec | number>, i: number): boolean {
  const a = e[i] as AgentRec;
  return a.state === 'ready' && a.readySeq === e[i + 1];
}

/**
 * The longest idle ready agent of a list; dead pairs in front are passed for good, and a list
 * found empty is marked so in its skill's mask.
 */
export function firstReady(l: ReadyList): AgentRec | undefined {
  const e = l.entries;
  const n = e.length;
  let h = l.head;
  while (h < n && !live(e, h)) h += 2;
  routingWork.steps += 1 + (h - l.head) / 2;
  l.head = h;
  if (h < n) return e[h] as AgentRec;
  l.skill.mask &= ~l.bit;
  return undefined;
}

/** `firstReady` of a skill's list at proficiency `p`, without reading a list known empty. */
function firstAt(sk: SkillAgents, p: number): AgentRec | undefined {
  routingWork.steps++;
  return (sk.mask & (1 << p)) === 0 ? undefined : firstReady(sk.lists[p]!);
}

/** Keep only the live pairs, in order; the next compaction waits for as many new ones again. */
function compact(l: ReadyList): void {
  const e = l.entries;
  routingWork.steps += (e.length - l.head) / 2;
  let w = 0;
  for (let r = l.head; r < e.length; r += 2) {
    if (!live(e, r)) continue;
    e[w++] = e[r]!;
    e[w++] = e[r + 1]!;
  }
  e.length = w;
  l.head = 0;
  l.compactAt = 2 * w + 128;
}

/** Live entries of a list, in order (for the invariant checks). */
export function readyAgents(l: ReadyList): AgentRec[] {
  const out: AgentRec[] = [];
  for (let i = l.head; i < l.entries.length; i += 2)
    if (live(l.entries, i)) out.push(l.entries[i] as AgentRec);
  return out;
}

/**
 * At login: the agent's ready lists (one per skill, at its proficiency), the queues it can
 * serve at some level, each once, and its eligibility numbers for each of them; and it joins
 * the staffed agents of each of its skills.
 */
export function indexAgent(state: AcdState, agent: AgentRec): void {
  const lists: ReadyList[] = [];
  const queues: QueueRt[] = [];
  const own: number[] = [];
  const also: number[] = [];
  for (const [skill, proficiency] of agent.skills) {
    lists.push(skillAgents(state.bySkill, skill).lists[proficiency]!);
    for (const { q, alsoLevel } of state.queuesOfSkill.get(skill) ?? []) {
      routingWork.steps += 1 + queues.length;
      let i = queues.indexOf(q);
      if (i < 0) {
        i = queues.push(q) - 1;
        own.push(0);
        also.push(Number.POSITIVE_INFINITY);
      }
      if (alsoLevel === Number.POSITIVE_INFINITY) own[i] = proficiency;
      else if (alsoLevel < also[i]!) also[i] = alsoLevel;
    }
  }
  agent.lists = lists;
  agent.queues = queues;
  agent.queueOwn = own;
  agent.queueAlso = also;
  agent.staffedAt = lists.map((l) => l.skill.staffed.push(agent) - 1);
}

/** At logout: the agent leaves the staffed agents of its skills (the last one takes its place). */
export function unstaffAgent(agent: AgentRec): void {
  agent.lists.forEach((l, j) => {
    routingWork.steps += 1 + agent.lists.length;
    const staffed = l.skill.staffed;
    const i = agent.staffedAt[j]!;
    const last = staffed.pop()!;
    if (last === agent) return;
    staffed[i] = last;
    last.staffedAt[last.lists.findIndex((m) => m.skill === l.skill)] = i;
  });
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

/**
 * `isEligible` for the agent's `i`-th servable queue, from the numbers `indexAgent` kept: the
 * `alsoSkills` of the levels only ever grow, so once a level admits the agent through them,
 * every later one does too.
 */
function eligibleFor(agent: AgentRec, i: number, cfg: CompiledQueue, level: number): boolean {
  return agent.queueOwn[i]! >= cfg.levels[level]!.minProficiency || level >= agent.queueAlso[i]!;
}

// ---------------------------------------------------------------------------------------
// Call picks agent

export function pickAgent(q: QueueRt, level: number): AgentRec | undefined {
  const lv = q.cfg.levels[level]!;
  const own = q.own;
  const also = q.also[level]!;
  if (q.cfg.strategy === 'best-proficiency') {
    for (let p = 5; p >= lv.minProficiency; p--) {
      const a = firstAt(own, p);
      if (a) return a;
    }
    let best: AgentRec | undefined;
    let bestP = 0;
    for (const sk of also) {
      for (let p = 5; p >= 1 && p >= bestP; p--) {
        const a = firstAt(sk, p);
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
  for (let p = lv.minProficiency; p <= 5; p++) {
    const a = firstAt(own, p);
    if (a && (!best || a.readySeq < best.readySeq)) best = a;
  }
  for (const sk of also) {
    for (let p = 1; p <= 5; p++) {
      const a = firstAt(sk, p);
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
  routingWork.steps += i + 1;
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
  else {
    const i = lowerBound(b, call);
    routingWork.steps += Math.log2(n - b.head + 1) + (n - i);
    b.calls.splice(i, 0, call);
  }
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
      routingWork.steps += b.calls.length - b.head;
      b.calls.splice(0, b.head);
      b.head = 0;
    }
  } else {
    const i = lowerBound(b, call);
    if (b.calls[i] !== call) throw new Error(`acd internal: call ${call.id} not in its bucket`);
    routingWork.steps += Math.log2(b.calls.length - b.head + 1) + (b.calls.length - i);
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

export function pickCallForAgent(state: AcdState, agent: AgentRec): CallRec | undefined {
  const now = state.nowMs;
  let best: CallRec | undefined;
  const queues = agent.queues;
  for (let i = 0; i < queues.length; i++) {
    const q = queues[i]!;
    routingWork.steps++;
    if (q.waiting === 0) continue;
    for (const b of q.buckets) {
      routingWork.steps++;
      if (best && ranksAbove(best, b)) break;
      const h = headOf(b);
      if (!h) continue;
      refreshLevel(h, now);
      if (!eligibleFor(agent, i, q.cfg, h.level)) continue;
      if (!best || ranksAbove(h, best) || servedBefore(h, best)) best = h;
      break;
    }
  }
  return best;
}
