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
 * on a call. A caller handed to another site (overflow, cover) goes as an INVITE with the
 * reservation's token to that site's SIP address, and is relayed here once answered; an INVITE
 * with a token from another site goes to `onHandedOver`, not `onInbound` (sip-hand-over.ts).
 * `dial` calls a customer through the trunk (sip-dial-out.ts).
 */
import { DomainError, failedPrecondition, unavailable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import type { LocalAudio } from '../../shared/media/sdp.js';
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
import type { LegEnd, LegOptions } from '../../shared/sip/leg/types.js';
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
import type { MediaEngine } from './media-engine.js';
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
import { AgentRings } from './agent-rings.js';
import { DialOut } from './sip-dial-out.js';
import { LegRunner } from './sip-leg-runner.js';
import { SipRecordings } from './sip-recordings.js';
import { makePortLeg, PortLegTable, SIP_IDS as IDS, type PortLeg as Leg } from './sip-port-legs.js';
import type { PeerSites } from './peer-sites.js';
import { handOverCaller, handOverVerdict, relayEnded, type HandOverPort } from './sip-hand-over.js';
import { PortVoice, type PortVoiceOptions } from './sip-port-voice.js';

export type { QueueAnnouncement } from './sip-port-voice.js';

export interface SipMediaPortOptions extends Omit<PortVoiceOptions, 'log'> {
  sip: SiteSipConfig;
  scheduler: Scheduler;
  log: Logger;
  /** The other sites' SIP addresses (the topology the site runs): where a hand-over goes. */
  peers?: PeerSites;
  /** The site's `recordings.dir` (created); absent: `startRecording` refuses (sip-recordings.ts). */
  recordingsDir?: string;
}

export class SipMediaPort implements MediaPort, TransactionUser {
  private stack: SipStack | undefined;
  private registrar: PhoneRegistrar | undefined;
  private gate: InviteGate | undefined;
  private readonly legs = new PortLegTable();
  /** Agents' phones rung with an offer, not yet bridged. */
  private readonly rings = new AgentRings<Leg>((leg) => void this.hangup(leg.call));
  /** INVITEs (by top Via branch) whose RTP port is opening, and whether a CANCEL came meanwhile. */
  private readonly opening = new Map<string, boolean>();
  private inbound: ((call: InboundCall) => void) | undefined;
  private farEnd: ((leg: CallLeg) => void) | undefined;
  private handedOver: HandedOverHandler | undefined;
  private stopping = false;
  private seq = 0;
  private readonly log: Logger;
  private readonly dialOut: DialOut;
  /** Call recordings (sip-recordings.ts): started by the flow, joined at the bridge, stopped at the caller's end. */
  readonly recordings: SipRecordings;
  /** Prompts, keys and the queue's treatment (sip-port-voice.ts). */
  private readonly voice: PortVoice;

  constructor(private readonly o: SipMediaPortOptions) {
    this.log = o.log.child({ part: 'sip-port' });
    this.recordings = new SipRecordings(o.engine, o.recordingsDir, this.log);
    this.voice = new PortVoice({ ...o, log: this.log }, (leg) => this.live(leg));
    this.dialOut = new DialOut({
      sip: o.sip,
      log: this.log,
      ourHostInUri: this.hostInUri(),
      // The gate's count: a dial and an inbound call hold the same channels.
      takeChannel: (trunk) => this.gate!.channels.take(trunk),
      place: (spec) => this.placeOutbound(spec),
    });
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
    const branch = topVia(invite).branch ?? '';
    const leg = this.legs.ofInviteBranch(branch);
    if (leg) leg.runner.feed({ type: 'request', request: buildCancel(invite) });
    // No leg yet (its RTP port is opening): the leg takes the CANCEL once it starts.
    else if (this.opening.has(branch)) this.opening.set(branch, true);
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
    // The trunk's channel is the call's until its leg ends (or the call is refused here).
    const release = admission.from === 'trunk' ? admission.release : () => {};
    const handOver = admission.from === 'site' ? admission : undefined;
    const inbound = this.inbound;
    if (this.stopping || !(handOver ? this.handedOver : inbound)) {
      release();
      return this.respond(tx, buildResponse(request, REJECT_STATUS.unavailable, { toTag: IDS.tag() }));
    }
    let endpoint;
    const branch = topVia(request).branch ?? '';
    this.opening.set(branch, false);
    try {
      endpoint = await this.o.engine.open();
    } catch (e) {
      release();
      this.opening.delete(branch);
      this.log.warn('no RTP port for a call: refused 503', { err: e });
      return this.respond(tx, buildResponse(request, 503, { toTag: IDS.tag() }));
    }
    const cancelledEarly = this.opening.get(branch) === true;
    this.opening.delete(branch);
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
    leg.release = release;
    leg.runner.keep(tx);
    // Counted against the trunk's channels while it lasts (a dial-out checks them).
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
    if (handOver && cancelledEarly) {
      // The origin gave up before the leg existed: nothing to claim.
      leg.localEnd = true;
      return leg.runner.feed({ type: 'request', request: buildCancel(request) });
    }
    if (handOver) return this.offerHandedOver(leg, handOver.siteId, handOver.token);
    const ani = /^sips?:([^@;]+)/i.exec(fromHeader(request).uri)?.[1] ?? '';
    const dnis = /^sips?:([^@;]+)/i.exec(request.uri)?.[1] ?? '';
    inbound!({ ani, dnis, leg: leg.call });
    // Cancelled while its port opened: 487 now, and the site hears the caller left, as for a
    // CANCEL a moment later (the stack already answered the CANCEL 200: a 200 to the INVITE
    // now would answer a call its caller gave up).
    if (cancelledEarly) leg.runner.feed({ type: 'request', request: buildCancel(request) });
  }

  /**
   * Target: a leg another site handed over goes to the handler with its token, never to
   * `onInbound` (it is not a new call). Claimed: answered 200, the site's like an inbound leg;
   * refused or failed: the INVITE is refused (sip-hand-over.ts `handOverVerdict`).
   */
  private async offerHandedOver(leg: Leg, fromSiteId: string, token: string): Promise<void> {
    let ready = (): void => {};
    leg.ready = new Promise<void>((r) => (ready = r));
    let decision: 'claimed' | 'refused' | 'failed';
    try {
      decision = (await this.handedOver!(token, leg.call)) ? 'claimed' : 'refused';
    } catch (e) {
      this.log.error('sip hand-over: the site failed to judge it; refused', { fromSiteId, token, err: e });
      decision = 'failed';
    }
    const status = handOverVerdict(decision);
    if (status === 200) {
      (leg.runner as LegRunner<InboundLeg, InboundEvent>).feed({ type: 'answer' });
      await leg.runner.settled();
      this.log.info('sip hand-over taken', { fromSiteId, legId: leg.call.legId, callId: leg.call.callId });
    } else {
      if (decision === 'refused') this.log.info('sip hand-over refused', { fromSiteId, token, status });
      leg.localEnd = true;
      leg.runner.feed({ type: 'hangup', status });
    }
    ready();
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
        l.release?.();
        // A caller gone while an agent's phone rings for it: the phone stops ringing.
        if (l.kind === 'inbound') this.rings.stop(l.call.legId);
        this.recordings.callerEnded(l.call.legId);
        l.digits.hungUp();
        l.endNow();
        if (l.relay) return relayEnded(this.handOverPort(), l, end.reason);
        if (l.onAnswer) {
          const why = agentNotReadyReason(end);
          l.onAnswer.reject(new AgentPhoneFailed(why, `the agent's phone did not take the call: ${why}`));
          l.onAnswer = undefined;
          return;
        }
        if (!l.localEnd && isFarEndHangup(end)) {
          // The detail says which watch ended a silent far end (RTP inactivity, session timer).
          this.log.info('sip leg ended by the far end', {
            legId: l.call.legId,
            reason: end.reason,
            ...(end.detail === undefined ? {} : { detail: end.detail }),
          });
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
    // A leg handed over is the relay's, no longer the call flow's (media-port.ts `handOver`).
    return l && !l.runner.ended && !l.relay ? l : undefined;
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

  play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void> {
    return this.voice.play(leg, promptId, vars);
  }

  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'> {
    return this.voice.collectDigits(leg, opts);
  }

  hold(leg: CallLeg): Promise<void> {
    return this.voice.hold(leg);
  }

  ringAgent(callerLeg: CallLeg, agentId: string): Promise<void> {
    if (!this.live(callerLeg))
      return Promise.reject(
        failedPrecondition(`caller leg ${callerLeg.legId} has ended: nobody to ring for`),
      );
    return this.rings
      .start(callerLeg.legId, agentId, (started) => this.callAgentPhone(callerLeg, agentId, started))
      .then(() => undefined);
  }

  stopRinging(callerLeg: CallLeg): Promise<void> {
    this.rings.stop(callerLeg.legId);
    return Promise.resolve();
  }

  startRecording(callerLeg: CallLeg): Promise<CallRecording> {
    const l = this.live(callerLeg);
    // A caller's leg: one from the trunk, or a customer a callback dialled out to.
    if (l?.call.role !== 'caller')
      return Promise.reject(
        failedPrecondition(`leg ${callerLeg.legId} is not a caller's live leg: nothing to record`),
      );
    return this.recordings.start(callerLeg, l.runner.endpointId, () => this.live(callerLeg) !== undefined);
  }

  async bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    const caller = this.live(callerLeg);
    if (!caller) throw failedPrecondition(`caller leg ${callerLeg.legId} has ended: nothing to bridge`);
    // The phone rung with the offer; without one for this agent (another's rang), ring now. Either
    // stops if the caller leaves before the answer (the leg's end, or the flow's stopRinging).
    const ringing =
      this.rings.take(callerLeg.legId, agentId) ??
      this.rings.start(callerLeg.legId, agentId, (started) =>
        this.callAgentPhone(callerLeg, agentId, started),
      );
    const leg = await ringing;
    this.rings.settle(callerLeg.legId);
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

  /** The agent's phone as the registrar knows it, rung with the caller's call id as its name. */
  private async callAgentPhone(
    callerLeg: CallLeg,
    agentId: string,
    started?: (leg: Leg) => void,
  ): Promise<Leg> {
    const phone = this.registrar?.phoneOf(agentId)[0];
    if (!phone)
      throw new AgentPhoneFailed('phone-not-registered', `agent ${agentId}'s phone is not registered`);
    return this.placeOutbound({
      target: phone.target,
      to: {
        requestUri: phone.contact,
        toUri: phone.contact,
        fromUri: `sip:site@${this.hostInUri()}`,
        fromDisplayName: callerLeg.callId,
      },
      ringTimeoutMs: this.o.sip.timers.ringTimeoutMs,
      call: { legId: `${callerLeg.legId}-agent-${++this.seq}`, callId: callerLeg.callId, role: 'agent' },
      ...(started ? { started } : {}),
    });
  }

  private hostInUri(): string {
    const a = this.o.sip.publicAddress;
    return a.includes(':') ? `[${a}]` : a;
  }

  /**
   * Call out (an agent's phone, a customer through a trunk, another site): an engine endpoint,
   * the outbound leg's INVITE, and the answer. Rejects with the leg's end when the far end did
   * not take the call (AgentPhoneFailed carries why: no answer, busy, unreachable; or what
   * `unanswered` makes of the leg's end); the leg is gone then. Resolves with the answered leg
   * once the engine points its RTP at the far end.
   */
  private async placeOutbound(spec: {
    target: SipTarget;
    to: OutboundTarget;
    ringTimeoutMs: number;
    call: Omit<CallLeg, 'endpoint'>;
    /** The leg as its INVITE goes (a hand-over cancels it when its caller hangs up meanwhile). */
    started?: (leg: Leg) => void;
    unanswered?: (end: LegEnd) => Error;
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
    spec.started?.(leg);
    await answered.catch((e: unknown) => {
      const end = leg.runner.ended;
      throw spec.unanswered && end ? spec.unanswered(end) : e;
    });
    leg.onAnswer = undefined;
    const dialog = leg.runner.dialogOf();
    if (dialog) this.legs.addDialog(leg, dialogKey(dialog.id));
    const codec = leg.runner.audio?.codec;
    if (codec && leg.call.endpoint.transport === 'rtp') leg.call.endpoint.codec = codec;
    await leg.runner.settled();
    return leg;
  }

  /**
   * A callback: the customer through `sip.dialOut`'s trunk (sip-dial-out.ts), From the
   * configured caller id (the flow's `callerId` is the simulated adapter's label), ringing
   * `timeoutMs`. The answered leg is a caller's; its far-end BYE is reported like any caller's.
   */
  dial(number: string, opts: { callerId: string; timeoutMs: number }): Promise<CallLeg | 'no-answer'> {
    return this.dialOut.dial(number, opts);
  }

  hangup(leg: CallLeg): Promise<void> {
    const l = this.live(leg);
    if (l) this.endLeg(l);
    return Promise.resolve();
  }

  /** Hang a leg up from this side, whoever holds it (the call flow, or a hand-over's relay). */
  private endLeg(l: Leg): void {
    l.localEnd = true;
    if (l.onAnswer) {
      l.onAnswer.reject(new DomainError('failed-precondition', `leg ${l.call.legId} hung up while it rang`));
      l.onAnswer = undefined;
    }
    l.runner.feed({ type: 'hangup' });
  }

  async handOver(leg: CallLeg, to: HandOverTo): Promise<void> {
    if (this.stopping)
      throw unavailable(`the site is stopping: leg ${leg.legId} is not handed to ${to.toSiteId}`);
    const caller = this.live(leg);
    if (caller?.kind !== 'inbound' || caller.handingOver) {
      throw failedPrecondition(
        `leg ${leg.legId} cannot be handed over: ${
          caller ? 'a hand-over of it is under way' : "it has ended, or is not a caller's leg"
        }`,
      );
    }
    await handOverCaller(this.handOverPort(), caller, to, `${leg.legId}-to-${to.toSiteId}-${++this.seq}`);
  }

  private handOverPort(): HandOverPort {
    return {
      peers: this.o.peers,
      engine: this.o.engine,
      log: this.log,
      ringTimeoutMs: this.o.sip.timers.ringTimeoutMs,
      hostInUri: this.hostInUri(),
      placeOutbound: (spec) => this.placeOutbound(spec),
      endLeg: (l) => this.endLeg(l),
    };
  }

  onHandedOver(handler: HandedOverHandler): void {
    this.handedOver = handler;
  }

  /** Stop taking calls and hang up every leg; resolves when they ended or `waitMs` passed. */
  async stop(waitMs = 5_000): Promise<void> {
    this.stopping = true;
    const legs = this.legs.all();
    // Relayed legs too: they are no longer the call flow's, so `hangup` would skip them.
    for (const l of legs) if (!l.runner.ended) this.endLeg(l);
    let timer: (() => void) | undefined;
    await Promise.race([
      Promise.all(legs.map((l) => l.ended)),
      new Promise<void>((r) => (timer = this.o.scheduler.after(waitMs, r))),
    ]);
    timer?.();
  }
}
