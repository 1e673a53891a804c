/**
 * The ACD decision core: `acdStep(state, event, nowMs) -> { state, commands }`
 * (docs/architecture.md §3.1). No sockets, timers or I/O: time is the `nowMs` argument, timers are
 * `start-timer` / `cancel-timer` commands that come back as `timer-fired` events.
 *
 * Contract:
 * - Deterministic: the same state and the same events at the same times give the same
 *   commands, in the same order.
 * - The state is mutated in place and returned (for speed); the object passed in is
 *   consumed. Do not share it between two runs.
 * - An illegal event throws a DomainError ('invalid-argument' for a malformed or unknown
 *   field, 'failed-precondition' for a move the current state forbids, naming the agent /
 *   call / state) and changes NOTHING, not even the clock: every handler validates before it
 *   touches the state.
 * - `nowMs` must not go backwards.
 * - `timer-fired` for an id that is not armed (cancelled, or already handled) is ignored:
 *   adapters may race a cancel with a fire. `start-timer` with an id that is armed replaces it.
 * - Every call ends exactly once, with one `call-ended` command (see CallOutcome); after it
 *   no command names that call again, but for the answer to a `take-call` asked about it
 *   (`call-not-waiting`, `unknown`).
 *
 * Callbacks (docs/architecture.md §4.7) are virtual calls: a place in a queue with nobody on the
 * line. One ages like any call (same priority bucket, same enqueue time, same expansion) but
 * is never turned away or timed out; at the front, with an eligible agent ready, the agent is
 * reserved and the site told to dial (`dial-callback`). Answered, it becomes an ordinary call
 * offered to that agent; unanswered, the agent is released and the call waits out of the line
 * (`retry-wait`) for the queue's `callback.retryDelayMs`, then takes the same place again,
 * until `callback.maxTries` dials have failed (`callback-failed`).
 */
import { DomainError, failedPrecondition, invalidArgument } from '../../shared/errors.js';
import { assertAgentTransition } from './agent-state.js';
import { CommandSink, type CommandOut } from './command-sink.js';
import { checkOpen, checkRoom, maxWaitExceeded, nextWaitDeadline } from './queue-limits.js';
import {
  headOf,
  indexAgent,
  insertCall,
  joinReady,
  markReady,
  pickAgent,
  pickCallForAgent,
  refreshLevel,
  removeCall,
  levelFor,
  unstaffAgent,
} from './routing.js';
import type { AcdState, AgentRec, CallRec, QueueRt } from './state.js';
import {
  cancelCallTimer,
  cancelWrapTimer,
  startCallTimer,
  startWrapTimer,
  takeFiredTimer,
  timerId,
} from './timers.js';
import { recordHandleTime, recordWindow, withdrawAnswered } from './stats.js';
import type {
  AcdCommand,
  AcdEvent,
  AgentStateName,
  AttachedData,
  CallOutcome,
  FallbackAction,
  FallbackReason,
  NotWaitingReason,
} from './types.js';
import { routingWork } from './work-count.js';

export interface AcdStepResult {
  state: AcdState;
  commands: AcdCommand[];
}

const SKILL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const EMPTY: AttachedData = Object.freeze({});
const NO_SITES: readonly string[] = Object.freeze([]);
const SINK = new CommandSink();

export function acdStep(state: AcdState, event: AcdEvent, nowMs: number): AcdStepResult {
  if (typeof nowMs !== 'number' || !Number.isFinite(nowMs))
    throw invalidArgument('nowMs', 'must be a finite number');
  if (nowMs < state.nowMs) {
    throw invalidArgument(
      'nowMs',
      `${nowMs} is before the previous step (${state.nowMs}); time cannot go back`,
    );
  }
  if (event === null || typeof event !== 'object') throw invalidArgument('event', 'must be an object');
  const out = SINK;
  out.begin();
  // The event itself is one step; the routing's loops add theirs (work-count.ts).
  routingWork.steps++;
  switch (event.type) {
    case 'call-arrived':
      onCallArrived(state, event, nowMs, out);
      break;
    case 'agent-login':
      onLogin(state, event, nowMs, out);
      break;
    case 'agent-logout':
      onLogout(state, event.agentId, event.reason, nowMs, out);
      break;
    case 'agent-lease-lapsed':
      onLeaseLapsed(state, event.agentId, event.reason, nowMs, out);
      break;
    case 'agent-phone-failed':
      onPhoneFailed(state, event.agentId, event.callId, event.reason, nowMs, out);
      break;
    case 'agent-ready':
      onReady(state, event.agentId, nowMs, out);
      break;
    case 'agent-not-ready':
      onNotReady(state, event.agentId, event.reason, nowMs, out);
      break;
    case 'agent-answered':
      onAnswered(state, event.agentId, event.callId, nowMs, out);
      break;
    case 'agent-hung-up':
      onAgentHungUp(state, event.agentId, event.callId, nowMs, out);
      break;
    case 'caller-hung-up':
      onCallerHungUp(state, event.callId, event.unbridged, nowMs, out);
      break;
    case 'wrapup-done':
      onWrapupDone(state, event.agentId, event.wrapupCode, nowMs, out);
      break;
    case 'transfer':
      onTransfer(state, event, nowMs, out);
      break;
    case 'timer-fired':
      onTimer(state, event.id, nowMs, out);
      break;
    case 'callback-requested':
      onCallbackRequested(state, event, nowMs, out);
      break;
    case 'callback-arrived':
      onCallbackArrived(state, event, nowMs, out);
      break;
    case 'callback-dialled':
      onCallbackDialled(state, event, nowMs, out);
      break;
    case 'take-call':
      onTakeCall(state, event.callId, event.requestId, nowMs, out);
      break;
    case 'return-call':
      onReturnCall(state, event.callId, nowMs, out);
      break;
    case 'call-moved':
      onCallMoved(state, event, nowMs, out);
      break;
    case 'admit-overflow':
      onAdmitOverflow(state, event, nowMs, out);
      break;
    default:
      throw invalidArgument(
        'event.type',
        `unknown event type ${JSON.stringify((event as { type: unknown }).type)}`,
      );
  }
  return { state, commands: out.take() };
}

// ---------------------------------------------------------------------------------------
// Argument checks (throw before any change)

function str(v: unknown, field: string): string {
  if (typeof v !== 'string' || v.length === 0) throw invalidArgument(field, 'must be a non-empty string');
  return v;
}

function int(v: unknown, field: string, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw invalidArgument(field, 'must be an integer');
  return v;
}

function queueArg(s: AcdState, v: unknown, field: string): QueueRt {
  const q = s.queueById.get(str(v, field));
  if (!q) throw invalidArgument(field, `unknown queue ${JSON.stringify(v)}`);
  return q;
}

function agentArg(s: AcdState, v: unknown): AgentRec {
  const id = str(v, 'agentId');
  const a = s.agents.get(id);
  if (!a || a.state === 'logged-out')
    throw failedPrecondition(`agent ${JSON.stringify(id)} is not logged in`);
  return a;
}

function callArg(s: AcdState, v: unknown): CallRec {
  const id = str(v, 'callId');
  const c = s.calls.get(id);
  if (!c) throw failedPrecondition(`call ${JSON.stringify(id)} is not in the ACD (never arrived, or ended)`);
  return c;
}

function attachedArg(v: unknown): AttachedData {
  if (v === undefined) return EMPTY;
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalidArgument('attached', 'must be an object');
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') throw invalidArgument(`attached.${k}`, 'must be a string');
  }
  return v as AttachedData;
}

function skillsArg(v: unknown): Map<string, number> {
  if (v === null || typeof v !== 'object' || Array.isArray(v))
    throw invalidArgument('skills', 'must be an object');
  const m = new Map<string, number>();
  for (const [k, p] of Object.entries(v)) {
    if (!SKILL_NAME.test(k)) throw invalidArgument(`skills.${k}`, 'is not a valid skill name');
    if (typeof p !== 'number' || !Number.isInteger(p) || p < 1 || p > 5) {
      throw invalidArgument(`skills.${k}`, `proficiency must be an integer 1..5, got ${JSON.stringify(p)}`);
    }
    m.set(k, p);
  }
  return m;
}

// ---------------------------------------------------------------------------------------
// Small actions

function setAgent(
  s: AcdState,
  a: AgentRec,
  to: AgentStateName,
  why: string,
  out: CommandOut,
  reason?: string,
): void {
  const from = a.state;
  assertAgentTransition(a.id, from, to, why);
  // Leaving ready needs no unlinking: the agent's ready-list entries are dead from now on.
  a.state = to;
  a.reason = to === 'not-ready' ? reason : undefined;
  // A forced logout (lease expired) says why in the history; the agent record keeps no reason.
  const recorded = to === 'logged-out' ? reason : a.reason;
  if (to === 'ready') markReady(s, a);
  const type = 'agent-state-changed';
  const agentId = a.id;
  const callId = a.callId;
  // Whole literals, not fields added afterwards: a field added to a made object costs it a
  // second allocation, and this is a command of nearly every event.
  out.push(
    recorded === undefined
      ? callId === undefined
        ? { type, agentId, from, to }
        : { type, agentId, from, to, callId }
      : callId === undefined
        ? { type, agentId, from, to, reason: recorded }
        : { type, agentId, from, to, reason: recorded, callId },
  );
}

function endCall(
  s: AcdState,
  call: CallRec,
  outcome: CallOutcome,
  out: CommandOut,
  agentId?: string,
  movedTo?: { toSiteId: string; token: string },
): void {
  s.calls.delete(call.id);
  const type = 'call-ended';
  const callId = call.id;
  const queueId = call.queue.cfg.id;
  const cmd: AcdCommand =
    agentId === undefined ? { type, callId, queueId, outcome } : { type, callId, queueId, outcome, agentId };
  if (movedTo) Object.assign(cmd, movedTo);
  out.push(cmd);
}

function armWaitTimer(s: AcdState, call: CallRec, out: CommandOut): void {
  const at = nextWaitDeadline(call.queue.cfg, call.enqueueMs, call.level, call.callback);
  if (at !== undefined) startCallTimer(call, 'wait', at, out);
}

/**
 * The call (removed from any bucket) goes to `a`, who is ready. A virtual call reserves the
 * agent while the site dials the customer; it is offered once the customer answers.
 */
function offer(s: AcdState, call: CallRec, a: AgentRec, out: CommandOut): void {
  cancelCallTimer(call, 'wait', out);
  a.callId = call.id;
  setAgent(s, a, 'reserved', call.virtual ? 'be reserved for a callback' : 'take an offer', out);
  call.agent = a;
  if (call.virtual) {
    call.state = 'dialing';
    out.push({
      type: 'dial-callback',
      callId: call.id,
      agentId: a.id,
      queueId: call.queue.cfg.id,
      tries: call.tries,
    });
    return;
  }
  ringAgent(s, call, a, out);
}

function ringAgent(s: AcdState, call: CallRec, a: AgentRec, out: CommandOut): void {
  call.state = 'offered';
  const answerByMs = s.nowMs + call.queue.cfg.offerTimeoutMs;
  out.push({ type: 'offer-call', callId: call.id, agentId: a.id, queueId: call.queue.cfg.id, answerByMs });
  startCallTimer(call, 'offer', answerByMs, out);
}

function fallback(
  s: AcdState,
  call: CallRec,
  reason: FallbackReason,
  action: FallbackAction,
  out: CommandOut,
): void {
  out.push({
    type: 'call-fallback',
    callId: call.id,
    queueId: call.queue.cfg.id,
    reason,
    action,
    priority: call.priority,
    enqueueMs: call.enqueueMs,
  });
  switch (action.kind) {
    case 'overflow-queue':
      call.moves++;
      enterQueue(s, call, s.queueById.get(action.queueId)!, out);
      return;
    case 'announcement':
      return endCall(s, call, 'fallback-announcement', out);
    case 'callback-offer':
      return endCall(s, call, 'fallback-callback-offer', out);
    case 'leave-message':
      return endCall(s, call, 'fallback-leave-message', out);
  }
}

/** A call enters a queue: arrival, transfer in, overflow in. */
function enterQueue(s: AcdState, call: CallRec, q: QueueRt, out: CommandOut): void {
  call.queue = q;
  call.state = 'queued';
  call.agent = undefined;
  call.level = 0;
  call.enqueueMs = s.nowMs;
  call.seq = ++s.seq;
  const open = checkOpen(q.cfg, s.nowMs);
  if (!open.ok) {
    if (q.cfg.closedOverflowWaitMs !== null && !call.callback) {
      call.closedUntilMs = s.nowMs + q.cfg.closedOverflowWaitMs;
      return closedWait(s, call, out);
    }
    recordWindow(s, q, 'rejected', 0);
    return fallback(s, call, open.reason, open.action, out);
  }
  offerOrLine(s, call, out);
}

/**
 * A call free to be served here now: to a ready agent it may have, else into the line if
 * there is room (its wait timer armed), else turned away as a full queue says.
 */
function offerOrLine(s: AcdState, call: CallRec, out: CommandOut): void {
  const q = call.queue;
  const a = pickAgent(q, call.level);
  if (a) return offer(s, call, a, out);
  const room = checkRoom(q.cfg, q.waiting - q.virtualWaiting);
  if (!room.ok) {
    recordWindow(s, q, 'rejected', 0);
    return fallback(s, call, room.reason, room.action, out);
  }
  insertCall(q, call);
  out.push({ type: 'call-queued', callId: call.id, queueId: q.cfg.id });
  armWaitTimer(s, call, out);
}

/**
 * A call that arrived while its queue was closed, under an `afterHours` overflow policy: it
 * waits out of the line, never offered here (the queue is closed), until `closedUntilMs` for
 * a move to another site; then it is turned away as closed, or lined if the queue has opened
 * meanwhile (the `closed` timer, `closedWaitOver`).
 */
function closedWait(s: AcdState, call: CallRec, out: CommandOut): void {
  const q = call.queue;
  call.state = 'closed-wait';
  out.push({ type: 'call-queued', callId: call.id, queueId: q.cfg.id });
  startCallTimer(call, 'closed', call.closedUntilMs!, out);
}

/**
 * The closed wait is over and the call did not move. The calendar is read again: still closed,
 * it is turned away as a closed queue does; open by now (the wait crossed the opening time),
 * it joins the line as any caller would, ranked by when it arrived (it has waited since then)
 * and judged by the queue's max wait and length from there, never sent away at an open queue.
 */
function closedWaitOver(s: AcdState, call: CallRec, out: CommandOut): void {
  const q = call.queue;
  call.closedUntilMs = undefined;
  if (!checkOpen(q.cfg, s.nowMs).ok) {
    recordWindow(s, q, 'rejected', 0);
    return fallback(s, call, 'after-hours', q.cfg.afterHours, out);
  }
  call.state = 'queued';
  refreshLevel(call, s.nowMs);
  if (maxWaitExceeded(q.cfg, call.enqueueMs, s.nowMs)) {
    recordWindow(s, q, 'timed-out', s.nowMs - call.enqueueMs);
    return fallback(s, call, 'max-wait', q.cfg.onMaxWait, out);
  }
  offerOrLine(s, call, out);
}

/** Offer waiting calls of `q` to ready agents in bucket order (own first, highest priority first), FIFO in a bucket. */
function dispatchQueue(s: AcdState, q: QueueRt, out: CommandOut): void {
  if (q.waiting === 0) return;
  for (const b of q.buckets) {
    for (;;) {
      routingWork.steps++;
      const h = headOf(b);
      if (!h) break;
      refreshLevel(h, s.nowMs);
      const a = pickAgent(q, h.level);
      if (!a) break;
      removeCall(q, h);
      offer(s, h, a, out);
    }
  }
}

/**
 * An agent just made ready takes the best waiting call it may, or, none waiting, joins the
 * ready lists to wait for one (it did not join them before: it may never need to).
 */
function dispatchAgent(s: AcdState, a: AgentRec, out: CommandOut): void {
  const call = pickCallForAgent(s, a);
  if (!call) return joinReady(a);
  removeCall(call.queue, call);
  offer(s, call, a, out);
}

/** Back to the queue at the call's old place (ring-no-answer). */
function requeue(s: AcdState, call: CallRec, out: CommandOut): void {
  const q = call.queue;
  call.state = 'queued';
  call.agent = undefined;
  refreshLevel(call, s.nowMs);
  if (!call.callback && maxWaitExceeded(q.cfg, call.enqueueMs, s.nowMs)) {
    recordWindow(s, q, 'timed-out', s.nowMs - call.enqueueMs);
    return fallback(s, call, 'max-wait', q.cfg.onMaxWait, out);
  }
  insertCall(q, call);
  out.push({ type: 'call-queued', callId: call.id, queueId: q.cfg.id });
  dispatchQueue(s, q, out);
  if (call.state === 'queued') armWaitTimer(s, call, out);
}

function startWrapUp(s: AcdState, a: AgentRec, out: CommandOut, ended?: CallRec): void {
  setAgent(s, a, 'wrap-up', 'start wrap-up', out);
  // The call ends after the agent's move that still names it, and before anything else.
  if (ended) endCall(s, ended, 'completed', out, a.id);
  armOrFinishWrapUp(s, a, out);
}

function armOrFinishWrapUp(s: AcdState, a: AgentRec, out: CommandOut): void {
  const ms = a.handleQueue!.cfg.wrapUpMs;
  if (ms > 0) startWrapTimer(a, s.nowMs + ms, out);
  else finishWrapUp(s, a, out);
}

function finishWrapUp(s: AcdState, a: AgentRec, out: CommandOut): void {
  cancelWrapTimer(a, out);
  // NaN: the caller left before the phone was answered (onCallerHungUp): nothing was handled.
  if (a.handleQueue && !Number.isNaN(a.answeredAtMs)) {
    recordHandleTime(s, a.handleQueue, s.nowMs - a.answeredAtMs);
  }
  a.handleQueue = undefined;
  a.callId = undefined;
  freeAgent(s, a, 'become ready after wrap-up', out);
}

/**
 * An agent done with a call (or an offer): not-ready if a not-ready was asked meanwhile,
 * otherwise ready and at once given the next call it may take.
 */
function freeAgent(s: AcdState, a: AgentRec, readyWhy: string, out: CommandOut): void {
  const pending = a.pendingNotReady;
  a.pendingNotReady = undefined;
  if (pending !== undefined) setAgent(s, a, 'not-ready', 'apply its pending not-ready', out, pending);
  else {
    setAgent(s, a, 'ready', readyWhy, out);
    dispatchAgent(s, a, out);
  }
}

function endConnected(s: AcdState, call: CallRec, a: AgentRec, out: CommandOut): void {
  startWrapUp(s, a, out, call);
}

// ---------------------------------------------------------------------------------------
// Event handlers: validate first, then set the clock, then act.

function onCallArrived(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'call-arrived' }>,
  now: number,
  out: CommandOut,
): void {
  const callId = str(e.callId, 'callId');
  if (s.calls.has(callId)) throw failedPrecondition(`call ${JSON.stringify(callId)} is already in the ACD`);
  const q = queueArg(s, e.queueId, 'queueId');
  const priority = int(e.priority, 'priority', 0);
  const attached = attachedArg(e.attached);
  s.nowMs = now;
  const call = newCall(callId, q, priority, attached, now);
  s.calls.set(callId, call);
  enterQueue(s, call, q, out);
}

function newCall(id: string, q: QueueRt, priority: number, attached: AttachedData, now: number): CallRec {
  return {
    id,
    queue: q,
    priority,
    attached,
    seq: 0,
    enqueueMs: now,
    arrivedMs: now,
    state: 'queued',
    level: 0,
    agent: undefined,
    moves: 0,
    hops: 0,
    visitedSiteIds: NO_SITES,
    overflowIn: undefined,
    belowOwn: false,
    callerLeft: false,
    closedUntilMs: undefined,
    timer: undefined,
    timerAt: 0,
    virtual: false,
    callback: false,
    tries: 0,
  };
}

function onLogin(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'agent-login' }>,
  now: number,
  out: CommandOut,
): void {
  const id = str(e.agentId, 'agentId');
  const existing = s.agents.get(id);
  if (existing && existing.state !== 'logged-out') {
    throw failedPrecondition(`agent ${JSON.stringify(id)} is already logged in (${existing.state})`);
  }
  const skills = skillsArg(e.skills);
  if (e.ready !== undefined && typeof e.ready !== 'boolean')
    throw invalidArgument('ready', 'must be a boolean');
  s.nowMs = now;
  const a: AgentRec = existing ?? {
    id,
    state: 'logged-out',
    reason: undefined,
    pendingNotReady: undefined,
    skills,
    lists: [],
    staffedAt: [],
    queues: [],
    queueOwn: [],
    queueAlso: [],
    wrapTimer: timerId.wrapup(id),
    wrapAt: Number.NaN,
    readySeq: 0,
    readySinceMs: now,
    callId: undefined,
    handleQueue: undefined,
    answeredAtMs: 0,
  };
  a.skills = skills;
  indexAgent(s, a);
  s.agents.set(id, a);
  if (e.ready === true) {
    setAgent(s, a, 'ready', 'log in', out);
    dispatchAgent(s, a, out);
  } else setAgent(s, a, 'not-ready', 'log in', out, 'login');
}

function onLogout(s: AcdState, agentId: unknown, reason: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  const r = reason === undefined ? undefined : str(reason, 'reason');
  assertAgentTransition(a.id, a.state, 'logged-out', 'log out');
  s.nowMs = now;
  unstaffAgent(a);
  a.pendingNotReady = undefined;
  setAgent(s, a, 'logged-out', 'log out', out, r);
}

/**
 * The desk is gone: nobody will answer an offer or make the agent ready. Not-ready at once; an
 * offer goes back to its place in the queue exactly as a ring-no-answer does (requeue), so
 * another agent gets it; a connected call or wrap-up goes on (the voice path is not the desk)
 * and the agent goes not-ready when it ends.
 */
function onLeaseLapsed(s: AcdState, agentId: unknown, reason: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  const r = str(reason, 'reason');
  s.nowMs = now;
  if (a.state === 'reserved' && s.calls.get(a.callId!)!.state === 'dialing') {
    // The site is dialling the customer for this agent: the dial ends soon either way, and a
    // second dial of the same customer for another agent must not start meanwhile.
    a.pendingNotReady = r;
  } else if (a.state === 'reserved') {
    withdrawToNotReady(s, a, 'lease-lapsed', 'lose its desk', r, out);
  } else if (a.state === 'ready' || a.state === 'not-ready') {
    setAgent(s, a, 'not-ready', 'lose its desk', out, r);
  } else a.pendingNotReady = r; // on-call, wrap-up
}

/** The offer goes back to its place in the queue and the agent not-ready `reason`. */
function withdrawToNotReady(
  s: AcdState,
  a: AgentRec,
  why: 'lease-lapsed' | 'phone-failed',
  what: string,
  reason: string,
  out: CommandOut,
): void {
  const call = s.calls.get(a.callId!)!;
  cancelCallTimer(call, 'offer', out);
  out.push({ type: 'withdraw-offer', callId: call.id, agentId: a.id, reason: why });
  a.callId = undefined;
  a.pendingNotReady = undefined;
  setAgent(s, a, 'not-ready', what, out, reason);
  requeue(s, call, out);
}

/**
 * The agent's phone did not take the call it rang for (docs/sip.md "The site over SIP"): as a
 * ring-no-answer, but with the phone's reason, so the supervisor sees why.
 */
function onPhoneFailed(
  s: AcdState,
  agentId: unknown,
  callId: unknown,
  reason: unknown,
  now: number,
  out: CommandOut,
): void {
  const a = agentArg(s, agentId);
  const c = str(callId, 'callId');
  const r = str(reason, 'reason');
  const call = a.callId === c ? s.calls.get(c) : undefined;
  if (a.state !== 'reserved' || !call || call.state !== 'offered') {
    throw failedPrecondition(`call ${JSON.stringify(c)} is not offered to agent ${JSON.stringify(a.id)}`);
  }
  s.nowMs = now;
  withdrawToNotReady(s, a, 'phone-failed', 'miss an offer on its phone', r, out);
}

function onReady(s: AcdState, agentId: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  if (a.state !== 'not-ready' && a.state !== 'wrap-up') {
    throw failedPrecondition(`agent ${JSON.stringify(a.id)} cannot become ready: it is ${a.state}`);
  }
  s.nowMs = now;
  if (a.state === 'wrap-up') {
    a.pendingNotReady = undefined;
    finishWrapUp(s, a, out);
    return;
  }
  setAgent(s, a, 'ready', 'become ready', out);
  dispatchAgent(s, a, out);
}

function onNotReady(s: AcdState, agentId: unknown, reason: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  const r = str(reason, 'reason');
  s.nowMs = now;
  if (a.state === 'ready' || a.state === 'not-ready') setAgent(s, a, 'not-ready', 'go not-ready', out, r);
  else a.pendingNotReady = r; // reserved, on-call, wrap-up: applied when the work ends
}

function onAnswered(s: AcdState, agentId: unknown, callId: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  const cid = str(callId, 'callId');
  if (a.state !== 'reserved' || a.callId !== cid) {
    throw failedPrecondition(
      `agent ${JSON.stringify(a.id)} cannot answer call ${JSON.stringify(cid)}: it was not offered to it (agent is ${a.state}${a.callId ? ` with ${a.callId}` : ''})`,
    );
  }
  const call = s.calls.get(cid)!;
  if (call.state !== 'offered') {
    throw failedPrecondition(
      `agent ${JSON.stringify(a.id)} cannot answer call ${JSON.stringify(cid)}: the customer is still being dialled`,
    );
  }
  s.nowMs = now;
  cancelCallTimer(call, 'offer', out);
  setAgent(s, a, 'on-call', 'answer', out);
  call.state = 'connected';
  call.callback = false; // served: a transfer from here is an ordinary call's
  const waitMs = now - call.enqueueMs;
  recordWindow(s, call.queue, 'answered', waitMs);
  a.answeredAtMs = now;
  a.handleQueue = call.queue;
  out.push({ type: 'call-connected', callId: cid, agentId: a.id, queueId: call.queue.cfg.id, waitMs });
}

function onAgentHungUp(s: AcdState, agentId: unknown, callId: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  const cid = str(callId, 'callId');
  if (a.state !== 'on-call' || a.callId !== cid) {
    throw failedPrecondition(
      `agent ${JSON.stringify(a.id)} cannot hang up call ${JSON.stringify(cid)}: it is not talking on it (agent is ${a.state})`,
    );
  }
  s.nowMs = now;
  endConnected(s, s.calls.get(cid)!, a, out);
}

function onCallerHungUp(
  s: AcdState,
  callId: unknown,
  unbridged: unknown,
  now: number,
  out: CommandOut,
): void {
  const call = callArg(s, callId);
  if (unbridged !== undefined && typeof unbridged !== 'boolean')
    throw invalidArgument('unbridged', 'must be a boolean');
  if (call.virtual) {
    throw failedPrecondition(`call ${JSON.stringify(call.id)} is a callback with nobody on the line`);
  }
  s.nowMs = now;
  const q = call.queue;
  const waitMs = now - call.enqueueMs;
  switch (call.state) {
    case 'queued':
      removeCall(q, call);
      cancelCallTimer(call, 'wait', out);
      recordWindow(s, q, 'abandoned', waitMs);
      endCall(s, call, 'abandoned-queued', out);
      return;
    case 'offered': {
      const a = call.agent!;
      cancelCallTimer(call, 'offer', out);
      out.push({ type: 'withdraw-offer', callId: call.id, agentId: a.id, reason: 'caller-abandoned' });
      recordWindow(s, q, 'abandoned', waitMs);
      endCall(s, call, 'abandoned-ringing', out, a.id);
      a.callId = undefined;
      freeAgent(s, a, 'return to ready', out);
      return;
    }
    case 'connected': {
      const a = call.agent!;
      if (unbridged !== true) return endConnected(s, call, a, out);
      // Answered at the desk while the phone rang: nobody spoke, so an abandon, not an answer.
      withdrawAnswered(s, q, a.answeredAtMs - call.enqueueMs);
      recordWindow(s, q, 'abandoned', waitMs);
      a.answeredAtMs = NaN;
      setAgent(s, a, 'wrap-up', 'start wrap-up', out);
      endCall(s, call, 'abandoned-ringing', out, a.id);
      armOrFinishWrapUp(s, a, out);
      return;
    }
    case 'taken':
      // Hung up in transit: the move decides where it ends (return-call ends it abandoned,
      // call-moved overflowed), so it is kept until then and ended once. Said twice: no news.
      call.callerLeft = true;
      return;
    case 'closed-wait':
      // Never in an open line: not counted in the queue's window.
      cancelCallTimer(call, 'closed', out);
      endCall(s, call, 'abandoned-queued', out);
      return;
  }
}

function onWrapupDone(s: AcdState, agentId: unknown, code: unknown, now: number, out: CommandOut): void {
  const a = agentArg(s, agentId);
  if (code !== undefined && typeof code !== 'string') throw invalidArgument('wrapupCode', 'must be a string');
  if (a.state !== 'wrap-up') {
    throw failedPrecondition(`agent ${JSON.stringify(a.id)} cannot complete wrap-up: it is ${a.state}`);
  }
  s.nowMs = now;
  finishWrapUp(s, a, out);
}

function onTransfer(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'transfer' }>,
  now: number,
  out: CommandOut,
): void {
  const call = callArg(s, e.callId);
  const to = queueArg(s, e.toQueueId, 'toQueueId');
  const priority = int(e.priority, 'priority', call.priority);
  if (call.state !== 'connected') {
    throw failedPrecondition(
      `call ${JSON.stringify(call.id)} cannot be transferred: it is ${call.state}, not connected`,
    );
  }
  s.nowMs = now;
  const a = call.agent!;
  out.push({
    type: 'call-transferred',
    callId: call.id,
    fromQueueId: call.queue.cfg.id,
    toQueueId: to.cfg.id,
    agentId: a.id,
  });
  call.agent = undefined;
  startWrapUp(s, a, out);
  call.moves++;
  call.priority = priority;
  // A call ranked below own callers keeps that rank in its new queue: it is still the covered
  // site's call (docs/architecture.md §4.4).
  enterQueue(s, call, to, out);
}

function onTimer(s: AcdState, id: unknown, now: number, out: CommandOut): void {
  const tid = str(id, 'id');
  s.nowMs = now;
  const t = takeFiredTimer(s, tid);
  if (!t) return; // cancelled or already handled: a harmless race
  switch (t.kind) {
    case 'wait': {
      const call = t.call;
      const q = call.queue;
      refreshLevel(call, now);
      if (!call.callback && maxWaitExceeded(q.cfg, call.enqueueMs, now)) {
        removeCall(q, call);
        recordWindow(s, q, 'timed-out', now - call.enqueueMs);
        fallback(s, call, 'max-wait', q.cfg.onMaxWait, out);
        return;
      }
      dispatchQueue(s, q, out);
      if (call.state === 'queued') armWaitTimer(s, call, out);
      return;
    }
    case 'offer': {
      const call = t.call;
      const a = call.agent!;
      out.push({ type: 'withdraw-offer', callId: call.id, agentId: a.id, reason: 'ring-no-answer' });
      a.callId = undefined;
      a.pendingNotReady = undefined;
      setAgent(s, a, 'not-ready', 'miss an offer', out, 'ring-no-answer');
      requeue(s, call, out);
      return;
    }
    case 'wrapup':
      finishWrapUp(s, t.agent, out);
      return;
    case 'closed':
      closedWaitOver(s, t.call, out);
      return;
    case 'retry': {
      // Back to the very place it had: same enqueue time and order.
      const call = t.call;
      const q = call.queue;
      call.state = 'queued';
      refreshLevel(call, now);
      insertCall(q, call);
      out.push({ type: 'call-queued', callId: call.id, queueId: q.cfg.id });
      dispatchQueue(s, q, out);
      if (call.state === 'queued') armWaitTimer(s, call, out);
      return;
    }
  }
}

// ---------------------------------------------------------------------------------------
// Callbacks: virtual calls keeping a caller's place

function onCallbackRequested(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'callback-requested' }>,
  now: number,
  out: CommandOut,
): void {
  const call = callArg(s, e.callId);
  const cbId = str(e.callbackId, 'callbackId');
  if (s.calls.has(cbId)) throw failedPrecondition(`call ${JSON.stringify(cbId)} is already in the ACD`);
  if (call.virtual || call.state !== 'queued') {
    throw failedPrecondition(
      `call ${JSON.stringify(call.id)} cannot become a callback: it is ${call.virtual ? 'a callback already' : call.state}, not waiting in a queue`,
    );
  }
  s.nowMs = now;
  const q = call.queue;
  const v = newCall(cbId, q, call.priority, call.attached, call.arrivedMs);
  // The caller's place, exactly: the same enqueue time and order, the expansion reached, and
  // its rank below this site's own callers if it had one.
  v.enqueueMs = call.enqueueMs;
  v.belowOwn = call.belowOwn;
  v.seq = call.seq;
  v.level = call.level;
  v.moves = call.moves;
  v.virtual = v.callback = true;
  removeCall(q, call);
  cancelCallTimer(call, 'wait', out);
  endCall(s, call, 'callback-requested', out);
  s.calls.set(cbId, v);
  insertCall(q, v);
  out.push({ type: 'call-queued', callId: cbId, queueId: q.cfg.id });
  armWaitTimer(s, v, out);
}

/**
 * The fields of a call that enters with a place it already had (a callback, a call from
 * another site), checked: a new id, a queue, a priority and an enqueue time not after now.
 */
function placedCallArgs(
  s: AcdState,
  e: { callId: unknown; queueId: unknown; priority?: unknown; attached?: unknown; enqueueMs: unknown },
  now: number,
) {
  const callId = str(e.callId, 'callId');
  if (s.calls.has(callId)) throw failedPrecondition(`call ${JSON.stringify(callId)} is already in the ACD`);
  const q = queueArg(s, e.queueId, 'queueId');
  const priority = int(e.priority, 'priority', 0);
  const attached = attachedArg(e.attached);
  if (typeof e.enqueueMs !== 'number' || !Number.isSafeInteger(e.enqueueMs) || e.enqueueMs > now) {
    throw invalidArgument(
      'enqueueMs',
      `must be an integer time no later than now (${now}), got ${String(e.enqueueMs)}`,
    );
  }
  return { callId, q, priority, attached };
}

function onCallbackArrived(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'callback-arrived' }>,
  now: number,
  out: CommandOut,
): void {
  const { callId, q, priority, attached } = placedCallArgs(s, e, now);
  const tries = int(e.tries, 'tries', 0);
  if (tries < 0 || tries >= q.cfg.callback.maxTries) {
    throw invalidArgument(
      'tries',
      `must be 0..${q.cfg.callback.maxTries - 1} (the queue's callback.maxTries), got ${tries}`,
    );
  }
  s.nowMs = now;
  const call = newCall(callId, q, priority, attached, now);
  call.enqueueMs = e.enqueueMs;
  call.seq = ++s.seq;
  call.level = levelFor(q.cfg, now - e.enqueueMs);
  call.virtual = call.callback = true;
  call.tries = tries;
  s.calls.set(callId, call);
  // No calendar or length check: the place was promised. An eligible ready agent means no
  // eligible call waits (the core never idles one), so the callback may take it at once.
  const a = pickAgent(q, call.level);
  if (a) return offer(s, call, a, out);
  insertCall(q, call);
  out.push({ type: 'call-queued', callId, queueId: q.cfg.id });
  armWaitTimer(s, call, out);
}

function onCallbackDialled(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'callback-dialled' }>,
  now: number,
  out: CommandOut,
): void {
  const call = callArg(s, e.callId);
  if (typeof e.answered !== 'boolean') throw invalidArgument('answered', 'must be a boolean');
  if (e.notDialled !== undefined && typeof e.notDialled !== 'boolean')
    throw invalidArgument('notDialled', 'must be a boolean');
  if (e.notDialled && e.answered)
    throw invalidArgument('answered', 'cannot be true for a call never dialled');
  if (call.state !== 'dialing') {
    throw failedPrecondition(`call ${JSON.stringify(call.id)} is not being dialled (it is ${call.state})`);
  }
  s.nowMs = now;
  const a = call.agent!;
  if (e.answered) {
    // The customer is on the line: from here an ordinary call, rung to the reserved agent.
    call.virtual = false;
    ringAgent(s, call, a, out);
    return;
  }
  // A call the site never placed (it is stopping) is no try: the request keeps the tries it had.
  if (!e.notDialled) call.tries++;
  call.agent = undefined;
  a.callId = undefined;
  const cb = call.queue.cfg.callback;
  if (call.tries >= cb.maxTries) endCall(s, call, 'callback-failed', out, a.id);
  else {
    call.state = 'retry-wait';
    const retryAtMs = now + cb.retryDelayMs;
    out.push({
      type: 'callback-retry',
      callId: call.id,
      queueId: call.queue.cfg.id,
      tries: call.tries,
      retryAtMs,
    });
    startCallTimer(call, 'retry', retryAtMs, out);
  }
  freeAgent(s, a, 'return to ready', out);
}

// ---------------------------------------------------------------------------------------
// Overflow between sites (docs/architecture.md §5.9): take, return, moved, admit

/**
 * The origin gives a waiting call up for a move. Only a caller waiting in the line is taken:
 * one being offered (or dialled for) keeps its agent, so no call is ever both ringing here and
 * moving. Not an error when refused: the origin asks on state that may have changed since.
 */
function onTakeCall(s: AcdState, callId: unknown, requestId: unknown, now: number, out: CommandOut): void {
  const id = str(callId, 'callId');
  const rid = str(requestId, 'requestId');
  s.nowMs = now;
  const call = s.calls.get(id);
  const why = notWaiting(call);
  if (why !== undefined) {
    out.push({ type: 'call-not-waiting', callId: id, requestId: rid, reason: why });
    return;
  }
  const c = call!;
  if (c.state === 'closed-wait') {
    cancelCallTimer(c, 'closed', out); // its closed deadline is kept for a return
  } else {
    refreshLevel(c, now);
    removeCall(c.queue, c);
    cancelCallTimer(c, 'wait', out);
  }
  c.state = 'taken';
  out.push({
    type: 'call-taken',
    callId: id,
    requestId: rid,
    queueId: c.queue.cfg.id,
    priority: c.priority,
    enqueueMs: c.enqueueMs,
    seq: c.seq,
    level: c.level,
    moves: c.moves,
    hops: c.hops,
    visitedSiteIds: c.visitedSiteIds,
  });
}

function notWaiting(call: CallRec | undefined): NotWaitingReason | undefined {
  if (!call) return 'unknown';
  if (call.virtual) return 'callback';
  switch (call.state) {
    case 'queued':
    case 'closed-wait':
      return undefined;
    case 'taken':
      return 'taken';
    case 'connected':
      return 'answered';
    default:
      return 'offered'; // offered (a virtual call dialling or waiting to retry is caught above)
  }
}

function takenArg(s: AcdState, callId: unknown, what: string): CallRec {
  const call = callArg(s, callId);
  if (call.state !== 'taken') {
    throw failedPrecondition(
      `call ${JSON.stringify(call.id)} cannot be ${what}: it is ${call.state}, not taken`,
    );
  }
  return call;
}

/**
 * The move failed: back to the very place, exactly as a ring-no-answer re-queue (requeue): the
 * same enqueue time and order, the expansion its wait has reached, and its max wait counted
 * from when it entered the queue, time in transit included (had it never left, it would have
 * waited that long here).
 */
function onReturnCall(s: AcdState, callId: unknown, now: number, out: CommandOut): void {
  const call = takenArg(s, callId, 'returned');
  s.nowMs = now;
  if (call.callerLeft) {
    // Its caller hung up in transit and it did not move: it ends here, once, as an abandon
    // (counted only if it had waited in the open line).
    if (call.closedUntilMs === undefined) recordWindow(s, call.queue, 'abandoned', now - call.enqueueMs);
    endCall(s, call, 'abandoned-queued', out);
    return;
  }
  if (call.closedUntilMs !== undefined) {
    // Taken from its closed wait: back to it for what is left, or its wait is over now.
    if (now < call.closedUntilMs) closedWait(s, call, out);
    else closedWaitOver(s, call, out);
    return;
  }
  requeue(s, call, out);
}

/**
 * The target admitted the call: it ends here. Not counted in this queue's window: the province
 * counts a call once, at the site that answers it, with its full wait.
 */
function onCallMoved(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'call-moved' }>,
  now: number,
  out: CommandOut,
): void {
  const call = takenArg(s, e.callId, 'moved');
  const toSiteId = str(e.toSiteId, 'toSiteId');
  const token = str(e.token, 'token');
  s.nowMs = now;
  // Site hops are counted at the target (admit-overflow); `moves` counts this site's transfers.
  endCall(s, call, 'overflowed', out, undefined, { toSiteId, token });
}

/**
 * A call from another site enters a queue as if it had joined at its original time. No
 * calendar or length check: the reservation promised the place. Unlike a callback it has a
 * caller on the line, so it counts towards the length limit and its max wait applies, from
 * its original time. One admitted `belowOwn` ranks after every own caller (routing.ts) and
 * keeps its priority; it is never held past its max wait either, so a site whose own callers
 * never thin out ends its wait by the queue's `onMaxWait`, not never.
 */
function onAdmitOverflow(
  s: AcdState,
  e: Extract<AcdEvent, { type: 'admit-overflow' }>,
  now: number,
  out: CommandOut,
): void {
  const { callId, q, priority, attached } = placedCallArgs(s, e, now);
  const fromSiteId = str(e.fromSiteId, 'fromSiteId');
  const token = str(e.token, 'token');
  const hops = int(e.hops, 'hops', Number.NaN);
  if (!(hops >= 1))
    throw invalidArgument('hops', `must be an integer >= 1 (this move counted), got ${String(e.hops)}`);
  const belowOwn = (e.belowOwn as unknown) ?? false;
  if (typeof belowOwn !== 'boolean')
    throw invalidArgument('belowOwn', `must be true or false, got ${JSON.stringify(belowOwn)}`);
  const visited = e.visitedSiteIds as unknown;
  if (
    !Array.isArray(visited) ||
    visited.length === 0 ||
    !visited.every((v) => typeof v === 'string' && v.length > 0)
  ) {
    throw invalidArgument(
      'visitedSiteIds',
      'must list the sites the call was at before this one, home first',
    );
  }
  s.nowMs = now;
  const call = newCall(callId, q, priority, attached, now);
  call.enqueueMs = e.enqueueMs;
  call.seq = ++s.seq;
  call.level = levelFor(q.cfg, now - e.enqueueMs);
  call.hops = hops;
  call.visitedSiteIds = [...(visited as string[])];
  call.overflowIn = { fromSiteId, token };
  call.belowOwn = belowOwn;
  s.calls.set(callId, call);
  // An eligible ready agent means no call it may take waits (the core never idles one).
  const a = pickAgent(q, call.level);
  if (a) return offer(s, call, a, out);
  insertCall(q, call);
  out.push({ type: 'call-queued', callId, queueId: q.cfg.id });
  armWaitTimer(s, call, out);
}

/** For adapters that need to tell errors apart without importing shared/errors. */
export function isAcdRejection(e: unknown): e is DomainError {
  return e instanceof DomainError && (e.kind === 'invalid-argument' || e.kind === 'failed-precondition');
}
