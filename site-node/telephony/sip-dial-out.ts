/**
 * Dialling a customer out through the trunk (a callback; docs/sip.md "The site over SIP",
 * `dial`). The SIP media port's `dial` is this module with the port's `placeOutbound` plugged
 * in: the route (`sip.dialOut` and its trunk's `outbound`, docs/operations.md "A site's SIP
 * section"), the number's check, the trunk's channels, and what the leg's end means for the
 * call flow.
 *
 * The pure parts (`checkDialNumber`, `dialRoute`, `dialOutcome`) have their own unit tests;
 * `dialThroughTrunk` only sequences them around the one outbound path every leg takes.
 */
import type { DomainError } from '../../shared/errors.js';
import { invalidArgument, unavailable } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { OutboundTarget } from '../../shared/sip/leg/outbound.js';
import type { LegEnd } from '../../shared/sip/leg/types.js';
import type { SipTarget } from '../../shared/sip/stack/transaction-user.js';
import type { SiteSipConfig } from '../config-sip.js';
import type { CallLeg } from './media-port.js';
import type { PortLeg } from './sip-port-legs.js';

/**
 * A number the site may dial: digits, optionally after `+`, as the trunks' dnis. Nothing else
 * reaches a Request-URI: a ticket's phone field is the customer's text, and `@`, `;`, `>` or a
 * space in it would rewrite where the INVITE goes (SIP injection).
 */
export const DIAL_NUMBER_RE = /^\+?[0-9]{3,20}$/;

/** Refuses, before any INVITE, a number that is not 3-20 digits (optionally after `+`). */
export function checkDialNumber(number: string): void {
  if (DIAL_NUMBER_RE.test(number)) return;
  // Which character is wrong, not the whole number: a phone number is the customer's.
  const bad = [...number].findIndex((ch, i) => !/[0-9]/.test(ch) && !(ch === '+' && i === 0));
  const why =
    bad >= 0
      ? `holds ${JSON.stringify(number[bad])} at position ${bad + 1}`
      : `has ${number.replace(/^\+/, '').length} digits`;
  throw invalidArgument('number', `must be 3-20 digits, optionally after +: the number ${why}`);
}

/** Where a callback's INVITE goes and as whom. */
export interface DialRoute {
  trunk: string;
  maxChannels: number;
  /** The carrier's proxy: where the INVITE (and the leg's later requests) are sent. */
  target: SipTarget;
  to: OutboundTarget;
}

/**
 * The INVITE `sip:<number>@<proxy>` From `sip:<callerId>@<our host>`. `unavailable` when the
 * site has no `dialOut` (config-sip.ts refuses at load a dialOut whose trunk has no outbound);
 * `invalid-argument` for a number that is not digits.
 */
export function dialRoute(sip: SiteSipConfig, number: string, ourHostInUri: string): DialRoute {
  if (!sip.dialOut)
    throw unavailable(
      'dialling out over SIP needs sip.dialOut (the trunk callbacks leave by): none is configured',
    );
  const trunk = sip.trunks.find((t) => t.name === sip.dialOut!.trunk);
  const out = trunk?.outbound;
  if (!trunk || !out)
    throw unavailable(`sip.dialOut names trunk "${sip.dialOut.trunk}", which has no outbound proxy`);
  checkDialNumber(number);
  const host = out.host.includes(':') ? `[${out.host}]` : out.host;
  const uri = `sip:${number}@${host}:${out.port}${out.transport === 'tcp' ? ';transport=tcp' : ''}`;
  return {
    trunk: trunk.name,
    maxChannels: trunk.maxChannels,
    target: { host: out.host, port: out.port, transport: out.transport },
    to: { requestUri: uri, toUri: uri, fromUri: `sip:${sip.dialOut.callerId}@${ourHostInUri}` },
  };
}

/** Finals that mean the customer did not take the call: 480, 486, 600 and 603 (and 408). */
const NOT_TAKEN = new Set([408, 480, 486, 600, 603]);

/**
 * What an outbound leg's end before the answer means to the callback flow: `'no-answer'` when
 * the customer's line rang out, was busy or declined (the callback keeps its place and is tried
 * again), else an `unavailable` error saying why the call never reached them (the trunk
 * unreachable, a 5xx, a number the carrier refuses, an answer we could not use). The callback
 * flow counts those as not answered too, and logs them.
 *
 * A UDP proxy that never answers is told apart only by the INVITE's own timeout (64*T1, 32 s
 * with the default T1): a shorter ring timeout fires first and reads as `'no-answer'`.
 */
export function dialOutcome(end: LegEnd, trunk: string): 'no-answer' | DomainError {
  const status = end.status;
  switch (end.reason) {
    case 'no-answer':
    case 'busy':
      return 'no-answer';
    case 'unavailable':
      if (status !== undefined && NOT_TAKEN.has(status)) return 'no-answer';
      if (status === undefined)
        return unavailable(`trunk ${trunk} did not take the INVITE: ${end.detail ?? 'no response'}`);
      return unavailable(`trunk ${trunk} refused the call: ${status} (the number is not reachable)`);
    case 'failed':
      if (status !== undefined && NOT_TAKEN.has(status)) return 'no-answer';
      if (status === 488)
        return unavailable(`the customer's answer on trunk ${trunk} was unusable: ${end.detail ?? '488'}`);
      return unavailable(`trunk ${trunk} refused the call: ${status ?? end.detail ?? 'no status'}`);
    case 'cancelled':
      return unavailable(`the site hung up the call on trunk ${trunk} while it rang`);
    default:
      return unavailable(`the call on trunk ${trunk} ended before an answer: ${end.reason}`);
  }
}

/** Thrown through `placeOutbound` when the leg ended before an answer: its end, to map. */
export class DialEnded extends Error {
  constructor(readonly end: LegEnd) {
    super(`the dialled leg ended before an answer: ${end.reason}`);
  }
}

/** What `dialThroughTrunk` needs of the port. */
export interface DialOutPort {
  sip: SiteSipConfig;
  log: Logger;
  /** Our host as it goes in a URI (IPv6 in brackets). */
  ourHostInUri: string;
  /**
   * A channel of the trunk, counted with the calls it brought in (trunk-channels.ts), or
   * undefined when all are in use; the function gives it back.
   */
  takeChannel(trunk: { name: string; maxChannels: number }): (() => void) | undefined;
  /** The port's one path out; rejects with `unanswered(end)` when the leg ends unanswered. */
  place(spec: {
    target: SipTarget;
    to: OutboundTarget;
    ringTimeoutMs: number;
    call: Omit<CallLeg, 'endpoint'>;
    unanswered: (end: LegEnd) => Error;
  }): Promise<PortLeg>;
}

/**
 * Dials through the trunk, each dial holding one of its channels (ringing or answered, until its
 * leg ends), counted with the calls the trunk brought in. A full trunk is `unavailable`.
 */
export class DialOut {
  private seq = 0;

  constructor(private readonly port: DialOutPort) {}

  async dial(number: string, opts: { timeoutMs: number }): Promise<CallLeg | 'no-answer'> {
    const { port } = this;
    const route = dialRoute(port.sip, number, port.ourHostInUri);
    const release = port.takeChannel({ name: route.trunk, maxChannels: route.maxChannels });
    if (!release)
      throw unavailable(`trunk ${route.trunk} is full: all its ${route.maxChannels} channels in use`);
    const legId = `sip-dial-${++this.seq}`;
    let leg: PortLeg;
    try {
      leg = await port.place({
        target: route.target,
        to: route.to,
        ringTimeoutMs: opts.timeoutMs,
        // The call flow names the call once the customer answered (callback-flow.ts `dial`).
        call: { legId, callId: legId, role: 'caller' },
        unanswered: (end) => new DialEnded(end),
      });
    } catch (e) {
      release();
      if (!(e instanceof DialEnded)) throw e;
      const outcome = dialOutcome(e.end, route.trunk);
      if (outcome !== 'no-answer') throw outcome;
      port.log.info('sip dial not answered', {
        legId,
        trunk: route.trunk,
        reason: e.end.reason,
        ...(e.end.status !== undefined ? { status: e.end.status } : {}),
      });
      return 'no-answer';
    }
    void leg.ended.then(release);
    // Hung up between the answer and now (the media being set up): its far-end hang-up went to
    // a leg the call flow does not hold yet, so the flow must not take it as answered.
    if (leg.runner.ended) {
      port.log.info('sip dial answered, then hung up at once', { legId, trunk: route.trunk });
      return 'no-answer';
    }
    port.log.info('sip dial answered', { legId, trunk: route.trunk });
    return leg.call;
  }
}
