/**
 * An in-memory AgentDesk FAKE, for tests of the gRPC agent service and of the simulated
 * agents. It is NOT the site's ACD (the lead builds that on the ACD core): one FIFO of waiting
 * calls, offered to the longest-ready agent regardless of queue or skills. It is honest about
 * the agent state machine, which is the part the adapters depend on:
 *
 *   logged-out --login--> not-ready("login") <--setNotReady--> ready
 *        ^                     |      ^                         |  ^
 *        +------logout---------+      | ring-no-answer    offer |  | caller abandons
 *                                     |                         v  |
 *                                     +-------------------- reserved
 *                                                               | answer
 *                                                               v
 *   ready <--completeWrapup-- wrap-up <--hangup / transfer / caller hangs up-- on-call
 *
 * Every method validates first and throws a DomainError that changes nothing: not-found for
 * an unknown agent or call, failed-precondition for a move the state machine forbids,
 * invalid-argument for an empty id. Every call to the port is recorded in `calls`, and
 * `failNext(err)` makes the next method throw `err` (to test error translation). Events are
 * delivered synchronously to subscribers, a `state` event after every state change. PIN
 * unlocks follow the site's rule (./pin-unlock-rule.ts) against `pinLocked`, a stand-in for
 * the bank host, and are kept in `pinUnlocks`.
 */
import type { Clock } from '../../shared/clock.js';
import { systemClock } from '../../shared/clock.js';
import { DomainError, failedPrecondition, invalidArgument, notFound } from '../../shared/errors.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type {
  AgentDesk,
  AgentView,
  DeskEvent,
  DeskPinUnlock,
  DeskPinUnlockResult,
  ScreenPop,
} from './agent-desk.js';
import { decidePinUnlock } from './pin-unlock-rule.js';

/** A call to put in the fake's queue; missing screen-pop fields get bland defaults. */
export type FakeCallInput = Pick<ScreenPop, 'callId'> &
  Partial<Omit<ScreenPop, 'offeredAtMs' | 'answerByMs'>>;

export interface InMemoryDeskOptions {
  agents: ReadonlyArray<{ agentId: string; skills?: Record<string, number> }>;
  /** Time source for offeredAtMs/answerByMs; the scheduler if given, else the system clock. */
  clock?: Clock;
  /** When given, offers lapse after `ringTimeoutMs` (ring-no-answer); without one they never do. */
  scheduler?: Scheduler;
  ringTimeoutMs?: number;
}

export interface PortCall {
  method: string;
  args: unknown[];
}

export interface CompletedCall {
  callId: string;
  agentId: string;
  wrapupCode: string;
  atMs: number;
}

interface AgentRec {
  view: AgentView;
  /** When the agent last became ready (longest-ready goes first). */
  readySince: number;
  listeners: Set<(e: DeskEvent) => void>;
  ringTimer?: Cancel;
}

type CallState = 'waiting' | 'offered' | 'connected' | 'wrap-up' | 'ended';
interface CallRec {
  pop: Omit<ScreenPop, 'offeredAtMs' | 'answerByMs'>;
  state: CallState;
  agentId?: string;
}

export class InMemoryAgentDesk implements AgentDesk {
  /** Every port method call, in order (subscribe excluded). */
  readonly calls: PortCall[] = [];
  readonly completed: CompletedCall[] = [];
  readonly counts = { offered: 0, answered: 0, ringNoAnswer: 0, abandoned: 0, transferred: 0, completed: 0 };

  private readonly agents = new Map<string, AgentRec>();
  private readonly callsById = new Map<string, CallRec>();
  private readonly waitingQueue: string[] = [];
  private readonly clock: Clock;
  private readonly ringTimeoutMs: number;
  private nextFailure: unknown;
  private readySeq = 0;

  constructor(private readonly opts: InMemoryDeskOptions) {
    for (const a of opts.agents) {
      this.agents.set(a.agentId, {
        view: { agentId: a.agentId, state: 'logged-out', skills: { ...a.skills } },
        readySince: 0,
        listeners: new Set(),
      });
    }
    this.clock = opts.clock ?? opts.scheduler ?? systemClock;
    this.ringTimeoutMs = opts.ringTimeoutMs ?? 15_000;
  }

  // ---- test controls ------------------------------------------------------------------------

  /** Customers whose PIN the fake's "bank host" holds locked (tests add to it). */
  readonly pinLocked = new Set<string>();
  /** Every unlock the fake allowed, in order. */
  readonly pinUnlocks: Array<DeskPinUnlock & { agentId: string; method: string; wasLocked: boolean }> = [];

  /** The next port method throws `err` (once), before doing anything. */
  failNext(err: unknown): void {
    this.nextFailure = err;
  }

  /** Put a call in the queue; it is offered at once if an agent is ready. */
  enqueueCall(input: FakeCallInput): void {
    if (this.callsById.has(input.callId))
      throw new DomainError('already-exists', `call ${input.callId} exists`);
    this.callsById.set(input.callId, {
      pop: {
        queueId: 'retail',
        ani: '',
        dnis: '',
        verified: false,
        ivrPath: [],
        attached: {},
        recentContacts: [],
        ...input,
      },
      state: 'waiting',
    });
    this.waitingQueue.push(input.callId);
    this.dispatch();
  }

  /** The caller hangs up: abandons a waiting or offered call, or ends a connected one. */
  callerHangup(callId: string): void {
    const call = this.callsById.get(callId);
    if (!call || call.state === 'ended' || call.state === 'wrap-up') return;
    if (call.state === 'waiting') {
      this.waitingQueue.splice(this.waitingQueue.indexOf(callId), 1);
      call.state = 'ended';
      this.counts.abandoned++;
      return;
    }
    const a = this.agents.get(call.agentId!)!;
    if (call.state === 'offered') {
      a.ringTimer?.();
      call.state = 'ended';
      this.counts.abandoned++;
      this.emit(a, { type: 'offer-withdrawn', callId, reason: 'caller-abandoned' });
      this.become(a, { state: 'ready' });
    } else {
      call.state = 'wrap-up';
      this.emit(a, { type: 'call-ended', callId, by: 'caller' });
      this.become(a, { state: 'wrap-up', callId });
    }
    this.dispatch();
  }

  /** Calls waiting for an agent. */
  waiting(): number {
    return this.waitingQueue.length;
  }

  /** How many listeners an agent has (to check that streams unsubscribe). */
  subscriberCount(agentId: string): number {
    return this.agents.get(agentId)?.listeners.size ?? 0;
  }

  // ---- the port -----------------------------------------------------------------------------

  async login(agentId: string): Promise<AgentView> {
    const a = this.enter('login', [agentId], agentId);
    if (a.view.state !== 'logged-out') throw failedPrecondition(`agent ${agentId} is already logged in`);
    return this.become(a, { state: 'not-ready', reasonCode: 'login' });
  }

  async logout(agentId: string): Promise<AgentView> {
    const a = this.enter('logout', [agentId], agentId);
    if (a.view.state !== 'ready' && a.view.state !== 'not-ready') {
      throw failedPrecondition(`agent ${agentId} cannot log out while ${a.view.state}`);
    }
    return this.become(a, { state: 'logged-out' });
  }

  async setReady(agentId: string): Promise<AgentView> {
    const a = this.enter('setReady', [agentId], agentId);
    if (a.view.state === 'ready') return this.snapshot(a);
    if (a.view.state !== 'not-ready')
      throw failedPrecondition(`agent ${agentId} cannot go ready while ${a.view.state}`);
    this.become(a, { state: 'ready' });
    this.dispatch();
    return this.snapshot(a);
  }

  async setNotReady(agentId: string, reasonCode: string): Promise<AgentView> {
    const a = this.enter('setNotReady', [agentId, reasonCode], agentId);
    if (!reasonCode) throw invalidArgument('reasonCode', 'must not be empty');
    if (a.view.state !== 'ready' && a.view.state !== 'not-ready') {
      throw failedPrecondition(`agent ${agentId} cannot go not-ready while ${a.view.state}`);
    }
    return this.become(a, { state: 'not-ready', reasonCode });
  }

  async answer(agentId: string, callId: string): Promise<AgentView> {
    const a = this.enter('answer', [agentId, callId], agentId);
    const call = this.callFor(callId);
    if (a.view.state !== 'reserved' || a.view.callId !== callId) {
      throw failedPrecondition(`call ${callId} is not offered to agent ${agentId}`);
    }
    a.ringTimer?.();
    call.state = 'connected';
    this.counts.answered++;
    return this.become(a, { state: 'on-call', callId });
  }

  async hangup(agentId: string, callId: string): Promise<AgentView> {
    const a = this.enter('hangup', [agentId, callId], agentId);
    const call = this.connected(a, callId);
    call.state = 'wrap-up';
    this.emit(a, { type: 'call-ended', callId, by: 'agent' });
    return this.become(a, { state: 'wrap-up', callId });
  }

  async transfer(agentId: string, callId: string, queueId: string): Promise<AgentView> {
    const a = this.enter('transfer', [agentId, callId, queueId], agentId);
    if (!queueId) throw invalidArgument('queueId', 'must not be empty');
    const call = this.connected(a, callId);
    // The caller goes back to the queue under a new leg; this agent wraps up its part.
    this.counts.transferred++;
    const newId = `${callId}.t${this.counts.transferred}`;
    call.state = 'wrap-up';
    this.emit(a, { type: 'call-ended', callId, by: 'agent' });
    const view = this.become(a, { state: 'wrap-up', callId });
    this.enqueueCall({ ...call.pop, callId: newId, queueId });
    return view;
  }

  async completeWrapup(agentId: string, callId: string, wrapupCode: string): Promise<AgentView> {
    const a = this.enter('completeWrapup', [agentId, callId, wrapupCode], agentId);
    if (!wrapupCode) throw invalidArgument('wrapupCode', 'must not be empty');
    const call = this.callFor(callId);
    if (a.view.state !== 'wrap-up' || a.view.callId !== callId) {
      throw failedPrecondition(`agent ${agentId} is not wrapping up call ${callId}`);
    }
    call.state = 'ended';
    this.counts.completed++;
    this.completed.push({ callId, agentId, wrapupCode, atMs: this.clock.now() });
    this.become(a, { state: 'ready' });
    this.dispatch();
    return this.snapshot(a);
  }

  async agent(agentId: string): Promise<AgentView> {
    return this.snapshot(this.enter('agent', [agentId], agentId));
  }

  async unlockPin(agentId: string, req: DeskPinUnlock): Promise<DeskPinUnlockResult> {
    const a = this.enter('unlockPin', [agentId, req], agentId);
    const call = this.callsById.get(req.callId);
    const d = decidePinUnlock(
      { agentId, ...req },
      {
        agent: a.view,
        call: call && {
          ...(call.agentId ? { agentId: call.agentId } : {}),
          ...(call.pop.customer ? { customerId: call.pop.customer.customerId } : {}),
        },
      },
    );
    if (!d.allow) throw new DomainError(d.kind, d.why, d.field ? { field: d.field } : {});
    const wasLocked = this.pinLocked.delete(req.customerId);
    this.pinUnlocks.push({ agentId, ...req, method: d.method, wasLocked });
    return { customerId: req.customerId, wasLocked, eventId: `evt_fake_${this.pinUnlocks.length}` };
  }

  subscribe(agentId: string, listener: (e: DeskEvent) => void): () => void {
    const a = this.agents.get(agentId);
    if (!a) throw notFound('agent', agentId);
    a.listeners.add(listener);
    return () => {
      a.listeners.delete(listener);
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private enter(method: string, args: unknown[], agentId: string): AgentRec {
    this.calls.push({ method, args });
    if (this.nextFailure !== undefined) {
      const err = this.nextFailure;
      this.nextFailure = undefined;
      throw err;
    }
    for (const [i, v] of args.entries()) {
      // The unlock's request is an object; every other argument is a string.
      if (typeof v !== 'string' && (method !== 'unlockPin' || i === 0)) {
        throw invalidArgument(`arg${i}`, 'must be a string');
      }
    }
    if (!agentId) throw invalidArgument('agentId', 'must not be empty');
    const a = this.agents.get(agentId);
    if (!a) throw notFound('agent', agentId);
    return a;
  }

  private callFor(callId: string): CallRec {
    if (!callId) throw invalidArgument('callId', 'must not be empty');
    const call = this.callsById.get(callId);
    if (!call) throw notFound('call', callId);
    return call;
  }

  private connected(a: AgentRec, callId: string): CallRec {
    const call = this.callFor(callId);
    if (a.view.state !== 'on-call' || a.view.callId !== callId) {
      throw failedPrecondition(`agent ${a.view.agentId} is not on call ${callId}`);
    }
    return call;
  }

  private snapshot(a: AgentRec): AgentView {
    return { ...a.view, skills: { ...a.view.skills } };
  }

  private become(
    a: AgentRec,
    next: { state: AgentView['state']; reasonCode?: string; callId?: string },
  ): AgentView {
    const view: AgentView = { agentId: a.view.agentId, state: next.state, skills: a.view.skills };
    if (next.reasonCode !== undefined) view.reasonCode = next.reasonCode;
    if (next.callId !== undefined) view.callId = next.callId;
    if (next.state === 'ready' && a.view.state !== 'ready') a.readySince = ++this.readySeq;
    a.view = view;
    this.emit(a, { type: 'state', agent: this.snapshot(a) });
    return this.snapshot(a);
  }

  private emit(a: AgentRec, e: DeskEvent): void {
    for (const l of [...a.listeners]) {
      try {
        l(e);
      } catch {
        // A listener's failure is its own business; the desk carries on.
      }
    }
  }

  /** Offer waiting calls to ready agents, longest-ready first. */
  private dispatch(): void {
    while (this.waitingQueue.length > 0) {
      let best: AgentRec | undefined;
      for (const a of this.agents.values()) {
        if (a.view.state === 'ready' && (!best || a.readySince < best.readySince)) best = a;
      }
      if (!best) return;
      const callId = this.waitingQueue.shift()!;
      this.offer(best, callId);
    }
  }

  private offer(a: AgentRec, callId: string): void {
    const call = this.callsById.get(callId)!;
    const now = this.clock.now();
    call.state = 'offered';
    call.agentId = a.view.agentId;
    this.counts.offered++;
    const pop: ScreenPop = { ...call.pop, offeredAtMs: now, answerByMs: now + this.ringTimeoutMs };
    this.become(a, { state: 'reserved', callId });
    this.emit(a, { type: 'offer', pop });
    if (this.opts.scheduler) {
      const cancel = this.opts.scheduler.after(this.ringTimeoutMs, () => this.ringNoAnswer(a, callId));
      a.ringTimer = () => {
        cancel();
        a.ringTimer = undefined;
      };
    }
  }

  private ringNoAnswer(a: AgentRec, callId: string): void {
    a.ringTimer = undefined;
    const call = this.callsById.get(callId);
    if (!call || call.state !== 'offered' || a.view.callId !== callId) return;
    this.counts.ringNoAnswer++;
    call.state = 'waiting';
    delete call.agentId;
    this.emit(a, { type: 'offer-withdrawn', callId, reason: 'ring-no-answer' });
    this.become(a, { state: 'not-ready', reasonCode: 'ring-no-answer' });
    this.waitingQueue.unshift(callId);
    this.dispatch();
  }
}
