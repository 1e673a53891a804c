/**
 * Handing a caller to another site over SIP (docs/sip.md "Handing a caller to another site",
 * docs/architecture.md §5.9), the parts both ends agree on:
 *
 * - the origin's INVITE to the target's SIP address carries the reservation's one-time token
 *   in `X-CC-Handover-Token` (HANDOVER_TOKEN_HEADER); the media stay anchored at the origin,
 *   which bridges the caller's leg to this new leg and relays RTP between them;
 * - the target reads the token (`readHandOverToken`) from an INVITE that came from another
 *   site's SIP host (peer-sites.ts; the invite gate decides, invite-gate.ts) and offers the leg
 *   to the call flow's `onHandedOver` handler; its answer is the SIP answer
 *   (`handOverVerdict`): 200 when the handler claims the leg, else a refusal the origin turns
 *   into `unavailable` with its caller still on hold.
 *
 * The token is the reservation's (overflow/reservation.ts: a random UUID); the header takes
 * nothing else that could smuggle a second value into a log line: at most 128 characters of
 * letters, digits, `-`, `_` and `.`.
 */
import { failedPrecondition, unavailable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { OutboundTarget } from '../../shared/sip/leg/outbound.js';
import { headerValues, type SipRequest } from '../../shared/sip/message.js';
import type { SipTarget } from '../../shared/sip/stack/transaction-user.js';
import type { MediaEngine } from './media-engine.js';
import type { CallLeg, HandOverTo } from './media-port.js';
import type { PeerSites } from './peer-sites.js';
import type { PortLeg } from './sip-port-legs.js';

export const HANDOVER_TOKEN_HEADER = 'X-CC-Handover-Token';

const TOKEN_FORM = /^[A-Za-z0-9._-]{1,128}$/;

export type HandOverTokenRead =
  { kind: 'none' } | { kind: 'token'; token: string } | { kind: 'bad'; problem: string };

/** The INVITE's hand-over token: none, one well-formed token, or what is wrong with it. */
export function readHandOverToken(req: SipRequest): HandOverTokenRead {
  const values = headerValues(req, HANDOVER_TOKEN_HEADER);
  if (values.length === 0) return { kind: 'none' };
  if (values.length > 1)
    return { kind: 'bad', problem: `${HANDOVER_TOKEN_HEADER} appears ${values.length} times` };
  const token = values[0]!.trim();
  if (!TOKEN_FORM.test(token)) {
    return {
      kind: 'bad',
      problem: `${HANDOVER_TOKEN_HEADER} must be 1-128 letters, digits, '-', '_' or '.' (got ${token.length} characters)`,
    };
  }
  return { kind: 'token', token };
}

/**
 * The target's SIP answer to a hand-over's INVITE from the handler's decision: claimed is 200
 * (the leg is answered); refused is 404 (no call admitted here waits under this token: the
 * origin must not try again); a handler that failed is 500 (said, not hidden as a refusal).
 */
export function handOverVerdict(decision: 'claimed' | 'refused' | 'failed'): 200 | 404 | 500 {
  return decision === 'claimed' ? 200 : decision === 'refused' ? 404 : 500;
}

/** What the origin's hand-over needs of the SIP media port (sip-media-port.ts). */
export interface HandOverPort {
  peers: PeerSites | undefined;
  engine: Pick<MediaEngine, 'bridge'>;
  log: Logger;
  /** How long the target may take to answer (the site's ring timeout). */
  ringTimeoutMs: number;
  /** The site's own SIP URI host (`sip:site@<host>`). */
  hostInUri: string;
  /** The port's one way to call out; `started` gets the leg as its INVITE goes. */
  placeOutbound(spec: {
    target: SipTarget;
    to: OutboundTarget;
    ringTimeoutMs: number;
    call: Omit<CallLeg, 'endpoint'>;
    started?: (leg: PortLeg) => void;
  }): Promise<PortLeg>;
  /** Hang a leg up from this side (its end is not the far end's). */
  endLeg(leg: PortLeg): void;
}

/**
 * Origin: the caller's leg (waiting, still on hold) to the site that admitted its call. An
 * INVITE carrying the token goes to the target's SIP address; once it is answered the caller's
 * endpoint is bridged to the new leg's (the bridge replaces the hold music) and the two legs
 * become a relay: neither is the call flow's, and either's end hangs up the other
 * (`relayEnded`). A caller who hangs up while the target rings cancels the INVITE. Rejects
 * `unavailable` (no route, or the target did not take it: the caller is still on hold here) or
 * `failed-precondition` (the caller left meanwhile).
 */
export async function handOverCaller(
  p: HandOverPort,
  caller: PortLeg,
  to: HandOverTo,
  legId: string,
): Promise<void> {
  const callId = caller.call.callId;
  const route = p.peers?.routeTo(to.toSiteId) ?? { ok: false, why: 'this site knows no other site' };
  if (!route.ok) throw unavailable(`call ${callId} cannot be handed to site ${to.toSiteId}: ${route.why}`);
  const { host, port } = route.target;
  const uri = `sip:handover@${host.includes(':') ? `[${host}]` : host}:${port}`;
  caller.handingOver = true;
  let placed: PortLeg | undefined;
  let leg: PortLeg;
  try {
    leg = await p.placeOutbound({
      target: route.target,
      to: {
        requestUri: uri,
        toUri: uri,
        fromUri: `sip:site@${p.hostInUri}`,
        extraHeaders: [{ name: HANDOVER_TOKEN_HEADER, value: to.token }],
      },
      ringTimeoutMs: p.ringTimeoutMs,
      call: { legId, callId, role: 'caller' },
      // The caller hanging up while the target rings: the INVITE is cancelled at once.
      started: (l) => {
        placed = l;
        void caller.ended.then(() => (l.onAnswer ? p.endLeg(l) : undefined));
      },
    });
  } catch (e) {
    caller.handingOver = false;
    const end = placed?.runner.ended;
    const why = end ? `${end.reason}${end.status === undefined ? '' : ` ${end.status}`}` : String(e);
    if (caller.runner.ended) {
      throw failedPrecondition(`call ${callId}'s caller hung up while site ${to.toSiteId} was called`);
    }
    throw unavailable(`site ${to.toSiteId} did not take call ${callId}'s caller (${why})`);
  }
  caller.handingOver = false;
  if (caller.runner.ended) {
    p.endLeg(leg);
    throw failedPrecondition(`call ${callId}'s caller hung up while site ${to.toSiteId} answered`);
  }
  caller.holding = false;
  caller.digits.clear();
  caller.relay = leg;
  leg.relay = caller;
  p.log.info('sip hand-over: caller relayed to the target site', {
    callId,
    toSiteId: to.toSiteId,
    callerLegId: caller.call.legId,
    legId,
  });
  await p.engine.bridge(caller.runner.endpointId, leg.runner.endpointId);
}

/** One side of a relay ended: the other is hung up (said once, by the side that ended first). */
export function relayEnded(p: Pick<HandOverPort, 'endLeg' | 'log'>, ended: PortLeg, reason: string): void {
  const other = ended.relay;
  if (!other) return;
  ended.relay = undefined;
  other.relay = undefined;
  p.log.info('sip hand-over relay ended', {
    callId: ended.call.callId,
    endedLegId: ended.call.legId,
    side: ended.kind === 'inbound' ? 'caller' : 'target site',
    reason,
  });
  if (!other.runner.ended) p.endLeg(other);
}
