/**
 * Internal consistency checks of an ACD state, used by the property tests and handy in a
 * debugger. Returns a list of violations (empty = fine). O(agents x waiting calls): not for
 * production paths.
 */
import { isEligible, levelFor, queuedCalls, servedBefore } from './routing.js';
import { timerId } from './state.js';
import type { AcdState } from './state.js';

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
    const inIndex = a.nodes.some(
      (n) => n.list !== null && state.ready.get(n.skill)?.[n.proficiency] === n.list,
    );
    if (a.skills.size > 0 && inIndex !== (a.state === 'ready'))
      bad.push(`agent ${a.id} is ${a.state} but ready-index says ${inIndex}`);
  }
  for (const [skill, lists] of state.ready) {
    lists.forEach((list, p) => {
      let n = 0;
      let prevSeq = -1;
      for (let node = list.head; node; node = node.next) {
        n++;
        if (node.list !== list || node.skill !== skill || node.proficiency !== p)
          bad.push(`ready list ${skill}/${p} holds a foreign node`);
        if (node.agent.state !== 'ready')
          bad.push(`ready list ${skill}/${p} holds ${node.agent.id} (${node.agent.state})`);
        if (node.agent.readySeq <= prevSeq) bad.push(`ready list ${skill}/${p} is not in idle order`);
        prevSeq = node.agent.readySeq;
      }
      if (n !== list.size) bad.push(`ready list ${skill}/${p} size ${list.size} but holds ${n}`);
    });
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
      for (const t of [c.waitTimer, c.offerTimer])
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
