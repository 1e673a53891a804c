/**
 * Agents' phones for the SIP media port (sip-media-port.ts): a phone rung with the offer
 * (`ringAgent`), stopped when the offer is withdrawn (`stopRinging`) or its caller leaves, and
 * bridged to the caller in the engine once it answers (`bridgeToAgent`), the agent's side then
 * joining the call's recording. The ring's bookkeeping is agent-rings.ts; this is its SIP side:
 * the phone as the registrar knows it, called through the port's one outbound path. Apart from
 * the port class so the agent's half of a call reads on its own.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { SiteSipConfig } from '../config-sip.js';
import { AgentRings } from './agent-rings.js';
import type { MediaEngine } from './media-engine.js';
import { AgentPhoneFailed, type CallLeg } from './media-port.js';
import type { PhoneRegistrar } from './phone-registrar.js';
import type { OutboundSpec } from './sip-port-outbound.js';
import { hostInUri } from './sip-port-leg-start.js';
import type { PortLeg as Leg } from './sip-port-legs.js';
import type { SipRecordings } from './sip-recordings.js';

/** What ringing and bridging an agent's phone needs of the port. */
export interface AgentPhoneParts {
  readonly sip: SiteSipConfig;
  readonly engine: Pick<MediaEngine, 'bridge'>;
  readonly recordings: Pick<SipRecordings, 'agentBridged'>;
  /** Absent until the port is attached. */
  registrar(): PhoneRegistrar | undefined;
  /** The leg while it is the call flow's (not ended, not handed over). */
  live(leg: CallLeg): Leg | undefined;
  hangup(leg: CallLeg): Promise<void>;
  nextSeq(): number;
  place(spec: OutboundSpec): Promise<Leg>;
}

export class AgentPhones {
  /** Agents' phones rung with an offer, not yet bridged. */
  private readonly rings = new AgentRings<Leg>((leg) => void this.p.hangup(leg.call));

  constructor(private readonly p: AgentPhoneParts) {}

  ringAgent(callerLeg: CallLeg, agentId: string): Promise<void> {
    if (!this.p.live(callerLeg))
      return Promise.reject(
        failedPrecondition(`caller leg ${callerLeg.legId} has ended: nobody to ring for`),
      );
    return this.rings
      .start(callerLeg.legId, agentId, (started) => this.callAgentPhone(callerLeg, agentId, started))
      .then(() => undefined);
  }

  /** The phone rung for this caller stops (a CANCEL, or a BYE if it has just answered). */
  stopRinging(callerLegId: string): void {
    this.rings.stop(callerLegId);
  }

  async bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg> {
    const caller = this.p.live(callerLeg);
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
    if (!this.p.live(callerLeg)) {
      await this.p.hangup(leg.call);
      throw failedPrecondition(`caller leg ${callerLeg.legId} ended while the agent's phone rang`);
    }
    await this.p.engine.bridge(caller.runner.endpointId, leg.runner.endpointId);
    await this.p.recordings.agentBridged(callerLeg.legId, leg.runner.endpointId);
    return leg.call;
  }

  /** The agent's phone as the registrar knows it, rung with the caller's call id as its name. */
  private async callAgentPhone(
    callerLeg: CallLeg,
    agentId: string,
    started?: (leg: Leg) => void,
  ): Promise<Leg> {
    const phone = this.p.registrar()?.phoneOf(agentId)[0];
    if (!phone)
      throw new AgentPhoneFailed('phone-not-registered', `agent ${agentId}'s phone is not registered`);
    return this.p.place({
      target: phone.target,
      to: {
        requestUri: phone.contact,
        toUri: phone.contact,
        fromUri: `sip:site@${hostInUri(this.p.sip)}`,
        fromDisplayName: callerLeg.callId,
      },
      ringTimeoutMs: this.p.sip.timers.ringTimeoutMs,
      call: {
        legId: `${callerLeg.legId}-agent-${this.p.nextSeq()}`,
        callId: callerLeg.callId,
        role: 'agent',
      },
      ...(started ? { started } : {}),
    });
  }
}
