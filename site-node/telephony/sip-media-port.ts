/**
 * The site's media port over SIP and RTP (docs/sip.md "The site over SIP"): the SIP stack's
 * transaction user and the call flow's MediaPort (media-port.ts). REGISTERs go to the phone
 * registrar; a new INVITE passes the gate (trunk ACL or phone digest), starts an inbound leg
 * with an engine endpoint and reaches the call flow as `onInbound`; the agent is reached by an
 * outbound leg to the phone the registrar knows, bridged in the engine once it answers. Every
 * outbound leg (an agent's phone, and the dial-out and hand-over built on it) goes through one
 * `placeOutbound`.
 *
 * Every leg ends through its pure core (shared/sip/leg/): the far end's BYE or CANCEL, RTP
 * silence (the engine's `inactive`), the session timer, or the site's hang-up; an end the
 * site did not ask for is told to it (`onFarEndHangup`), so a lost BYE never leaves an agent
 * on a call. Dial-out and hand-over are not built yet: they refuse with `unavailable`.
 */
import { DomainError, failedPrecondition, unavailable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import type { G711Codec, LocalAudio } from '../../shared/media/sdp.js';
import { DEFAULT_TIMER_POLICY } from '../../shared/media/session-expires.js';
import { dialogKey, dialogKeyOfRequest, dialogKeyOfResponse } from '../../shared/sip/dialog/dialog.js';
import { buildCancel } from '../../shared/sip/dialog/requests.js';
import { fromHeader, toHeader } from '../../shared/sip/headers.js';
import {
  startInboundLeg,
  stepInboundLeg,
  type InboundEvent,
  type InboundLeg,
} from '../../shared/sip/leg/inbound.js';
import {
  startOutboundLeg,
  stepOutboundLeg,
  type OutboundEvent,
  type OutboundLeg,
  type OutboundTarget,
} from '../../shared/sip/leg/outbound.js';
import { agentNotReadyReason, isFarEndHangup, REJECT_STATUS } from '../../shared/sip/leg/outcomes.js';
import type { LegOptions } from '../../shared/sip/leg/types.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import { buildResponse } from '../../shared/sip/response.js';
import type { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type {
  ServerTransaction,
  SipOrigin,
  SipTarget,
  TransactionUser,
} from '../../shared/sip/stack/transaction-user.js';
import { topVia } from '../../shared/sip/stack/via.js';
import { compileTimerOptions } from '../../shared/sip/transaction/timers.js';
import type { SiteSipConfig } from '../config-sip.js';
import type { InviteGate } from './invite-gate.js';
import type { MediaEngine, PromptPiece } from './media-engine.js';
import {
  AgentPhoneFailed,
  type CallLeg,
  type CallRecording,
  type CollectOptions,
  type HandedOverHandler,
  type HandOverTo,
  type InboundCall,
  type MediaPort,
} from './media-port.js';
import type { PhoneRegistrar } from './phone-registrar.js';
import type { PromptLibrary } from './prompt-library.js';
import type { PromptLanguage } from './prompt-pieces.js';
import { LegRunner } from './sip-leg-runner.js';
import { SipRecordings } from './sip-recordings.js';
import { makePortLeg, PortLegTable, SIP_IDS as IDS, type PortLeg as Leg } from './sip-port-legs.js';

/** What the caller hears between announcements while waiting: a prompt id, or raw clip files. */
export interface QueueAnnouncement {
  promptId: string;
  vars: Record<string, string>;
}

export interface SipMediaPortOptions {
  sip: SiteSipConfig;
  engine: MediaEngine;
  prompts: PromptLibrary;
  scheduler: Scheduler;
  log: Logger;
  /** The prompts' language (the catalogue has zh and en); default zh. */
  language?: PromptLanguage;
  /** Looped while a caller waits; default the `agent.hold` prompt. */
  holdMusic?: readonly PromptPiece[];
  /**
   * The periodic announcement while a caller waits (its queue position, expected wait),
   * asked fresh each time; none: music only. The port itself knows no queue.
   */
  queueAnnouncement?: (
    callId: string,
  ) => readonly QueueAnnouncement[] | Promise<readonly QueueAnnouncement[]>;
  /** How often the announcement plays; default 30 s. */
  announceEveryMs?: number;
  /** The site's `recordings.dir` (created); absent: `startRecording` refuses (sip-recordings.ts). */
  recordingsDir?: string;
}

export class SipMediaPort implements MediaPort, TransactionUser {
  private stack: SipStack | undefined;
  private registrar: PhoneRegistrar | undefined;
  private gate: InviteGate | undefined;
  private readonly legs = new PortLegTable();
  private inbound: ((call: InboundCall) => void) | undefined;
  private farEnd: ((leg: CallLeg) => void) | undefined;
  private stopping = false;
  private seq = 0;
  private readonly log: Logger;
  /** Call recordings (sip-recordings.ts): started by the flow, joined at the bridge, stopped at the caller's end. */
  readonly recordings: SipRecordings;

  constructor(private readonly o: SipMediaPortOptions) {
    this.log = o.log.child({ part: 'sip-port' });
    this.recordings = new SipRecordings(o.engine, o.recordingsDir, this.log);
    o.engine.onEvent((e) => {
      if (e.kind === 'digit') this.legs.ofEndpoint(e.endpointId)?.digits.press(e.digit);
      else if (e.kind === 'inactive')
        this.legs.ofEndpoint(e.endpointId)?.runner.feed({ type: 'media-timeout' });
      else if (e.kind === 'recording-saved' || e.kind === 'recording-failed')
        this.recordings.onEngineEvent(e);
      else if (e.kind === 'failed')
        this.log.error('media engine failed: calls lose their audio', { message: e.message });
    });
  }

  /**
   * What the port needs once the site's database is migrated (the registrar's table) and the
   * stack is bound with this port as its TU; no request arrives before.
   */
  attach(parts: { stack: SipStack; registrar: PhoneRegistrar; gate: InviteGate }): void {
    this.stack = parts.stack;
    this.registrar = parts.registrar;
    this.gate = parts.gate;
  }

  /** Legs still open (tests and stop). */
  get openLegs(): number {
    return this.legs.size;
  }

  // --- TransactionUser -------------------------------------------------------------------

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    if (request.method === 'REGISTER') {
      this.registrar!.handleRegister(request, { ...tx.origin.source, transport: tx.origin.transport }).then(
        (r) => this.respond(tx, r),
        (e: unknown) => {
          this.log.warn('sip register failed', { err: e });
          this.respond(tx, buildResponse(request, 500, { toTag: IDS.tag() }));
        },
      );
      return;
    }
    const key = dialogKeyOfRequest(request);
    if (key !== undefined) {
      const leg = this.legs.ofDialog(key);
      if (!leg) {
        this.respond(tx, buildResponse(request, 481, { toTag: toHeader(request).tag ?? IDS.tag() }));
        return;
      }
      leg.runner.keep(tx);
      leg.runner.feed({ type: 'request', request });
      return;
    }
    if (request.method === 'OPTIONS') {
      this.respond(tx, buildResponse(request, 200, { toTag: IDS.tag() }));
      return;
    }
    if (request.method !== 'INVITE') {
      this.respond(tx, buildResponse(request, 481, { toTag: IDS.tag() }));
      return;
    }
    void this.newInvite(request, tx);
  }

  onAck(ack: SipRequest): void {
    const key = dialogKeyOfRequest(ack);
    const leg = key === undefined ? undefined : this.legs.ofDialog(key);
    leg?.runner.feed({ type: 'request', request: ack });
  }

  onCancel(invite: SipRequest): void {
    const leg = this.legs.ofInviteBranch(topVia(invite).branch ?? '');
    leg?.runner.feed({ type: 'request', request: buildCancel(invite) });
  }

  onStrayResponse(response: SipResponse): void {
    const key = dialogKeyOfResponse(response);
    const leg = key === undefined ? undefined : this.legs.ofDialog(key);
    if (leg?.kind === 'outbound') leg.runner.feed({ type: 'response', response });
  }

  private respond(tx: ServerTransaction, r: SipResponse): void {
    try {
      tx.respond(r);
    } catch (e) {
      this.log.debug('sip response not sent', { status: r.status, err: e });
    }
  }

  private async newInvite(request: SipRequest, tx: ServerTransaction): Promise<void> {
    const source = { ...tx.origin.source, transport: tx.origin.transport };
    const admission = this.gate!.admit(request, source);
    if (!admission.ok) return this.respond(tx, admission.response);
    if (this.stopping || !this.inbound) {
      return this.respond(tx, buildResponse(request, REJECT_STATUS.unavailable, { toTag: IDS.tag() }));
    }
    let endpoint;
    try {
      endpoint = await this.o.engine.open();
    } catch (e) {
      this.log.warn('no RTP port for a call: refused 503', { err: e });
      return this.respond(tx, buildResponse(request, 503, { toTag: IDS.tag() }));
    }
    const options = this.legOptions(tx.origin, endpoint.localPort);
    const start = startInboundLeg(request, options, this.o.scheduler.now());
    const legId = `sip-${++this.seq}`;
    const leg = this.makeLeg(
      {
        legId,
        callId: legId,
        role: 'caller',
        endpoint: { transport: 'rtp', host: endpoint.localHost, port: endpoint.localPort, codec: 'PCMA' },
      },
      'inbound',
      new LegRunner<InboundLeg, InboundEvent>(
        start.state,
        stepInboundLeg,
        endpoint.endpointId,
        { ...tx.origin.source, transport: tx.origin.transport },
        this.deps(),
        this.hooks(() => leg),
      ),
    );
    leg.runner.keep(tx);
    if (start.state.phase === 'ended') {
      // Refused by the leg (its offer, its Session-Expires): answered, logged, never the site's.
      leg.localEnd = true;
      leg.runner.run(start.commands);
      return;
    }
    this.legs.add(leg, topVia(request).branch ?? '', dialogKey(start.state.dialog!.id));
    leg.runner.run(start.commands);
    const codec = start.state.audio?.codec;
    if (codec && leg.call.endpoint.transport === 'rtp') leg.call.endpoint.codec = codec;
    const ani = /^sips?:([^@;]+)/i.exec(fromHeader(request).uri)?.[1] ?? '';
    const dnis = /^sips?:([^@;]+)/i.exec(request.uri)?.[1] ?? '';
    this.inbound({ ani, dnis, leg: leg.call });
  }

  private legOptions(origin: SipOrigin, rtpPort: number): LegOptions {
    const sip = this.o.sip;
    const local = this.stack!.address(origin.transport);
    const host = this.hostInUri();
    return {
      via: { transport: origin.transport.toUpperCase(), sentBy: `${host}:${local.port}` },
      contact: `sip:site@${host}:${local.port}${origin.transport === 'tcp' ? ';transport=tcp' : ''}`,
      ids: IDS,
      timers: compileTimerOptions({ t1Ms: sip.timers.t1Ms }),
      sessionTimer: { ...DEFAULT_TIMER_POLICY, intervalS: sip.timers.sessionIntervalS },
      audio: this.localAudio(rtpPort),
    };
  }

  private localAudio(port: number): LocalAudio {
    return {
      address: this.o.sip.publicAddress,
      port,
      sessionId: String(Date.now()),
      sessionVersion: 1,
      codecs: ['PCMA', 'PCMU'],
    };
  }

  private deps(): { stack: SipStack; engine: MediaEngine; scheduler: Scheduler; log: Logger } {
    return { stack: this.stack!, engine: this.o.engine, scheduler: this.o.scheduler, log: this.log };
  }

  private makeLeg(call: CallLeg, kind: Leg['kind'], runner: Leg['runner']): Leg {
    return makePortLeg(call, kind, runner, this.o.scheduler);
  }

  private hooks(leg: () => Leg): ConstructorParameters<typeof LegRunner>[5] {
    return {
      onDtmf: (digit) => leg().digits.press(digit),
      onAnswered: () => leg().onAnswer?.resolve(),
      onEnded: (end) => {
        const l = leg();
        this.legs.remove(l);
        this.recordings.callerEnded(l.call.legId);
        l.digits.hungUp();
        l.endNow();
        if (l.onAnswer) {
          const why = agentNotReadyReason(end);
          l.onAnswer.reject(new AgentPhoneFailed(why, `the agent's phone did not take the call: ${why}`));
          l.onAnswer = undefined;
          return;
        }
        if (!l.localEnd && isFarEndHangup(end)) {
          this.log.info('sip leg ended by the far end', { legId: l.call.legId, reason: end.reason });
          this.farEnd?.(l.call);
        }
      },
    };
  }

  // --- MediaPort ---------------------------------------------------------------------------

  onInbound(handler: (call: InboundCall) => void): void {
    this.inbound = handler;
  }

  onFarEndHangup(handler: (leg: CallLeg) => void): void {
    this.farEnd = handler;
  }

  private live(leg: CallLeg): Leg | undefined {
    const l = this.legs.ofLegId(leg.legId);
    return l && !l.runner.ended ? l : undefined;
  }

  answer(leg: CallLeg): Promise<void> {
    const l = this.live(leg);
    if (l?.kind !== 'inbound')
      return Promise.reject(
        failedPrecondition(`leg ${leg.legId} is not a caller's ringing leg: it cannot be answered`),
      );
    (l.runner as LegRunner<InboundLeg, InboundEvent>).feed({ type: 'answer' });
    return l.runner.settled();
  }

  reject(leg: CallLeg, reason: 'busy' | 'unavailable'): Promise<void> {
    const l = this.live(leg);
    if (l) {
      l.localEnd = true;
      l.runner.feed({ type: 'hangup', status: REJECT_STATUS[reason] });
    }
    return Promise.resolve();
  }

  private codecOf(l: Leg): G711Codec {
    return l.runner.audio?.codec ?? 'PCMA';
  }

  private files(l: Leg, promptId: string, vars: Record<string, string> = {}): PromptPiece[] {
    return this.o.prompts.files(promptId, vars, this.o.language ?? 'zh', this.codecOf(l));
  }

  async play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void> {
    const l = this.live(leg);
    if (!l || l.digits.pending) {
      this.log.debug('sip prompt skipped', {
        legId: leg.legId,
        promptId,
        why: l ? 'type-ahead' : 'leg ended',
      });
      return;
    }
    await l.runner.settled();
    const r = await this.o.engine.play(l.runner.endpointId, this.files(l, promptId, vars), { bargeIn: true });
    this.log.debug('sip prompt played', { legId: leg.legId, promptId, outcome: r.outcome });
    // A prompt to a waiting caller (the callback offer) took the music's place: give it back.
    if (l.holding && r.outcome !== 'replaced' && this.live(leg)) await this.startHold(l, leg);
  }

  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'> {
    const l = this.live(leg);
    if (!l) return Promise.resolve('hung-up');
    return l.digits.collect(opts).then((r) => {
      // The keys themselves are never logged (a PIN comes this way): only how many.
      this.log.debug('sip keys collected', {
        legId: leg.legId,
        result: r === 'timeout' || r === 'hung-up' ? r : `${r.length} keys`,
      });
      return r;
    });
  }

  async hold(leg: CallLeg): Promise<void> {
    const l = this.live(leg);
    if (!l) return;
    l.digits.clear();
    await this.startHold(l, leg);
  }

  /** Music and announcements; keys already pressed stay (a key may answer the prompt before). */
  private async startHold(l: Leg, leg: CallLeg): Promise<void> {
    l.holding = true;
    const music = this.o.holdMusic ?? this.files(l, 'agent.hold');
    const announce = this.o.queueAnnouncement;
    await this.o.engine.hold(l.runner.endpointId, {
      music,
      ...(announce
        ? {
            announce: {
              everyMs: this.o.announceEveryMs ?? 30_000,
              pieces: async () => {
                const items = await announce(leg.callId);
                this.log.debug('sip queue announcement', {
                  legId: leg.legId,
                  prompts: items.map((a) => a.promptId),
                });
                return items.flatMap((a) => this.files(l, a.promptId, a.vars));
              },
            },
          }
        : {}),
    });
  }

  startRecording(callerLeg: CallLeg): Promise<CallRecording> {
    const l = this.live(callerLeg);
    if (l?.kind !== 'inbound')
      return Promise.reject(
        failedPrecondition(`leg ${callerLeg.legId} is not a caller's live leg: nothing to record`),
      );
    return this.recordings.start(callerLeg, l.runner.endpointId, () => this.live(callerLeg) !== undefined);
  }

  async bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    const caller = this.live(callerLeg);
    if (!caller) throw failedPrecondition(`caller leg ${callerLeg.legId} has ended: nothing to bridge`);
    const phone = this.registrar?.phoneOf(agentId)[0];
    if (!phone)
      throw new AgentPhoneFailed('phone-not-registered', `agent ${agentId}'s phone is not registered`);
    const leg = await this.placeOutbound({
      target: phone.target,
      to: {
        requestUri: phone.contact,
        toUri: phone.contact,
        fromUri: `sip:site@${this.hostInUri()}`,
        fromDisplayName: callerLeg.callId,
      },
      ringTimeoutMs: this.o.sip.timers.ringTimeoutMs,
      call: { legId: `${callerLeg.legId}-agent-${++this.seq}`, callId: callerLeg.callId, role: 'agent' },
    });
    caller.digits.clear();
    caller.holding = false;
    if (!this.live(callerLeg)) {
      await this.hangup(leg.call);
      throw failedPrecondition(`caller leg ${callerLeg.legId} ended while the agent's phone rang`);
    }
    await this.o.engine.bridge(caller.runner.endpointId, leg.runner.endpointId);
    await this.recordings.agentBridged(callerLeg.legId, leg.runner.endpointId);
    return leg.call;
  }

  private hostInUri(): string {
    const a = this.o.sip.publicAddress;
    return a.includes(':') ? `[${a}]` : a;
  }

  /**
   * Call out (an agent's phone, a customer through a trunk, another site): an engine endpoint,
   * the outbound leg's INVITE, and the answer. Rejects with the leg's end when the far end did
   * not take the call (AgentPhoneFailed carries why: no answer, busy, unreachable); the leg is
   * gone then. Resolves with the answered leg once the engine points its RTP at the far end.
   */
  private async placeOutbound(spec: {
    target: SipTarget;
    to: OutboundTarget;
    ringTimeoutMs: number;
    call: Omit<CallLeg, 'endpoint'>;
  }): Promise<Leg> {
    const endpoint = await this.o.engine.open();
    const transport = spec.target.transport ?? 'udp';
    const options = this.legOptions({ transport, source: spec.target }, endpoint.localPort);
    const start = startOutboundLeg(spec.to, options, spec.ringTimeoutMs, this.o.scheduler.now());
    const leg = this.makeLeg(
      {
        ...spec.call,
        endpoint: { transport: 'rtp', host: endpoint.localHost, port: endpoint.localPort, codec: 'PCMA' },
      },
      'outbound',
      new LegRunner<OutboundLeg, OutboundEvent>(
        start.state,
        stepOutboundLeg,
        endpoint.endpointId,
        spec.target,
        this.deps(),
        this.hooks(() => leg),
      ),
    );
    const answered = new Promise<void>((resolve, reject) => (leg.onAnswer = { resolve, reject }));
    // The dialog's key is known at the 2xx (the far end's tag); responses come through the
    // INVITE's own transaction until then.
    this.legs.add(leg, topVia(start.state.invite).branch ?? '');
    leg.runner.run(start.commands);
    await answered;
    leg.onAnswer = undefined;
    const dialog = leg.runner.dialogOf();
    if (dialog) this.legs.addDialog(leg, dialogKey(dialog.id));
    const codec = leg.runner.audio?.codec;
    if (codec && leg.call.endpoint.transport === 'rtp') leg.call.endpoint.codec = codec;
    await leg.runner.settled();
    return leg;
  }

  dial(_number: string, _opts: { callerId: string; timeoutMs: number }): Promise<CallLeg | 'no-answer'> {
    return Promise.reject(
      unavailable(
        'dialling out over SIP is not built yet (the SIP media port has no trunk route for callbacks)',
      ),
    );
  }

  hangup(leg: CallLeg): Promise<void> {
    const l = this.live(leg);
    if (!l) return Promise.resolve();
    l.localEnd = true;
    if (l.onAnswer) {
      l.onAnswer.reject(new DomainError('failed-precondition', `leg ${leg.legId} hung up while it rang`));
      l.onAnswer = undefined;
    }
    l.runner.feed({ type: 'hangup' });
    return Promise.resolve();
  }

  handOver(_leg: CallLeg, _to: HandOverTo): Promise<void> {
    return Promise.reject(
      unavailable(
        'handing a caller to another site over SIP is not built yet (no INVITE to the target trunk)',
      ),
    );
  }

  onHandedOver(_handler: HandedOverHandler): void {
    // Nothing arrives: no other site hands a caller over SIP yet (handOver refuses).
  }

  /** Stop taking calls and hang up every leg; resolves when they ended or `waitMs` passed. */
  async stop(waitMs = 5_000): Promise<void> {
    this.stopping = true;
    const legs = this.legs.all();
    for (const l of legs) await this.hangup(l.call);
    let timer: (() => void) | undefined;
    await Promise.race([
      Promise.all(legs.map((l) => l.ended)),
      new Promise<void>((r) => (timer = this.o.scheduler.after(waitMs, r))),
    ]);
    timer?.();
  }
}
