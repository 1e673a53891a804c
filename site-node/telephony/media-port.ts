/**
 * The port between the site's call handling and the voice network (docs/architecture.md §3.3). Call
 * legs and media endpoints are explicit so the SIP/RTP adapter (sip-media-port.ts, docs/sip.md
 * "The site over SIP") fills them with real addresses; the simulated adapter (sim-media.ts)
 * stands in for the demos and tests.
 *
 * A call has one `caller` leg from the trunk and, once connected, one `agent` leg bridged
 * to it. The IVR talks to the caller leg through play/collectDigits.
 *
 * A caller moved to another site (overflow and cover, docs/architecture.md §5.9) goes with
 * `handOver` at the origin and arrives through `onHandedOver` at the target, after the target
 * admitted the call under a one-time token (the commit, acked). The SIP adapter implements it
 * as an INVITE from the origin's media server to the target's trunk carrying the token (in a
 * header; the target matches it to its admitted reservation and answers 200, or refuses the
 * INVITE), with the media anchored at the origin: the origin bridges the caller's leg to that
 * outbound leg and stays in the RTP path, so the caller's carrier sees no re-INVITE and the
 * target needs no route to the caller. For the origin's call handling the leg is gone once
 * the hand-over resolved (its relay is the adapter's business, torn down when either side
 * hangs up).
 */
import { DomainError } from '../../shared/errors.js';

/**
 * `bridgeToAgent`'s refusal when the agent's phone did not take the call (not registered, no
 * answer, busy, unreachable): `reason` is what the agent goes not-ready with, so the
 * supervisor sees why (`phone-not-registered`, `phone-no-answer`, `phone-busy`...).
 */
export class AgentPhoneFailed extends DomainError {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super('unavailable', message);
  }
}

export type MediaEndpoint =
  { transport: 'sim'; id: string } | { transport: 'rtp'; host: string; port: number; codec: 'PCMU' | 'PCMA' };

export interface CallLeg {
  legId: string;
  callId: string;
  role: 'caller' | 'agent';
  endpoint: MediaEndpoint;
}

export interface InboundCall {
  /** Caller number (ANI) and dialled number (DNIS). */
  ani: string;
  dnis: string;
  leg: CallLeg;
}

export interface CollectOptions {
  minDigits?: number;
  maxDigits: number;
  timeoutMs: number;
  terminator?: '#';
  /** PIN entry: the adapter must not log, record or echo the digits. */
  secret?: boolean;
}

/** Where a hand-over goes: the site that admitted the call, and the token it admitted it under. */
export interface HandOverTo {
  toSiteId: string;
  token: string;
}

/**
 * The target's decision on a leg handed over to it: true when it takes the leg (the token names
 * a call it admitted and has no leg for yet), false to refuse it (the origin keeps the caller).
 */
export type HandedOverHandler = (token: string, leg: CallLeg) => boolean | Promise<boolean>;

/** A call recording's file, once written: where it is, how long it lasts, how big it is. */
export interface SavedRecording {
  path: string;
  durationMs: number;
  bytes: number;
}

/**
 * A call's recording, running. `saved` settles once the caller's leg has ended and the WAV is
 * written: it resolves with the file, or rejects when the file could not be written.
 */
export interface CallRecording {
  saved: Promise<SavedRecording>;
}

export interface MediaPort {
  /** Calls arriving on the trunks; the handler owns each call from then on. */
  onInbound(handler: (call: InboundCall) => void): void;
  /** The far end of a leg hung up. */
  onFarEndHangup(handler: (leg: CallLeg) => void): void;
  answer(leg: CallLeg): Promise<void>;
  /** Refuse a call before answering it (no trunk or IVR port free). */
  reject(leg: CallLeg, reason: 'busy' | 'unavailable'): Promise<void>;
  play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void>;
  /** The keys pressed, 'timeout', or 'hung-up' when the caller has left. */
  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'>;
  /** Queue treatment: music and the periodic announcement while the caller waits. */
  hold(leg: CallLeg): Promise<void>;
  /**
   * Record the call of this caller leg from now until the caller's leg ends: what the caller
   * says, and what each agent bridged to it says (docs/sip.md "Call recording"). Resolves once
   * recording; `null` when this adapter writes no recordings (the simulation: no file, never a
   * made-up path). Rejects when it cannot start (the leg has ended, nowhere to write).
   */
  startRecording(callerLeg: CallLeg): Promise<CallRecording | null>;
  /**
   * Ring the agent's phone as the call is offered (a port with real phones; the simulated one
   * has none and leaves this out): resolves once the agent picked the phone up, and the call
   * flow then answers the offer for them; rejects with AgentPhoneFailed when the phone did not
   * take the call (not registered, rang out, busy). The answered leg waits for `bridgeToAgent`.
   */
  ringAgent?(callerLeg: CallLeg, agentId: string): Promise<void>;
  /** The offer was withdrawn: the phone rung for it stops (or, just answered, is hung up). */
  stopRinging?(callerLeg: CallLeg): Promise<void>;
  /**
   * Connect the agent to the caller; returns the agent leg. The phone rung with the offer
   * (`ringAgent`) is taken once it answers; without one the agent's phone is rung now.
   */
  bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg>;
  /**
   * Call a customer (a callback): resolves with the answered leg, or 'no-answer' when
   * nobody picks up or the line is busy. Rejects when the call could not be placed
   * (`invalid-argument`: the number; `unavailable`: no route, the trunk full or refusing); the
   * callback flow counts that as not answered.
   */
  dial(number: string, opts: { callerId: string; timeoutMs: number }): Promise<CallLeg | 'no-answer'>;
  /** Hang up a leg from the site's side; a no-op for a leg that has already ended or was handed over. */
  hangup(leg: CallLeg): Promise<void>;
  /**
   * Origin: hand the caller's leg (waiting, not bridged) to the site that admitted the call.
   * Resolves once the target has taken the leg; from then on this site hears nothing of it
   * (no far-end hang-up) and `hangup` of it is a no-op. Rejects (`failed-precondition`: the
   * leg has ended or is bridged; `unavailable`: no route to the site, or it did not take the
   * leg) with the caller still on this site's leg, as before (on hold, its patience running).
   */
  handOver(leg: CallLeg, to: HandOverTo): Promise<void>;
  /**
   * Target: legs handed over by other sites arrive here with their token (instead of
   * `onInbound`); the handler claims each or refuses it. A leg claimed is the site's like an
   * inbound one (its far-end hang-up is reported; it is not answered again).
   */
  onHandedOver(handler: HandedOverHandler): void;
}
