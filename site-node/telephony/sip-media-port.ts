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
 *
 * This class holds the port's state and answers the call flow; its parts are beside it: what
 * comes in off the wire (sip-port-inbound.ts), the one outbound path (sip-port-outbound.ts),
 * agents' phones rung and bridged (sip-port-agent-phones.ts), what a leg's end does
 * (sip-port-leg-end.ts), what starting a leg takes (sip-port-leg-start.ts), prompts and keys
 * (sip-port-voice.ts) and recordings (sip-recordings.ts).
 */
import { DomainError, failedPrecondition, unavailable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import type { InboundEvent, InboundLeg } from '../../shared/sip/leg/inbound.js';
import { REJECT_STATUS } from '../../shared/sip/leg/outcomes.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import type { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { ServerTransaction, TransactionUser } from '../../shared/sip/stack/transaction-user.js';
import type { SiteSipConfig } from '../config-sip.js';
import type { InviteGate } from './invite-gate.js';
import type {
  CallLeg,
  CallRecording,
  CollectOptions,
  HandedOverHandler,
  HandOverTo,
  InboundCall,
  MediaPort,
} from './media-port.js';
import type { PhoneRegistrar } from './phone-registrar.js';
import { DialOut } from './sip-dial-out.js';
import type { LegRunner } from './sip-leg-runner.js';
import { SipRecordings } from './sip-recordings.js';
import { makePortLeg, PortLegTable, type PortLeg as Leg } from './sip-port-legs.js';
import type { PeerSites } from './peer-sites.js';
import { handOverCaller, type HandOverPort } from './sip-hand-over.js';
import { PortVoice, type PortVoiceOptions } from './sip-port-voice.js';
import { AgentPhones } from './sip-port-agent-phones.js';
import { PortInbound } from './sip-port-inbound.js';
import { portLegHooks } from './sip-port-leg-end.js';
import { hostInUri, portLegOptions, type PortLegParts } from './sip-port-leg-start.js';
import { placeOutbound, type OutboundSpec } from './sip-port-outbound.js';

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
  /** What a new leg is made with, for the callers' side and the outbound path. */
  private readonly parts: PortLegParts;
  /** The stack's requests and new INVITEs (sip-port-inbound.ts). */
  private readonly callers: PortInbound;
  /** Agents' phones rung with an offer, and bridged (sip-port-agent-phones.ts). */
  private readonly phones: AgentPhones;

  constructor(private readonly o: SipMediaPortOptions) {
    this.log = o.log.child({ part: 'sip-port' });
    this.recordings = new SipRecordings(o.engine, o.recordingsDir, this.log);
    this.voice = new PortVoice({ ...o, log: this.log }, (leg) => this.live(leg));
    this.phones = new AgentPhones({
      sip: o.sip,
      engine: o.engine,
      recordings: this.recordings,
      registrar: () => this.registrar,
      live: (leg) => this.live(leg),
      hangup: (leg) => this.hangup(leg),
      nextSeq: () => ++this.seq,
      place: (spec) => this.placeOutbound(spec),
    });
    const legEnd = {
      legs: this.legs,
      log: this.log,
      recordings: this.recordings,
      stopRinging: (callerLegId: string) => this.phones.stopRinging(callerLegId),
      handOverPort: () => this.handOverPort(),
      farEndHungUp: (leg: CallLeg) => this.farEnd?.(leg),
    };
    this.parts = {
      sip: o.sip,
      engine: o.engine,
      scheduler: o.scheduler,
      log: this.log,
      legs: this.legs,
      nextSeq: () => ++this.seq,
      legOptions: (origin, rtpPort) => portLegOptions(o.sip, this.stack!, origin, rtpPort),
      deps: () => ({ stack: this.stack!, engine: o.engine, scheduler: o.scheduler, log: this.log }),
      hooks: (leg) => portLegHooks(legEnd, leg),
      makeLeg: (call, kind, runner) => makePortLeg(call, kind, runner, o.scheduler),
    };
    this.callers = new PortInbound({
      ...this.parts,
      registrar: () => this.registrar!,
      gate: () => this.gate!,
      stopping: () => this.stopping,
      inbound: () => this.inbound,
      handedOver: () => this.handedOver,
    });
    this.dialOut = new DialOut({
      sip: o.sip,
      log: this.log,
      ourHostInUri: hostInUri(o.sip),
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

  /** Each open leg as `<legId> <kind> <phase>`: what a test that timed out waiting on one shows. */
  legStates(): string[] {
    return this.legs.all().map((l) => `${l.call.legId} ${l.kind} ${l.runner.phase}`);
  }

  // --- TransactionUser (sip-port-inbound.ts) ---------------------------------------------

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    this.callers.onRequest(request, tx);
  }

  onAck(ack: SipRequest): void {
    this.callers.onAck(ack);
  }

  onCancel(invite: SipRequest): void {
    this.callers.onCancel(invite);
  }

  onStrayResponse(response: SipResponse): void {
    this.callers.onStrayResponse(response);
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
    return this.phones.ringAgent(callerLeg, agentId);
  }

  stopRinging(callerLeg: CallLeg): Promise<void> {
    this.phones.stopRinging(callerLeg.legId);
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

  bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    return this.phones.bridgeToAgent(callerLeg, agentId);
  }

  /** Every outbound leg's one path (sip-port-outbound.ts). */
  private placeOutbound(spec: OutboundSpec): Promise<Leg> {
    return placeOutbound(this.parts, spec);
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
      hostInUri: hostInUri(this.o.sip),
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
