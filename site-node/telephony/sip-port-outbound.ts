/**
 * The SIP media port's one way to call out (sip-media-port.ts): an agent's phone
 * (sip-port-agent-phones.ts), a customer through a trunk (sip-dial-out.ts) and another site
 * (sip-hand-over.ts) all go through `placeOutbound`. Apart from the port class so the three
 * callers share one path, and what an outbound leg goes through before it is answered is read
 * in one place.
 */
import { dialogKey } from '../../shared/sip/dialog/dialog.js';
import {
  startOutboundLeg,
  stepOutboundLeg,
  type OutboundEvent,
  type OutboundLeg,
  type OutboundTarget,
} from '../../shared/sip/leg/outbound.js';
import type { LegEnd } from '../../shared/sip/leg/types.js';
import type { SipTarget } from '../../shared/sip/stack/transaction-user.js';
import { topVia } from '../../shared/sip/stack/via.js';
import type { CallLeg } from './media-port.js';
import { LegRunner } from './sip-leg-runner.js';
import type { PortLegParts } from './sip-port-leg-start.js';
import type { PortLeg as Leg } from './sip-port-legs.js';

export interface OutboundSpec {
  target: SipTarget;
  to: OutboundTarget;
  ringTimeoutMs: number;
  call: Omit<CallLeg, 'endpoint'>;
  /** The leg as its INVITE goes (a hand-over cancels it when its caller hangs up meanwhile). */
  started?: (leg: Leg) => void;
  unanswered?: (end: LegEnd) => Error;
}

/**
 * Call out (an agent's phone, a customer through a trunk, another site): an engine endpoint,
 * the outbound leg's INVITE, and the answer. Rejects with the leg's end when the far end did
 * not take the call (AgentPhoneFailed carries why: no answer, busy, unreachable; or what
 * `unanswered` makes of the leg's end); the leg is gone then. Resolves with the answered leg
 * once the engine points its RTP at the far end.
 */
export async function placeOutbound(p: PortLegParts, spec: OutboundSpec): Promise<Leg> {
  const endpoint = await p.engine.open();
  const transport = spec.target.transport ?? 'udp';
  const options = p.legOptions({ transport, source: spec.target }, endpoint.localPort);
  const start = startOutboundLeg(spec.to, options, spec.ringTimeoutMs, p.scheduler.now());
  const leg = p.makeLeg(
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
      p.deps(),
      p.hooks(() => leg),
    ),
  );
  const answered = new Promise<void>((resolve, reject) => (leg.onAnswer = { resolve, reject }));
  // The dialog's key is known at the 2xx (the far end's tag); responses come through the
  // INVITE's own transaction until then.
  p.legs.add(leg, topVia(start.state.invite).branch ?? '');
  leg.runner.run(start.commands);
  spec.started?.(leg);
  await answered.catch((e: unknown) => {
    const end = leg.runner.ended;
    throw spec.unanswered && end ? spec.unanswered(end) : e;
  });
  leg.onAnswer = undefined;
  const dialog = leg.runner.dialogOf();
  if (dialog) p.legs.addDialog(leg, dialogKey(dialog.id));
  const codec = leg.runner.audio?.codec;
  if (codec && leg.call.endpoint.transport === 'rtp') leg.call.endpoint.codec = codec;
  await leg.runner.settled();
  return leg;
}
