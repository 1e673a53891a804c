/**
 * One call leg on the wire (docs/sip.md "The site over SIP"): the pure leg (shared/sip/leg/)
 * holds the state, this runner carries out its commands. Responses go to the server
 * transaction of the request they answer (kept by top Via branch and CSeq method); requests
 * go out as client transactions whose answers come back as the leg's events; the leg's timers
 * run on the scheduler; media commands point the leg's engine endpoint at the far end.
 *
 * The leg is stepped only here, one event at a time, and a refused event (IllegalLegEvent) is
 * logged and changes nothing: a late timer or a response after the end must not crash a call.
 */
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import { nextHop } from '../../shared/sip/dialog/next-hop.js';
import { cseq, toHeader } from '../../shared/sip/headers.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import type { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { ServerTransaction, SipTarget } from '../../shared/sip/stack/transaction-user.js';
import { topVia } from '../../shared/sip/stack/via.js';
import type { LegCommand, LegEnd, LegEvent, LegState, LegStepResult } from '../../shared/sip/leg/types.js';
import type { DtmfDigit } from '../../shared/media/dtmf.js';
import type { MediaEngine } from './media-engine.js';
import type { NegotiatedAudio } from '../../shared/media/sdp.js';
import type { Dialog } from '../../shared/sip/dialog/dialog.js';

export interface LegRunnerDeps {
  stack: SipStack;
  engine: MediaEngine;
  scheduler: Scheduler;
  log: Logger;
}

export interface LegHooks {
  onDtmf(digit: DtmfDigit): void;
  onAnswered(): void;
  onEnded(end: LegEnd): void;
}

const txKey = (branch: string, method: string): string => `${branch} ${method}`;

export class LegRunner<S extends LegState<string>, E extends { type: string }> {
  private readonly txs = new Map<string, ServerTransaction>();
  private readonly timers = new Map<string, Cancel>();
  private queue: Promise<void> = Promise.resolve();
  ended: LegEnd | undefined;

  constructor(
    private state: S,
    private readonly step: (s: S, e: E, nowMs: number) => LegStepResult<S>,
    readonly endpointId: string,
    /** Where in-dialog requests go: the trunk the INVITE came from, or the phone we rang. */
    private readonly target: SipTarget,
    private readonly d: LegRunnerDeps,
    private readonly hooks: LegHooks,
  ) {}

  get phase(): string {
    return this.state.phase;
  }

  get audio(): NegotiatedAudio | undefined {
    return this.state.audio;
  }

  dialogOf(): Dialog | undefined {
    return this.state.dialog;
  }

  /** Remember the server transaction a request of this leg arrived in, to answer through it. */
  keep(tx: ServerTransaction): void {
    const req = tx.request;
    this.txs.set(txKey(topVia(req).branch ?? '', req.method), tx);
  }

  /** Carry out the commands a start or step gave. */
  run(commands: readonly LegCommand[]): void {
    for (const c of commands) this.command(c);
  }

  /** Step the leg; an event the leg refuses is logged (debug) and changes nothing. */
  feed(event: E): void {
    if (this.ended) return;
    let result: LegStepResult<S>;
    try {
      result = this.step(this.state, event, this.d.scheduler.now());
    } catch (e) {
      this.d.log.debug('sip leg refused an event', { event: event.type, phase: this.state.phase, err: e });
      return;
    }
    this.state = result.state;
    this.run(result.commands);
  }

  private command(c: LegCommand): void {
    switch (c.type) {
      case 'send-response':
        return this.respond(c.response);
      case 'send-request':
        return this.send(c.request);
      case 'start-timer': {
        this.timers.get(c.name)?.();
        const name = c.name;
        this.timers.set(
          name,
          this.d.scheduler.after(Math.max(0, c.atMs - this.d.scheduler.now()), () => {
            this.timers.delete(name);
            this.feed({ type: 'timer', name } as LegEvent as unknown as E);
          }),
        );
        return;
      }
      case 'cancel-timer':
        this.timers.get(c.name)?.();
        this.timers.delete(c.name);
        return;
      case 'media-start':
      case 'media-update':
        return this.media(() => this.d.engine.setRemote(this.endpointId, c.audio));
      case 'media-stop':
        return;
      case 'dtmf':
        return this.hooks.onDtmf(c.digit);
      case 'refusal':
        this.d.log.warn('sip request refused', { method: c.method, status: c.status, problem: c.problem });
        return;
      case 'answered':
        return this.hooks.onAnswered();
      case 'ended':
        this.ended = c.end;
        for (const cancel of this.timers.values()) cancel();
        this.timers.clear();
        this.media(() => this.d.engine.close(this.endpointId));
        return this.hooks.onEnded(c.end);
    }
  }

  private respond(response: SipResponse): void {
    const method = cseq(response).method;
    const tx = this.txs.get(txKey(topVia(response).branch ?? '', method));
    // The stack answered the CANCEL itself (the leg's 200 to it has nowhere to go).
    if (!tx) return;
    try {
      tx.respond(response);
    } catch (e) {
      this.d.log.debug('sip response not sent', { status: response.status, method, err: e });
    }
  }

  /**
   * The INVITE and its CANCEL go where the leg was set up over; a request inside the dialog
   * (To has a tag) follows the dialog's route set (shared/sip/dialog/next-hop.ts).
   */
  private destination(request: SipRequest): SipTarget {
    const inDialog = request.method !== 'CANCEL' && toHeader(request).tag !== undefined;
    return inDialog ? nextHop(request, this.target) : this.target;
  }

  private send(request: SipRequest): void {
    if (request.method === 'ACK') {
      this.d.stack.sendAck(request, this.destination(request)).catch((e: unknown) => {
        this.d.log.warn('sip ACK not sent', { err: e });
      });
      return;
    }
    const { seq } = cseq(request);
    const method = request.method;
    const failed = (reason: 'timeout' | 'transport-error'): void =>
      this.feed({ type: 'request-failed', method, seq, reason } as LegEvent as unknown as E);
    try {
      this.d.stack.request(request, this.destination(request), {
        onResponse: (response) => this.feed({ type: 'response', response } as LegEvent as unknown as E),
        onTimeout: () => failed('timeout'),
        onTransportError: () => failed('transport-error'),
      });
    } catch (e) {
      this.d.log.warn('sip request not sent', { method, err: e });
      queueMicrotask(() => failed('transport-error'));
    }
  }

  /** Engine calls in order, each failure logged (the leg goes on; RTP silence ends it). */
  private media(op: () => Promise<void>): void {
    this.queue = this.queue.then(op).catch((e: unknown) => {
      this.d.log.warn('media engine refused a leg command', { endpointId: this.endpointId, err: e });
    });
  }

  /** Resolves once the engine has done what the leg asked so far (a bridge waits for setRemote). */
  settled(): Promise<void> {
    return this.queue;
  }
}
