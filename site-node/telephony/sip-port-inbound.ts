/**
 * The callers' side of the SIP media port (sip-media-port.ts), its part as the stack's
 * transaction user: REGISTERs to the phone registrar, a request in a dialog to its leg (none:
 * 481), a CANCEL to the INVITE's leg (or kept for it while its RTP port opens), and a new
 * INVITE through the gate to an inbound leg with an engine endpoint, offered to the call flow
 * (`onInbound`) or, with another site's token, to the hand-over handler (`onHandedOver`).
 * Apart from the port class: what comes in off the wire is one story, the call flow's commands
 * another.
 */
import type { Logger } from '../../shared/log.js';
import { dialogKey, dialogKeyOfRequest, dialogKeyOfResponse } from '../../shared/sip/dialog/dialog.js';
import { buildCancel } from '../../shared/sip/dialog/requests.js';
import { fromHeader, toHeader } from '../../shared/sip/headers.js';
import {
  startInboundLeg,
  stepInboundLeg,
  type InboundEvent,
  type InboundLeg,
} from '../../shared/sip/leg/inbound.js';
import { REJECT_STATUS } from '../../shared/sip/leg/outcomes.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import { buildResponse } from '../../shared/sip/response.js';
import type { ServerTransaction } from '../../shared/sip/stack/transaction-user.js';
import { topVia } from '../../shared/sip/stack/via.js';
import type { InviteGate } from './invite-gate.js';
import type { HandedOverHandler, InboundCall } from './media-port.js';
import type { PhoneRegistrar } from './phone-registrar.js';
import { handOverVerdict } from './sip-hand-over.js';
import { LegRunner } from './sip-leg-runner.js';
import type { PortLegParts } from './sip-port-leg-start.js';
import { SIP_IDS as IDS, type PortLeg as Leg } from './sip-port-legs.js';

/** What the callers' side needs of the port beyond making legs; read when a request comes. */
export interface PortInboundParts extends PortLegParts {
  registrar(): PhoneRegistrar;
  gate(): InviteGate;
  stopping(): boolean;
  inbound(): ((call: InboundCall) => void) | undefined;
  handedOver(): HandedOverHandler | undefined;
}

export class PortInbound {
  /** INVITEs (by top Via branch) whose RTP port is opening, and whether a CANCEL came meanwhile. */
  private readonly opening = new Map<string, boolean>();
  private readonly log: Logger;

  constructor(private readonly p: PortInboundParts) {
    this.log = p.log;
  }

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    if (request.method === 'REGISTER') {
      this.p
        .registrar()
        .handleRegister(request, { ...tx.origin.source, transport: tx.origin.transport })
        .then(
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
      const leg = this.p.legs.ofDialog(key);
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
    const leg = key === undefined ? undefined : this.p.legs.ofDialog(key);
    leg?.runner.feed({ type: 'request', request: ack });
  }

  onCancel(invite: SipRequest): void {
    const branch = topVia(invite).branch ?? '';
    const leg = this.p.legs.ofInviteBranch(branch);
    if (leg) leg.runner.feed({ type: 'request', request: buildCancel(invite) });
    // No leg yet (its RTP port is opening): the leg takes the CANCEL once it starts.
    else if (this.opening.has(branch)) this.opening.set(branch, true);
  }

  onStrayResponse(response: SipResponse): void {
    const key = dialogKeyOfResponse(response);
    const leg = key === undefined ? undefined : this.p.legs.ofDialog(key);
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
    const admission = this.p.gate().admit(request, source);
    if (!admission.ok) return this.respond(tx, admission.response);
    // The trunk's channel is the call's until its leg ends (or the call is refused here).
    const release = admission.from === 'trunk' ? admission.release : () => {};
    const handOver = admission.from === 'site' ? admission : undefined;
    const inbound = this.p.inbound();
    if (this.p.stopping() || !(handOver ? this.p.handedOver() : inbound)) {
      release();
      return this.respond(tx, buildResponse(request, REJECT_STATUS.unavailable, { toTag: IDS.tag() }));
    }
    let endpoint;
    const branch = topVia(request).branch ?? '';
    this.opening.set(branch, false);
    try {
      endpoint = await this.p.engine.open();
    } catch (e) {
      release();
      this.opening.delete(branch);
      this.log.warn('no RTP port for a call: refused 503', { err: e });
      return this.respond(tx, buildResponse(request, 503, { toTag: IDS.tag() }));
    }
    const cancelledEarly = this.opening.get(branch) === true;
    this.opening.delete(branch);
    const options = this.p.legOptions(tx.origin, endpoint.localPort);
    const start = startInboundLeg(request, options, this.p.scheduler.now());
    const legId = `sip-${this.p.nextSeq()}`;
    const leg = this.p.makeLeg(
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
        this.p.deps(),
        this.p.hooks(() => leg),
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
    this.p.legs.add(leg, topVia(request).branch ?? '', dialogKey(start.state.dialog!.id));
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
      decision = (await this.p.handedOver()!(token, leg.call)) ? 'claimed' : 'refused';
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
}
