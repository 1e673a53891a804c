/**
 * A simulated voice network behind the MediaPort: callers are scripts, not SIP phones.
 * Each simulated caller answers prompts through `respond` (after a think time), waits on
 * hold with a patience after which it hangs up (an abandon), and stays on the line once
 * bridged to an agent until the site releases it (or, when it has a talk time, hangs up
 * after it). Time comes from the Scheduler, so the same code runs sped up in the demo and in
 * virtual time in tests.
 *
 * A waiting caller can be handed to another site (`handOver`, the MediaPort's move): the
 * caller travels as data (sim-hand-over.ts) with the patience left, and arrives at the other
 * site's SimMedia (`receiveHandOver`), whose site claims the leg through `onHandedOver`.
 */
import { DomainError, failedPrecondition, unavailable } from '../../shared/errors.js';
import type { Scheduler, Cancel } from '../../shared/scheduler.js';
import type {
  CallLeg,
  CallRecording,
  CollectOptions,
  HandedOverHandler,
  HandOverTo,
  InboundCall,
  MediaPort,
} from '../telephony/media-port.js';
import type { SimCallerState, SimHandOverReceiver, SimHandOverRoute } from './sim-hand-over.js';

export interface SimCaller {
  ani: string;
  dnis: string;
  /** How long the caller will wait on hold before hanging up. */
  patienceMs: number;
  /** Digits to key in after the last prompt played, 'timeout' to say nothing, or 'hangup' to leave. */
  respond(lastPromptId: string | undefined, opts: CollectOptions): string | 'timeout' | 'hangup';
  /** Seconds the caller takes to key in an answer. */
  thinkMs: number;
  /** How long the caller talks once bridged before hanging up; absent: until the site releases them. */
  talkMs?: number;
}

interface LegState {
  caller: SimCaller;
  leg: CallLeg;
  lastPrompt: string | undefined;
  ended: boolean;
  bridged: boolean;
  patience: Cancel | undefined;
  /** When the patience started running (the first hold), for the patience left at a hand-over. */
  holdStartedMs: number | undefined;
  handingOver: boolean;
  talk: Cancel | undefined;
  prompts: string[];
}

/**
 * The prompts that tell a caller their request is recorded (a ticket's reference, a callback
 * booked). The simulated caller reports each one it hears (`onConfirmation`), so the chaos
 * suite can check that every caller told "recorded" has the record (docs/operations.md,
 * "Chaos suite").
 */
export const CONFIRMATION_PROMPTS: ReadonlySet<string> = new Set([
  'ticket.created',
  'feedback.complaint_recorded',
  'feedback.suggestion_recorded',
  'callback.scheduled',
]);

/** What a caller heard that says something was recorded for them. */
export interface HeardConfirmation {
  callId: string;
  promptId: string;
  /** The reference the prompt read out (a ticket's IVR id), when it has one. */
  ref?: string;
}

export interface SimMediaCounters {
  placed: number;
  rejected: number;
  abandonedOnHold: number;
  bridged: number;
  dialled: number;
  /** Callers this site handed to another site, and callers it took from one. */
  handedOut: number;
  handedIn: number;
}

export class SimMedia implements MediaPort, SimHandOverReceiver {
  private inbound: ((c: InboundCall) => void) | undefined;
  private farEnd: ((leg: CallLeg) => void) | undefined;
  private handedOver: HandedOverHandler | undefined;
  private route: SimHandOverRoute | undefined;
  private readonly legs = new Map<string, LegState>();
  private seq = 0;
  readonly counters: SimMediaCounters = {
    placed: 0,
    rejected: 0,
    abandonedOnHold: 0,
    bridged: 0,
    dialled: 0,
    handedOut: 0,
    handedIn: 0,
  };

  constructor(
    private readonly scheduler: Scheduler,
    /** Who answers a callback: a simulated customer for the number, or undefined for no answer. */
    private readonly answerer: (number: string) => SimCaller | undefined = () => undefined,
    /** Called when a caller on the line hears a confirmation prompt (CONFIRMATION_PROMPTS). */
    private readonly onConfirmation: (heard: HeardConfirmation) => void = () => undefined,
  ) {}

  onInbound(handler: (call: InboundCall) => void): void {
    this.inbound = handler;
  }

  onFarEndHangup(handler: (leg: CallLeg) => void): void {
    this.farEnd = handler;
  }

  onHandedOver(handler: HandedOverHandler): void {
    this.handedOver = handler;
  }

  /** How this site's callers reach other sites (sim-hand-over.ts); none: a hand-over is refused. */
  useHandOverRoute(route: SimHandOverRoute): void {
    this.route = route;
  }

  /** A caller's leg: the site assigns the call id when it takes the call. */
  private addLeg(caller: SimCaller): CallLeg {
    const legId = `sim-${++this.seq}`;
    const leg: CallLeg = { legId, callId: '', role: 'caller', endpoint: { transport: 'sim', id: legId } };
    this.legs.set(legId, {
      caller,
      leg,
      lastPrompt: undefined,
      ended: false,
      bridged: false,
      patience: undefined,
      holdStartedMs: undefined,
      handingOver: false,
      talk: undefined,
      prompts: [],
    });
    return leg;
  }

  /** A simulated caller dials in. */
  place(caller: SimCaller): CallLeg {
    if (!this.inbound) throw new Error('SimMedia.place: no inbound handler registered');
    const leg = this.addLeg(caller);
    this.counters.placed++;
    this.inbound({ ani: caller.ani, dnis: caller.dnis, leg });
    return leg;
  }

  private live(leg: CallLeg): LegState | undefined {
    const s = this.legs.get(leg.legId);
    return s && !s.ended ? s : undefined;
  }

  async answer(_leg: CallLeg): Promise<void> {}

  async reject(leg: CallLeg): Promise<void> {
    const s = this.legs.get(leg.legId);
    if (s) this.finish(s);
    this.counters.rejected++;
  }

  async play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void> {
    const s = this.live(leg);
    if (!s) return;
    s.lastPrompt = promptId;
    s.prompts.push(promptId);
    if (CONFIRMATION_PROMPTS.has(promptId))
      this.onConfirmation({ callId: leg.callId, promptId, ...(vars?.ref ? { ref: vars.ref } : {}) });
  }

  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'> {
    const s = this.live(leg);
    if (!s) return Promise.resolve('hung-up');
    const answer = s.caller.respond(s.lastPrompt, opts);
    if (answer === 'hangup') {
      this.finish(s);
      return Promise.resolve('hung-up');
    }
    const delay = answer === 'timeout' ? opts.timeoutMs : Math.min(s.caller.thinkMs, opts.timeoutMs);
    return new Promise((resolve) => this.scheduler.after(delay, () => resolve(s.ended ? 'hung-up' : answer)));
  }

  async hold(leg: CallLeg): Promise<void> {
    const s = this.live(leg);
    if (!s || s.patience || s.handingOver) return;
    s.holdStartedMs ??= this.scheduler.now();
    this.armPatience(s);
  }

  /** The caller hangs up when the patience left since the first hold runs out. */
  private armPatience(s: LegState): void {
    const heldMs = this.scheduler.now() - (s.holdStartedMs ?? this.scheduler.now());
    const leftMs = Math.max(0, s.caller.patienceMs - heldMs);
    s.patience = this.scheduler.after(leftMs, () => {
      s.patience = undefined;
      if (s.ended || s.bridged) return;
      this.counters.abandonedOnHold++;
      this.finish(s);
      this.farEnd?.(s.leg);
    });
  }

  /**
   * A simulated caller makes no sound: there is nothing to write, so no recording and no path
   * (never a made-up one).
   */
  startRecording(_callerLeg: CallLeg): Promise<CallRecording | null> {
    return Promise.resolve(null);
  }

  async bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    const s = this.live(callerLeg);
    if (s) {
      s.bridged = true;
      s.patience?.();
      s.patience = undefined;
      this.counters.bridged++;
      const talkMs = s.caller.talkMs;
      if (talkMs !== undefined && !s.talk) {
        s.talk = this.scheduler.after(talkMs, () => {
          s.talk = undefined;
          if (s.ended) return;
          this.finish(s);
          this.farEnd?.(s.leg);
        });
      }
    }
    return {
      legId: `${callerLeg.legId}-agent`,
      callId: callerLeg.callId,
      role: 'agent',
      endpoint: { transport: 'sim', id: `agent-${agentId}` },
    };
  }

  dial(number: string, opts: { callerId: string; timeoutMs: number }): Promise<CallLeg | 'no-answer'> {
    const caller = this.answerer(number);
    const ringMs = caller ? Math.min(caller.thinkMs * 2, opts.timeoutMs) : opts.timeoutMs;
    return new Promise((resolve) =>
      this.scheduler.after(ringMs, () => {
        if (!caller) return resolve('no-answer');
        const leg = this.addLeg(caller);
        this.counters.dialled++;
        resolve(leg);
      }),
    );
  }

  async hangup(leg: CallLeg): Promise<void> {
    const s = this.legs.get(leg.legId);
    if (s) this.finish(s);
  }

  /**
   * The caller on `leg` as it would travel with a hand-over now: its patience left (the full
   * patience before it first went on hold). Undefined for a leg that has ended. The origin's
   * adapter puts it in the overflow request (sim-hand-over.ts, simCallerAttached).
   */
  callerState(leg: CallLeg): SimCallerState | undefined {
    const s = this.live(leg);
    if (!s) return undefined;
    const heldMs = s.holdStartedMs === undefined ? 0 : this.scheduler.now() - s.holdStartedMs;
    return {
      ani: s.caller.ani,
      dnis: s.caller.dnis,
      remainingPatienceMs: Math.max(0, s.caller.patienceMs - heldMs),
      talkMs: s.caller.talkMs ?? null,
      thinkMs: s.caller.thinkMs,
    };
  }

  async handOver(leg: CallLeg, to: HandOverTo): Promise<void> {
    const s = this.live(leg);
    if (!s) throw failedPrecondition(`leg ${leg.legId} has ended: the caller left before the hand-over`);
    if (s.bridged)
      throw failedPrecondition(`leg ${leg.legId} is bridged to an agent: only a waiting caller moves`);
    if (s.handingOver) throw failedPrecondition(`leg ${leg.legId} is already being handed over`);
    if (!this.route)
      throw unavailable(`no simulated voice route to other sites (hand-over to ${to.toSiteId})`);
    const caller = this.callerState(leg)!;
    // In transit the caller's patience runs at the target from `caller` on, or here again if
    // the target does not take them: one person, one patience.
    const wasHolding = s.patience !== undefined;
    s.patience?.();
    s.patience = undefined;
    s.handingOver = true;
    try {
      await this.route.deliver(to.toSiteId, to.token, caller);
    } catch (e) {
      s.handingOver = false;
      if (wasHolding && !s.ended) this.armPatience(s);
      throw e;
    }
    // The caller is the target's now. Removed without a far-end hang-up: this site no longer
    // has the call.
    this.finish(s);
    this.counters.handedOut++;
  }

  /**
   * A caller handed over by another site arrives (sim-hand-over.ts): a new leg, offered to the
   * site's `onHandedOver` handler. Resolves when the site claimed it; rejects when it refused
   * or has no handler (the origin keeps the caller).
   */
  async receiveHandOver(token: string, state: SimCallerState): Promise<void> {
    const handler = this.handedOver;
    if (!handler) throw unavailable(`this site takes no handed-over callers (token ${token})`);
    const leg = this.addLeg({
      ani: state.ani,
      dnis: state.dnis,
      // Past the IVR: the queue's prompts (the callback key) go unanswered.
      respond: () => 'timeout',
      thinkMs: state.thinkMs,
      patienceMs: state.remainingPatienceMs,
      ...(state.talkMs === null ? {} : { talkMs: state.talkMs }),
    });
    let claimed: boolean;
    try {
      claimed = await handler(token, leg);
    } catch (e) {
      const s = this.legs.get(leg.legId);
      if (s) this.finish(s);
      throw e;
    }
    if (!claimed) {
      const s = this.legs.get(leg.legId);
      if (s) this.finish(s);
      throw new DomainError(
        'unavailable',
        `the site did not take the caller handed over under token ${token}`,
      );
    }
    this.counters.handedIn++;
  }

  private finish(s: LegState): void {
    s.ended = true;
    s.patience?.();
    s.patience = undefined;
    s.talk?.();
    s.talk = undefined;
    this.legs.delete(s.leg.legId);
  }

  /** Callers still on a line. */
  liveCount(): number {
    return this.legs.size;
  }
}
