/**
 * The core's armed timers, kept on the calls and agents they time: a call holds the kind of
 * its armed timer and when it fires (`timer`, `timerAt`), an agent its wrap-up deadline
 * (`wrapAt`, NaN while not armed); a timer's id is its kind and the record's id
 * (`wait:<callId>`, `wrapup:<agentId>`: `timerId`), so a `timer-fired` is one lookup in the
 * calls or agents the core keeps anyway. A map of every armed timer, written on nearly every
 * event, was one more table as big as the calls to miss the cache in at tens of thousands of
 * agents; arming and cancelling now touch only the record.
 *
 * A call has at most one timer armed: it waits (`wait`), rings (`offer`), waits to redial
 * (`retry`) or waits while its queue is closed (`closed`), one at a time, and each path
 * cancels or fires the one before arming the next. Arming a second kind is a bug, and throws.
 *
 * The rules are a map's: an id is armed or not; arming an armed id moves its deadline; a
 * cancel of an id not armed says nothing; a fire of an id not armed is ignored.
 */
import type { AcdState, AgentRec, CallRec, TimerRec } from './state.js';
import type { CommandOut } from './command-sink.js';

export const timerId = {
  wait: (callId: string): string => `wait:${callId}`,
  offer: (callId: string): string => `offer:${callId}`,
  wrapup: (agentId: string): string => `wrapup:${agentId}`,
  retry: (callId: string): string => `retry:${callId}`,
  closed: (callId: string): string => `closed:${callId}`,
};

export type CallTimerKind = 'wait' | 'offer' | 'retry' | 'closed';

const armed = (atMs: number): boolean => atMs === atMs; // NaN is the only value unequal to itself

/**
 * A call's timer id, built when a command names it: a call that keeps its ids lives longer
 * than most collections, and every byte of it is copied when one runs.
 */
function idOf(call: CallRec, kind: CallTimerKind): string {
  switch (kind) {
    case 'wait':
      return timerId.wait(call.id);
    case 'offer':
      return timerId.offer(call.id);
    case 'retry':
      return timerId.retry(call.id);
    case 'closed':
      return timerId.closed(call.id);
  }
}

export function startCallTimer(call: CallRec, kind: CallTimerKind, atMs: number, out: CommandOut): void {
  if (call.timer !== undefined && call.timer !== kind) {
    throw new Error(`acd internal: call ${call.id} has its ${call.timer} timer armed, not ${kind}`);
  }
  call.timer = kind;
  call.timerAt = atMs;
  out.push({ type: 'start-timer', id: idOf(call, kind), atMs });
}

export function cancelCallTimer(call: CallRec, kind: CallTimerKind, out: CommandOut): void {
  if (call.timer !== kind) return;
  call.timer = undefined;
  out.push({ type: 'cancel-timer', id: idOf(call, kind) });
}

export function startWrapTimer(a: AgentRec, atMs: number, out: CommandOut): void {
  a.wrapAt = atMs;
  out.push({ type: 'start-timer', id: a.wrapTimer, atMs });
}

export function cancelWrapTimer(a: AgentRec, out: CommandOut): void {
  if (!armed(a.wrapAt)) return;
  a.wrapAt = Number.NaN;
  out.push({ type: 'cancel-timer', id: a.wrapTimer });
}

const CALL_KINDS: readonly CallTimerKind[] = ['wait', 'offer', 'retry', 'closed'];

/**
 * The timer armed under `id`, now disarmed (it fires once), or undefined when none is: never
 * armed, cancelled, already fired, or not a timer id at all.
 */
export function takeFiredTimer(s: AcdState, id: string): TimerRec | undefined {
  const colon = id.indexOf(':');
  if (colon < 0) return undefined;
  if (id.startsWith('wrapup:')) {
    const a = s.agents.get(id.slice(colon + 1));
    if (!a || !armed(a.wrapAt)) return undefined;
    const atMs = a.wrapAt;
    a.wrapAt = Number.NaN;
    return { kind: 'wrapup', agent: a, atMs };
  }
  for (const kind of CALL_KINDS) {
    if (colon !== kind.length || !id.startsWith(kind)) continue;
    const call = s.calls.get(id.slice(colon + 1));
    if (!call || call.timer !== kind) return undefined;
    call.timer = undefined;
    return { kind, call, atMs: call.timerAt };
  }
  return undefined;
}

/**
 * Every armed timer by id, built from the records (calls in the order they came, then agents):
 * for checks and tests, not for a step.
 */
export function armedTimers(s: AcdState): Map<string, TimerRec> {
  const m = new Map<string, TimerRec>();
  for (const call of s.calls.values()) {
    const kind = call.timer;
    if (kind !== undefined) m.set(idOf(call, kind), { kind, call, atMs: call.timerAt });
  }
  for (const a of s.agents.values()) {
    if (armed(a.wrapAt)) m.set(a.wrapTimer, { kind: 'wrapup', agent: a, atMs: a.wrapAt });
  }
  return m;
}
