/**
 * Who may start a call at the site (docs/sip.md "Trunks: the access list"): the first check on
 * every INVITE that is not inside a dialog. A carrier's INVITE is known by its source address
 * (trunk-acl.ts); an agent's phone must call from the address it registered from and pass the
 * digest check (phone-registrar.ts). Anything else is a 403 without a challenge: a challenge
 * would invite an unknown peer to guess passwords.
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
import type { PhoneRegistrar, RegistrationSource } from './phone-registrar.js';
import type { TrunkAcl } from './trunk-acl.js';

export type InviteAdmission =
  | { ok: true; from: 'trunk'; trunk: SipTrunkConfig }
  | { ok: true; from: 'phone'; extension: string }
  | { ok: false; response: SipResponse };

export class InviteGate {
  private readonly refusals: WindowedLog;

  constructor(
    private readonly trunks: TrunkAcl,
    private readonly phones: PhoneRegistrar,
    private readonly log: Logger,
    clock: Clock,
    opts: { windowMs?: number; toTag?: () => string } = {},
  ) {
    this.refusals = new WindowedLog(log, {
      summary: 'more sip invite refusals',
      keyFields: (source) => ({ source }),
      windowMs: opts.windowMs ?? 60_000,
      clock,
    });
    this.toTag = opts.toTag ?? (() => randomBytes(8).toString('hex'));
  }

  private readonly toTag: () => string;

  admit(req: SipRequest, source: RegistrationSource): InviteAdmission {
    const trunk = this.trunks.trunkOf(source.host);
    if (trunk) return { ok: true, from: 'trunk', trunk };
    if (this.phones.isPhoneSource(source.host)) {
      const a = this.phones.authorizeInvite(req, source);
      return a.ok ? { ok: true, from: 'phone', extension: a.extension } : a;
    }
    this.refusals.note(source.host, 'unknown-source', () =>
      this.log.warn('sip invite refused', {
        source: `${source.transport}:${source.host}:${source.port}`,
        why: 'unknown-source',
        detail: 'not a trunk source, nor the address of a registered phone',
        requestUri: req.uri.length > 100 ? `${req.uri.slice(0, 97)}...` : req.uri,
      }),
    );
    return { ok: false, response: buildResponse(req, 403, { toTag: this.toTag() }) };
  }

  stop(): void {
    this.refusals.stop();
  }
}
