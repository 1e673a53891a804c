/**
 * Who may start a call at the site (docs/sip.md "Trunks: the access list"): the first check on
 * every INVITE that is not inside a dialog. A carrier's INVITE is known by its source address
 * (trunk-acl.ts); an agent's phone must call from the address it registered from and pass the
 * digest check (phone-registrar.ts). Anything else is a 403 without a challenge: a challenge
 * would invite an unknown peer to guess passwords.
 *
 * An INVITE carrying a hand-over token (sip-hand-over.ts) from another site's SIP host
 * (peer-sites.ts, the topology the site runs) is that site handing a caller over: admitted as
 * `site`, checked before the trunks (sites and carriers may share an address, as on loopback).
 * From an address that is no other site's, the token is not honoured: on a trunk's INVITE it is
 * ignored and the call is a new one (a carrier's caller must not be refused for a header the
 * caller does not control, and no carrier can claim another site's reservation with it); from
 * anyone else it is a 403 like any unknown source, logged with why `hand-over-from-unknown-site`.
 *
 * Logged once per source address per window (default 60 s): the first refusal at once as
 * `sip invite refused`, the rest counted into one `more sip invite refusals` line per window, so
 * a scanner sweeping the site costs a line a minute per address (at most 1024 addresses are
 * told apart; beyond that they share one count).
 */
import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { WindowedLog } from '../../shared/grpc/windowed-log.js';
import type { Logger } from '../../shared/log.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import { buildResponse } from '../../shared/sip/response.js';
import type { SipTrunkConfig } from '../config-sip.js';
import type { PeerSites } from './peer-sites.js';
import type { PhoneRegistrar, RegistrationSource } from './phone-registrar.js';
import { readHandOverToken } from './sip-hand-over.js';
import type { TrunkAcl } from './trunk-acl.js';
import { TrunkChannels } from './trunk-channels.js';

/** The Request-URI's user part: the number the caller dialled (DNIS). */
export const dialledNumber = (uri: string): string | undefined => /^sips?:([^@;?]+)@/i.exec(uri)?.[1];

export type InviteAdmission =
  /** `release` gives the trunk's channel back: call it once the call has ended, however. */
  | { ok: true; from: 'trunk'; trunk: SipTrunkConfig; release: () => void }
  | { ok: true; from: 'phone'; extension: string }
  | { ok: true; from: 'site'; siteId: string; token: string }
  | { ok: false; response: SipResponse };

export class InviteGate {
  private readonly refusals: WindowedLog;

  /** Calls open per trunk; the port gives each back when its leg ends. */
  readonly channels = new TrunkChannels();

  constructor(
    private readonly trunks: TrunkAcl,
    private readonly phones: PhoneRegistrar,
    private readonly log: Logger,
    clock: Clock,
    opts: { windowMs?: number; toTag?: () => string; peers?: PeerSites } = {},
  ) {
    this.refusals = new WindowedLog(log, {
      summary: 'more sip invite refusals',
      keyFields: (source) => ({ source }),
      windowMs: opts.windowMs ?? 60_000,
      clock,
    });
    this.toTag = opts.toTag ?? (() => randomBytes(8).toString('hex'));
    this.peers = opts.peers;
  }

  private readonly peers: PeerSites | undefined;

  private readonly toTag: () => string;

  admit(req: SipRequest, source: RegistrationSource): InviteAdmission {
    const handOver = readHandOverToken(req);
    const peer = handOver.kind === 'none' ? undefined : this.peers?.siteAt(source.host);
    if (peer !== undefined) {
      if (handOver.kind === 'token') return { ok: true, from: 'site', siteId: peer, token: handOver.token };
      if (handOver.kind === 'bad')
        return this.refuse(req, source, 400, 'bad-hand-over-token', handOver.problem, { siteId: peer });
    }
    const trunk = this.trunks.trunkOf(source.host);
    if (trunk) return this.admitFromTrunk(req, source, trunk);
    if (this.phones.isPhoneSource(source.host)) {
      const a = this.phones.authorizeInvite(req, source);
      return a.ok ? { ok: true, from: 'phone', extension: a.extension } : a;
    }
    if (handOver.kind !== 'none') {
      return this.refuse(
        req,
        source,
        403,
        'hand-over-from-unknown-site',
        'carries a hand-over token but is not the SIP host of another site in the topology',
      );
    }
    return this.refuse(
      req,
      source,
      403,
      'unknown-source',
      'not a trunk source, nor the address of a registered phone',
    );
  }

  /** The trunk carries this number to the site, and has a channel free. */
  private admitFromTrunk(
    req: SipRequest,
    source: RegistrationSource,
    trunk: SipTrunkConfig,
  ): InviteAdmission {
    const dnis = dialledNumber(req.uri);
    if (dnis === undefined || !trunk.dnis.includes(dnis))
      return this.refuse(
        req,
        source,
        404,
        'unknown-dnis',
        `trunk ${trunk.name} does not carry ${dnis ?? 'that number'} to this site`,
        { trunk: trunk.name },
      );
    const release = this.channels.take(trunk);
    if (!release)
      return this.refuse(
        req,
        source,
        503,
        'trunk-full',
        `all ${trunk.maxChannels} channels of trunk ${trunk.name} are in use`,
        { trunk: trunk.name },
      );
    return { ok: true, from: 'trunk', trunk, release };
  }

  private refuse(
    req: SipRequest,
    source: RegistrationSource,
    status: number,
    why: string,
    detail: string,
    about: { trunk?: string; siteId?: string } = {},
  ): InviteAdmission {
    this.refusals.note(source.host, why, () =>
      this.log.warn('sip invite refused', {
        source: `${source.transport}:${source.host}:${source.port}`,
        ...about,
        status,
        why,
        detail,
        requestUri: req.uri.length > 100 ? `${req.uri.slice(0, 97)}...` : req.uri,
      }),
    );
    return { ok: false, response: buildResponse(req, status, { toTag: this.toTag() }) };
  }

  stop(): void {
    this.refusals.stop();
  }
}
