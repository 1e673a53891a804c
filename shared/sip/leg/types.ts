/**
 * What the two call legs (inbound.ts, outbound.ts) share: their events, their commands, how
 * a leg ends, and its state. A leg is the transaction user (RFC 3261 §8, §13-15) of one call
 * leg: the transaction layer hands it requests and responses, it answers with commands. No
 * socket, timer or clock inside (docs/architecture.md §3.1).
 */
import type { DtmfDigit } from '../../media/dtmf.js';
import type { LocalAudio, NegotiatedAudio } from '../../media/sdp.js';
import type { SessionTimer } from '../../media/session-timer.js';
import type { TimerPolicy } from '../../media/session-expires.js';
import type { SipRequest, SipResponse } from '../message.js';
import type { Dialog } from '../dialog/dialog.js';
import type { LocalVia, SipIds } from '../dialog/requests.js';
import type { TimerOptions } from '../transaction/timers.js';

/**
 * The leg's own timers (the transactions run theirs): resending our 2xx to an INVITE until
 * the ACK (T1 doubling to T2), giving up on that ACK (64*T1), the outbound ring timeout, and
 * the session timer's next wake-up (shared/media/session-timer.ts).
 */
export type LegTimerName = '2xx-resend' | 'ack-wait' | 'ring' | 'session';

export type LegEndReason =
  /** The peer hung up: its BYE. */
  | 'far-end'
  /** Inbound: the caller's CANCEL before our 200. Outbound: the site hung up while it rang. */
  | 'cancelled'
  /** The site hung up: our BYE, or our refusal of a call it did not answer. */
  | 'local'
  /** The far end is gone: session timer expiry, RTP inactivity, our 2xx never acknowledged. */
  | 'timeout'
  /** Inbound: the INVITE could not be taken (its offer, its Session-Expires, no Contact). */
  | 'refused'
  /** Outbound: nobody answered before the ring timeout. */
  | 'no-answer'
  /** Outbound: 486 or 600. */
  | 'busy'
  /** Outbound: 404, 408, 480, or the INVITE's transaction timed out or failed to send. */
  | 'unavailable'
  /**
   * Outbound: any other final, or an answer we could not use. Inbound: the answer in the ACK
   * (after a late offer) was unusable. `status` says which.
   */
  | 'failed';

export interface LegEnd {
  readonly reason: LegEndReason;
  /** The SIP status that ended it, when one did. */
  readonly status?: number;
  /** For the log line: what went wrong, when the reason alone does not say. */
  readonly detail?: string;
}

export type LegCommand =
  /** Hand this response to the server transaction of the request it answers. */
  | { readonly type: 'send-response'; readonly response: SipResponse }
  /**
   * Send this request: a new client transaction, except an ACK, which goes straight to the
   * transport (the ACK of a 2xx is no transaction's, RFC 3261 §17.1.1.3). After a CANCEL,
   * tell the INVITE's client transaction `cancel-sent`.
   */
  | { readonly type: 'send-request'; readonly request: SipRequest }
  /** Arm a timer; one already running under that name is replaced. */
  | { readonly type: 'start-timer'; readonly name: LegTimerName; readonly atMs: number }
  | { readonly type: 'cancel-timer'; readonly name: LegTimerName }
  /** Media: start (and the RTP inactivity watch), follow a changed offer, or stop. */
  | { readonly type: 'media-start'; readonly audio: NegotiatedAudio }
  | { readonly type: 'media-update'; readonly audio: NegotiatedAudio }
  | { readonly type: 'media-stop' }
  /** A key the peer pressed, sent as SIP INFO (RFC 4733 digits come through the media). */
  | { readonly type: 'dtmf'; readonly digit: DtmfDigit }
  /**
   * A request the leg refused for the peer's fault (481, 500, 488...), already answered:
   * for the adapter to log once at warn, with `problem` naming what was wrong.
   */
  | { readonly type: 'refusal'; readonly method: string; readonly status: number; readonly problem: string }
  /** Outbound: the far end answered and the ACK is out; the leg is the site's to use. */
  | { readonly type: 'answered' }
  /** The leg is over; always the last command, given once. */
  | { readonly type: 'ended'; readonly end: LegEnd };

/** What both legs are told. */
export type LegEvent =
  /** A request for this leg (the transactions pass it up; resent ones they absorb). */
  | { readonly type: 'request'; readonly request: SipRequest }
  /** A response to a request the leg sent. */
  | { readonly type: 'response'; readonly response: SipResponse }
  /** A client transaction of the leg's timed out (B, F) or could not send. */
  | {
      readonly type: 'request-failed';
      readonly method: string;
      readonly seq: number;
      readonly reason: 'timeout' | 'transport-error';
    }
  | { readonly type: 'timer'; readonly name: LegTimerName }
  /** The RTP inactivity watch (shared/media/inactivity.ts) said `far-end-gone`. */
  | { readonly type: 'media-timeout' }
  /** The site hangs up. Before an inbound call is answered, `status` is the refusal (default 480). */
  | { readonly type: 'hangup'; readonly status?: number };

export interface LegOptions {
  readonly via: LocalVia;
  /** Our Contact URI. */
  readonly contact: string;
  readonly ids: SipIds;
  /** T1 and T2 pace the resends of our 2xx; 64*T1 bounds the wait for its ACK. */
  readonly timers: TimerOptions;
  readonly sessionTimer: TimerPolicy;
  /** Our RTP address, port, codecs and o= line; the leg bumps the version when its SDP changes. */
  readonly audio: LocalAudio;
}

export interface RunningLegTimer {
  readonly atMs: number;
  readonly intervalMs: number;
}

/** Our 2xx to an INVITE (the first or a re-INVITE), resent until its ACK comes. */
export interface Unacked2xx {
  readonly response: SipResponse;
  readonly seq: number;
}

export interface LegState<P extends string> {
  readonly phase: P;
  readonly options: LegOptions;
  /** Inbound: the caller's INVITE. Outbound: ours (the last one, after a 422 retry). */
  readonly invite: SipRequest;
  readonly dialog: Dialog | undefined;
  readonly timers: Readonly<Partial<Record<LegTimerName, RunningLegTimer>>>;
  readonly session: SessionTimer;
  readonly local: LocalAudio;
  /** What was agreed; undefined until the offer/answer completed. */
  readonly audio: NegotiatedAudio | undefined;
  /** The SDP we last sent; a pure refresh answers with it unchanged (same o= version). */
  readonly localSdp: string;
  readonly mediaOn: boolean;
  readonly unacked2xx: Unacked2xx | undefined;
  /** Our last ACK of a 2xx, resent when that 2xx is (its CSeq number and the request). */
  readonly lastAck: { readonly seq: number; readonly request: SipRequest } | undefined;
  /** The peer's Allow lists UPDATE (its INVITE's, or its 2xx's): we refresh with UPDATE. */
  readonly peerAllowsUpdate: boolean;
  /** Our session refresh (UPDATE or re-INVITE) still waiting for its final: its CSeq number. */
  readonly refreshSeq: number | undefined;
  /** Our BYE waiting for its final: its CSeq number. */
  readonly byeSeq: number | undefined;
  /** How the leg ends, decided when the ending starts (the first reason wins). */
  readonly end: LegEnd | undefined;
  /** Inbound: a hang-up (or timeout) that waits for the ACK before its BYE (RFC 3261 §15). */
  readonly byeAfterAck: LegEnd | undefined;
}

export interface LegStepResult<S> {
  readonly state: S;
  readonly commands: readonly LegCommand[];
}
