/**
 * The call flow's side of moves between sites (docs/architecture.md §5.9): what the overflow
 * adapters (overflow-origin.ts, overflow-target.ts) read of a live call and hand back to it.
 * The moves themselves are theirs; the call flow ends a call the ACD says has moved as
 * `overflowed` (call-endings.ts), and nothing else ends it.
 */
import type { AcdCommand } from '../acd/index.js';
import type { CallLeg } from '../telephony/media-port.js';
import type { CallContext } from './call-context.js';
import { liveCall } from './live-call.js';

/** What the overflow adapters hear from the call flow (overflow-origin.ts). */
export interface CallFlowOverflowHooks {
  /** The ACD's answer to a `take-call` (call-taken or call-not-waiting). */
  acdAnswer(cmd: Extract<AcdCommand, { type: 'call-taken' | 'call-not-waiting' }>): void;
  /** The caller of a queued (or taken) call hung up. */
  callerLeft(callId: string): void;
  /** The call left the ACD (any outcome). */
  callEnded(callId: string): void;
}

/** A live call as a move to another site needs it (overflow-origin.ts). */
export interface MovableCallData {
  callId: string;
  ani: string;
  dnis: string;
  leg: CallLeg;
  customerId: string | undefined;
  ivrPath: readonly string[];
  attached: Readonly<Record<string, string>>;
  createdAtMs: number;
  callerGone: boolean;
  /**
   * The caller pressed the callback key and that request is being committed: the call is not
   * moved meanwhile (the request takes its place here; a move would serve it twice).
   */
  callbackPending: boolean;
}

/** A call another site moved here, adopted as a live call (overflow-target.ts). */
export interface MovedInCall {
  /** This site's record of it (admitOverflow made it). */
  callId: string;
  ani: string;
  dnis: string;
  /** The caller's leg, or a stand-in until the voice arrives (`attachLeg`). */
  leg: CallLeg;
  customerId: string | undefined;
  ivrPath: string[];
  attached: Record<string, string>;
  queueId: string;
  /** When it joined the queue at the origin, in this site's clock. */
  queuedAtMs: number;
}

export class CallMoves {
  constructor(
    private readonly ctx: CallContext,
    /** A hang-up as the caller's own (the ACD command handling's). */
    private readonly hungUp: (leg: CallLeg) => void,
  ) {}

  /**
   * Why this site cannot take a call moved in from another site now (null: it can): the same
   * gates as a new inbound call's, trunks aside (the target counts those with its promises).
   */
  get movedInRefusal(): 'site-stopping' | 'store-backlog' | null {
    if (!this.ctx.accepting) return 'site-stopping';
    return this.ctx.d.writes.admissionOpen ? null : 'store-backlog';
  }

  /**
   * Trunks not held by a call now, as an inbound call finds them (call-admission.ts): what a
   * target may still promise to calls moved in from other sites (overflow-target.ts).
   */
  get trunksFree(): number {
    return Math.max(0, this.ctx.d.config.trunks - this.ctx.calls.size);
  }

  /** A live call waiting in a queue, as a move needs it; undefined if it is not live here. */
  movedCall(callId: string): MovableCallData | undefined {
    const c = this.ctx.calls.get(callId);
    if (!c) return undefined;
    return {
      callId: c.callId,
      ani: c.ani,
      dnis: c.dnis,
      leg: c.leg,
      customerId: c.customerId,
      ivrPath: c.ivrPath,
      attached: c.attached,
      createdAtMs: c.createdAtMs,
      callerGone: c.callerGone,
      callbackPending: this.ctx.callbacks.joinRequest(callId) !== undefined,
    };
  }

  /**
   * A call admitted from another site becomes a live call here, queued with its data, before
   * the ACD admits it (the ACD may offer it at once): offer, connect, abandon and end then work
   * as for any call. It holds a trunk like any call; it is not counted offered or queued again
   * (the origin counted it, tally.ts).
   */
  adoptMovedIn(m: MovedInCall): void {
    const call = liveCall(m.callId, m.ani, m.dnis, m.leg, 'queued');
    m.leg.callId = m.callId;
    Object.assign(call, {
      customerId: m.customerId,
      ivrPath: m.ivrPath,
      attached: m.attached,
      queueId: m.queueId,
      queuedAtMs: m.queuedAtMs,
      createdAtMs: this.ctx.d.scheduler.now(),
    });
    let arrive = (): void => {};
    const arrived = new Promise<void>((r) => (arrive = r));
    call.legArrival = { arrived, arrive };
    this.ctx.calls.set(m.callId, call);
  }

  /** Forget an adopted call the ACD did not admit (its record is ended by the caller). */
  dropMovedIn(callId: string): void {
    this.ctx.calls.delete(callId);
  }

  /** The caller's leg of a moved-in call arrived (it was a stand-in until now). */
  attachLeg(callId: string, leg: CallLeg): boolean {
    const c = this.ctx.calls.get(callId);
    if (!c || c.callerGone) return false;
    leg.callId = callId;
    c.leg = leg;
    const arrival = c.legArrival;
    c.legArrival = undefined;
    // The call joined its queue here at the admit, on a stand-in nothing records: it is recorded
    // from now when the flow records that queue (without this a call moved into `complaints` was
    // never recorded at the target). Before the arrival is told, so the engine starts recording
    // before a bridge waiting for the leg (an agent who answered first) adds the agent's side.
    if (c.queueId !== undefined) this.ctx.recordings.queueJoined(c, c.queueId);
    arrival?.arrive();
    if (c.phase === 'queued') void this.ctx.d.media.hold(leg);
    return true;
  }

  /** The origin says the caller of a moved-in call hung up there: as a hang-up here. */
  callerLeftElsewhere(callId: string): void {
    const c = this.ctx.calls.get(callId);
    if (!c || c.callerGone) return;
    void this.ctx.d.media.hangup(c.leg).catch(() => {});
    this.hungUp(c.leg);
  }
}
