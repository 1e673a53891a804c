/**
 * Internal consistency checks of an ACD state, used by the property tests and handy in a
 * debugger. Returns a list of violations (empty = fine). O(agents x waiting calls): not for
 * production paths.
 */
import { isEligible, levelFor, queuedCalls, readyAgents, servedBefore } from './routing.js';
import { timerId } from './timers.js';
import type { AcdState, AgentRec } from './state.js';

export interface InvariantOptions {
  /**
   * Also check "no ready agent idles while a call it may take waits". Only meaningful when
   * every timer due at or before `state.nowMs` has fired (skill expansion happens on timers).
   */
  noIdleWhileWaiting?: boolean;
}

export function checkAcdInvariants(state: AcdState, opts: InvariantOptions = {}): string[] {
  const bad: string[] = [];
  const holder = new Map<string, string>();
  for (const a of state.agents.values()) {
    if (a.state === 'reserved' || a.state === 'on-call') {
      const c = a.callId === undefined ? undefined : state.calls.get(a.callId);
      if (!c) bad.push(`agent ${a.id} is ${a.state} without a live call`);
      else {
        if (c.agent !== a) bad.push(`agent ${a.id} holds ${c.id} but the call points at ${c.agent?.id}`);
        const want = a.state === 'reserved' ? (c.virtual ? 'dialing' : 'offered') : 'connected';
        if (c.state !== want) bad.push(`agent ${a.id} is ${a.state} but call ${c.id} is ${c.state}`);
        if (holder.has(c.id)) bad.push(`call ${c.id} held by ${holder.get(c.id)} and ${a.id}`);
        holder.set(c.id, a.id);
      }
    }
  }
  // The ready index: each live entry is a ready agent in the list of one of its skills at its
  // proficiency, in idle order; each ready agent is live once in each of its skills' lists,
  // any other agent in none.
  const liveIn = new Map<AgentRec, number>();
  for (const [skill, sk] of state.bySkill) {
    const loggedIn = sk.staffed.filter((a) => a.state !== 'logged-out' && a.skills.has(skill));
    if (loggedIn.length !== sk.staffed.length || new Set(sk.staffed).size !== sk.staffed.length)
      bad.push(`the staffed agents of skill ${skill} hold one twice or one without the skill logged in`);
    sk.lists.forEach((list, p) => {
      let prevSeq = -1;
      const live = readyAgents(list);
      if (live.length > 0 && (sk.mask & (1 << p)) === 0)
        bad.push(`ready list ${skill}/${p} holds ${live.length} agents but its skill's mask says none`);
      for (const a of live) {
        liveIn.set(a, (liveIn.get(a) ?? 0) + 1);
        if (a.skills.get(skill) !== p || !a.lists.includes(list))
          bad.push(`ready list ${skill}/${p} holds a foreign agent ${a.id}`);
        if (a.readySeq <= prevSeq) bad.push(`ready list ${skill}/${p} is not in idle order`);
        prevSeq = a.readySeq;
      }
    });
  }
  for (const a of state.agents.values()) {
    if (a.state !== 'logged-out') {
      const want = [...a.skills].map(([skill, p]) => state.bySkill.get(skill)?.lists[p]);
      if (want.length !== a.lists.length || want.some((l, i) => l !== a.lists[i]))
        bad.push(`agent ${a.id}'s ready lists are not those of its skills`);
      // The eligibility numbers kept at login say what its skill map says, at every level.
      a.queues.forEach((q, i) => {
        q.cfg.levels.forEach((lv, l) => {
          const viaAlso = lv.alsoSkills.some((s) => a.skills.has(s));
          if (a.queueOwn[i] !== (a.skills.get(q.cfg.skill) ?? 0) || viaAlso !== l >= a.queueAlso[i]!)
            bad.push(`agent ${a.id}'s eligibility for queue ${q.cfg.id} at level ${l} is stale`);
        });
      });
    }
    a.lists.forEach((l, j) => {
      const at = a.staffedAt[j]!;
      if (a.state !== 'logged-out' && l.skill.staffed[at] !== a)
        bad.push(`agent ${a.id} is not at its place among the staffed agents of its skills`);
    });
    const n = liveIn.get(a) ?? 0;
    if (n !== (a.state === 'ready' ? a.skills.size : 0))
      bad.push(`agent ${a.id} is ${a.state} but the ready index holds it ${n} times`);
  }
  for (const c of state.calls.values()) {
    if (
      c.state === 'queued' ||
      c.state === 'retry-wait' ||
      c.state === 'taken' ||
      c.state === 'closed-wait'
    ) {
      if (c.agent) bad.push(`${c.state} call ${c.id} has agent ${c.agent.id}`);
    } else if (!c.agent || c.agent.callId !== c.id) {
      bad.push(`${c.state} call ${c.id} is not held by its agent`);
    }
    // A virtual call has nobody on the line: it only waits, waits to retry, or is dialled.
    if (c.virtual && c.state !== 'queued' && c.state !== 'dialing' && c.state !== 'retry-wait')
      bad.push(`virtual call ${c.id} is ${c.state}`);
    if (!c.virtual && (c.state === 'dialing' || c.state === 'retry-wait'))
      bad.push(`call ${c.id} is ${c.state} but not virtual`);
    if (c.virtual && !c.callback) bad.push(`virtual call ${c.id} is not marked a callback`);
    if (c.virtual && c.tries >= c.queue.cfg.callback.maxTries)
      bad.push(`call ${c.id} is live after ${c.tries} tries`);
    // Taken for a move to another site: in transit, so nothing here may time it or offer it.
    if (c.state === 'taken') {
      for (const t of [timerId.wait(c.id), timerId.offer(c.id)])
        if (state.timers.has(t)) bad.push(`taken call ${c.id} has timer ${t} armed`);
    }
    // Waiting out of the line while its queue is closed: only its closed deadline times it.
    const closing = state.timers.get(timerId.closed(c.id));
    if ((c.state === 'closed-wait') !== (closing?.kind === 'closed' && closing.call === c))
      bad.push(`call ${c.id} is ${c.state} but its closed timer says otherwise`);
    if (c.callerLeft && c.state !== 'taken') bad.push(`call ${c.id} is ${c.state} though its caller left`);
    const retrying = state.timers.get(timerId.retry(c.id));
    if ((c.state === 'retry-wait') !== (retrying?.kind === 'retry' && retrying.call === c))
      bad.push(`call ${c.id} is ${c.state} ${retrying ? 'with' : 'without'} a retry timer`);
  }
  // One place per call: a call (a callback above all) is in at most one bucket, once.
  const places = new Map<string, number>();
  for (const q of state.queues) for (const c of queuedCalls(q)) places.set(c.id, (places.get(c.id) ?? 0) + 1);
  for (const [id, n] of places) if (n > 1) bad.push(`call ${id} holds ${n} places`);
  for (const q of state.queues) {
    let n = 0;
    let virtual = 0;
    for (const b of q.buckets) {
      let prev: (typeof b.calls)[number] | undefined;
      for (let i = b.head; i < b.calls.length; i++) {
        const c = b.calls[i]!;
        n++;
        if (c.virtual) virtual++;
        if (prev && !servedBefore(prev, c))
          bad.push(`queue ${q.cfg.id} priority ${b.priority} out of order at ${c.id}`);
        prev = c;
        if (
          c.state !== 'queued' ||
          c.queue !== q ||
          c.priority !== b.priority ||
          c.belowOwn !== b.belowOwn ||
          state.calls.get(c.id) !== c
        ) {
          bad.push(`queue ${q.cfg.id} holds ${c.id} which is ${c.state} in ${c.queue.cfg.id}`);
        }
      }
    }
    if (n !== q.waiting) bad.push(`queue ${q.cfg.id} waiting=${q.waiting} but holds ${n}`);
    if (virtual !== q.virtualWaiting)
      bad.push(`queue ${q.cfg.id} virtualWaiting=${q.virtualWaiting} but holds ${virtual} virtual calls`);
    if (opts.noIdleWhileWaiting && n > 0) {
      for (const c of queuedCalls(q)) {
        const level = levelFor(q.cfg, state.nowMs - c.enqueueMs);
        for (const a of state.agents.values()) {
          if (a.state === 'ready' && isEligible(a, q.cfg, level)) {
            bad.push(`agent ${a.id} is ready while call ${c.id} (queue ${q.cfg.id}, level ${level}) waits`);
          }
        }
      }
    }
  }
  const queued = [...state.calls.values()].filter((c) => c.state === 'queued').length;
  const total = state.queues.reduce((n, q) => n + q.waiting, 0);
  if (queued !== total) bad.push(`${queued} queued calls but queues hold ${total}`);
  return bad;
}
