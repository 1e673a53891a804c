/**
 * A simulated voice network behind the MediaPort: callers are scripts, not SIP phones.
 * Each simulated caller answers prompts through `respond` (after a think time), waits on
 * hold with a patience after which it hangs up (an abandon), and stays on the line once
 * bridged to an agent until the site releases it. Time comes from the Scheduler, so the
 * same code runs sped up in the demo and in virtual time in tests.
 */
import type { Scheduler, Cancel } from '../../shared/scheduler.js';
import type { CallLeg, CollectOptions, InboundCall, MediaPort } from '../telephony/media-port.js';

export interface SimCaller {
  ani: string;
  dnis: string;
  /** How long the caller will wait on hold before hanging up. */
  patienceMs: number;
  /** Digits to key in after the last prompt played, 'timeout' to say nothing, or 'hangup' to leave. */
  respond(lastPromptId: string | undefined, opts: CollectOptions): string | 'timeout' | 'hangup';
  /** Seconds the caller takes to key in an answer. */
  thinkMs: number;
}

interface LegState {
  caller: SimCaller;
  leg: CallLeg;
  lastPrompt: string | undefined;
  ended: boolean;
  bridged: boolean;
  patience: Cancel | undefined;
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
}

export class SimMedia implements MediaPort {
  private inbound: ((c: InboundCall) => void) | undefined;
  private farEnd: ((leg: CallLeg) => void) | undefined;
  private readonly legs = new Map<string, LegState>();
  private seq = 0;
  readonly counters: SimMediaCounters = {
    placed: 0,
    rejected: 0,
    abandonedOnHold: 0,
    bridged: 0,
    dialled: 0,
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
    if (!s || s.patience) return;
    s.patience = this.scheduler.after(s.caller.patienceMs, () => {
      s.patience = undefined;
      if (s.ended || s.bridged) return;
      this.counters.abandonedOnHold++;
      this.finish(s);
      this.farEnd?.(s.leg);
    });
  }

  async bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    const s = this.live(callerLeg);
    if (s) {
      s.bridged = true;
      s.patience?.();
      s.patience = undefined;
      this.counters.bridged++;
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

  private finish(s: LegState): void {
    s.ended = true;
    s.patience?.();
    s.patience = undefined;
    this.legs.delete(s.leg.legId);
  }

  /** Callers still on a line. */
  liveCount(): number {
    return this.legs.size;
  }
}
