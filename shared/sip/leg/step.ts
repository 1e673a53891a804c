/**
 * One step of a leg, being built: a copy of the state to change and the commands so far.
 * Both legs make every change through these few moves, so the running timers in the state
 * and the start/cancel commands cannot disagree, media is stopped once, and `ended` is the
 * last command, given once, with every timer cancelled before it.
 */
import { buildResponse, type ResponseOptions } from '../response.js';
import type { SipHeader, SipRequest, SipResponse } from '../message.js';
import { buildAck, buildInDialogRequest, type RequestExtras } from '../dialog/requests.js';
import type { Dialog } from '../dialog/dialog.js';
import type { LegCommand, LegEnd, LegState, LegStepResult, LegTimerName } from './types.js';
import { TimerSteps } from '../timer-steps.js';

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

export type AnyLeg = LegState<string>;

export class LegStep<S extends AnyLeg> extends TimerSteps<LegTimerName, LegCommand> {
  declare readonly commands: LegCommand[];
  readonly s: Mutable<S>;

  constructor(state: S, nowMs: number) {
    super(state.timers, nowMs);
    this.s = { ...state, timers: this.running };
  }

  result(): LegStepResult<S> {
    return { state: this.s as S, commands: this.commands };
  }

  push(command: LegCommand): this {
    this.commands.push(command);
    return this;
  }

  /** Tell the adapter to log a request refused for the peer's fault (once, at warn). */
  refusal(request: SipRequest, status: number, problem: string): this {
    this.commands.push({ type: 'refusal', method: request.method, status, problem });
    return this;
  }

  /** Answer a request of this leg; our tag goes on the To of every answer but a 100. */
  respond(request: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
    const tag = this.s.dialog?.id.localTag;
    const response = buildResponse(request, status, {
      ...(tag === undefined ? {} : { toTag: tag }),
      ...opts,
    });
    this.commands.push({ type: 'send-response', response });
    return response;
  }

  sendRequest(request: SipRequest): this {
    this.commands.push({ type: 'send-request', request });
    return this;
  }

  /** A new request in the dialog, with a fresh branch; the dialog records its CSeq. */
  inDialog(method: string, extras: RequestExtras = {}): SipRequest {
    const { dialog, request } = buildInDialogRequest(
      this.s.dialog!,
      method,
      this.s.options.via,
      this.s.options.ids.branch(),
      extras,
    );
    this.s.dialog = dialog;
    this.sendRequest(request);
    return request;
  }

  /** ACK a 2xx to the INVITE numbered `seq` in `dialog`, remembered so a resent 2xx is ACKed again. */
  ack(dialog: Dialog, seq: number): this {
    const request = buildAck(dialog, seq, this.s.options.via, this.s.options.ids.branch());
    this.s.lastAck = { seq, request };
    return this.sendRequest(request);
  }

  stopMedia(): this {
    if (this.s.mediaOn) {
      this.s.mediaOn = false;
      this.commands.push({ type: 'media-stop' });
    }
    return this;
  }

  /** The first reason to end is the one the leg ends with. */
  decide(end: LegEnd): this {
    this.s.end ??= end;
    return this;
  }

  /** Over: timers cancelled, media stopped, `ended` last. */
  finish(end?: LegEnd): this {
    if (end !== undefined) this.decide(end);
    this.cancelAll().stopMedia();
    this.s.phase = 'ended';
    this.s.unacked2xx = undefined;
    this.s.byeAfterAck = undefined;
    this.commands.push({ type: 'ended', end: this.s.end! });
    return this;
  }

  /**
   * Hang up a confirmed dialog: BYE sent, media and timers stopped, phase `ending` until the
   * BYE's final (or its transaction's failure).
   */
  bye(end: LegEnd): this {
    this.decide(end);
    this.cancelAll().stopMedia();
    this.s.unacked2xx = undefined;
    this.s.byeAfterAck = undefined;
    this.s.refreshSeq = undefined;
    this.inDialog('BYE');
    this.s.byeSeq = this.s.dialog!.localSeq;
    this.s.phase = 'ending';
    return this;
  }
}

/** Content-Type for an SDP body. */
export const SDP_TYPE: SipHeader = { name: 'Content-Type', value: 'application/sdp' };

/** What we allow, on every 2xx to an INVITE and on 405s (RFC 3261 §20.5). */
export const ALLOW: SipHeader = { name: 'Allow', value: 'INVITE, ACK, CANCEL, BYE, INFO, UPDATE, OPTIONS' };

/** Session-Expires and friends as headers, from session-expires.ts's record form. */
export const headersOf = (record: Readonly<Record<string, string>>): SipHeader[] =>
  Object.entries(record).map(([name, value]) => ({ name, value }));
