/**
 * The site's location service for agents' phones (docs/sip.md "The location service"): the
 * adapter around the pure digest check (shared/sip/digest.ts) and registrar core
 * (shared/sip/registrar.ts) that the SIP transaction layer's TU calls with each REGISTER, and
 * asks before taking a phone's INVITE.
 *
 * What a REGISTER goes through, in order: the To user must be an extension of this site (404);
 * the digest credentials must be right (401 challenge, 400, 403); the authenticated extension
 * must be the To user (403: no phone registers another's extension); its Contacts must be SIP
 * URIs over UDP or TCP (400); then the registrar decides. What it changes is committed to the
 * store in one transaction BEFORE the 200 is built: a store failure answers 500 and leaves every
 * binding, in memory and stored, as it was. REGISTERs and sweeps run one at a time, so the
 * memory and the store never see two decisions interleave.
 *
 * Memory mirrors the store: it is loaded at open (a restarted site knows its phones at once) and
 * changed only after a commit. `phoneOf` and `phoneState` read it, synchronously.
 *
 * Logging: a binding made or ended is an info line; a refusal is a warn line, the first per
 * source address in a window (default 60 s) at once and the rest counted into one summary line
 * per window (shared/grpc/windowed-log.ts), so a scanner trying extensions costs a line a minute.
 * A challenge a phone is expected to answer (no credentials yet, a stale nonce) is debug only.
 */
import { randomBytes } from 'node:crypto';
import type { SiteSipConfig } from '../config-sip.js';
import type { Clock } from '../../shared/clock.js';
import { errorMessage } from '../../shared/errors.js';
import { WindowedLog } from '../../shared/grpc/windowed-log.js';
import type { Logger } from '../../shared/log.js';
import {
  digestChallenges,
  emptyNonceCounts,
  verifyDigest,
  type DigestRealm,
  type NonceCounts,
} from '../../shared/sip/digest.js';
import { callId, contacts, cseq, expires, fromHeader, toHeader } from '../../shared/sip/headers.js';
import {
  headerValue,
  headerValues,
  type SipHeader,
  type SipRequest,
  type SipResponse,
} from '../../shared/sip/message.js';
import { SipParseError } from '../../shared/sip/parse-error.js';
import {
  contactsOf,
  registrarStep,
  type Binding,
  type BindingChange,
  type RegisterContact,
  type RegistrarState,
} from '../../shared/sip/registrar.js';
import { buildResponse } from '../../shared/sip/response.js';
import { normalizeContact, phoneTarget, type SipTarget } from './contact-uri.js';

export type RegistrationSource = SipTarget;

/** A binding as stored: the registrar's, with where its REGISTER came from. */
export interface StoredBinding extends Binding {
  aor: string;
  received: RegistrationSource;
  userAgent: string | undefined;
  registeredAtMs: number;
}

export type BindingWrite =
  { kind: 'put'; binding: StoredBinding } | { kind: 'delete'; aor: string; contact: string };

/** Where bindings are kept (site-node/store/sip-registrations-repo.ts). */
export interface RegistrationStore {
  load(): Promise<StoredBinding[]>;
  /** All the writes in one transaction; throws (and changes nothing) when it cannot. */
  apply(writes: readonly BindingWrite[]): Promise<void>;
}

/** Where an agent's phone can be rung: one entry per live binding, most preferred first. */
export interface PhoneContact {
  /** The Contact URI, the Request-URI of a request to the phone. */
  contact: string;
  /** Where to send that request (contact-uri.ts `phoneTarget`). */
  target: SipTarget;
  received: RegistrationSource;
  expiresAtMs: number;
  q: number | undefined;
}

export type PhoneState = 'registered' | 'not-registered' | 'no-phone';

/** What the desk and the wallboard read (site-node/runtime/site-desk.ts). */
export interface PhonePresence {
  phoneState(agentId: string): PhoneState;
}

export type InviteAuthorization = { ok: true; extension: string } | { ok: false; response: SipResponse };

export interface PhoneRegistrarDeps {
  sip: Pick<SiteSipConfig, 'realm' | 'phones' | 'registrar' | 'digest'>;
  /** The nonce secret (config-sip.ts loadNonceSecret). */
  secret: Uint8Array;
  store: RegistrationStore;
  clock: Clock;
  log: Logger;
  /** Fresh bytes for nonces and To tags; default crypto. */
  random?: (n: number) => Uint8Array;
  /** The refusal log's window per source address; default 60 s. */
  refusalWindowMs?: number;
  /** Told an agent's id when its phone's bindings were made or ended (the desk shows it). */
  onPhoneChange?: (agentId: string) => void;
}

const sourceText = (s: RegistrationSource): string =>
  `${s.transport}:${s.host.includes(':') ? `[${s.host}]` : s.host}:${s.port}`;

/** The user part of a sip: or sips: URI, or undefined. */
function uriUser(uri: string): string | undefined {
  const m = /^sips?:([^@;?]+)@/i.exec(uri);
  return m ? m[1] : undefined;
}

interface Refusal {
  status: number;
  why: string;
  detail: string;
  extension: string | undefined;
  headers?: SipHeader[];
}

export class PhoneRegistrar implements PhonePresence {
  private state: RegistrarState;
  /** (aor, contact) -> the stored binding, with its source. */
  private readonly meta = new Map<string, StoredBinding>();
  private counts: NonceCounts = emptyNonceCounts();
  private queue: Promise<unknown> = Promise.resolve();
  private readonly realm: DigestRealm;
  private readonly byExtension = new Map<string, SiteSipConfig['phones'][number]>();
  private readonly extensionOf = new Map<string, string>();
  private readonly refusals: WindowedLog;
  private readonly random: (n: number) => Uint8Array;
  private sweeper: NodeJS.Timeout | undefined;

  private constructor(
    private readonly d: PhoneRegistrarDeps,
    stored: readonly StoredBinding[],
  ) {
    this.realm = {
      realm: d.sip.realm,
      secret: d.secret,
      nonceLifetimeMs: d.sip.digest.nonceLifetimeMs,
      algorithms: d.sip.digest.algorithms,
      nonceMemory: d.sip.digest.nonceMemory,
    };
    for (const p of d.sip.phones) {
      this.byExtension.set(p.extension, p);
      this.extensionOf.set(p.agentId, p.extension);
    }
    const bindings = new Map<string, Binding[]>();
    for (const b of stored) {
      const list = bindings.get(b.aor) ?? [];
      list.push({ contact: b.contact, callId: b.callId, cseq: b.cseq, expiresAtMs: b.expiresAtMs, q: b.q });
      bindings.set(b.aor, list);
      this.meta.set(key(b.aor, b.contact), b);
    }
    this.state = { bindings };
    this.random = d.random ?? ((n) => randomBytes(n));
    this.refusals = new WindowedLog(d.log, {
      summary: 'more sip phone refusals',
      keyFields: (source) => ({ source }),
      windowMs: d.refusalWindowMs ?? 60_000,
      clock: d.clock,
    });
  }

  /** Loads the stored bindings: a restarted site knows where its phones are before they refresh. */
  static async open(d: PhoneRegistrarDeps): Promise<PhoneRegistrar> {
    return new PhoneRegistrar(d, await d.store.load());
  }

  /** The address-of-record of an extension: what bindings are stored under. */
  aorOf(extension: string): string {
    return `sip:${extension}@${this.d.sip.realm}`;
  }

  async handleRegister(req: SipRequest, source: RegistrationSource): Promise<SipResponse> {
    const refused = this.checkRegister(req);
    if ('refusal' in refused) return this.refuse(req, source, refused.refusal);
    const { extension, contactList, ids } = refused;
    const aor = this.aorOf(extension);
    const request = { aor, ...ids, contacts: contactList };
    // Kept to tell phones apart when reading the table; the peer's text, so kept short.
    const userAgent = headerValue(req, 'User-Agent')?.slice(0, 200);
    return this.serially(async () => {
      const nowMs = this.d.clock.now();
      const step = registrarStep(this.state, { kind: 'register', request }, nowMs, this.d.sip.registrar);
      const r = step.response!;
      if (r.status === 423)
        return this.refuse(req, source, {
          status: 423,
          why: 'interval-too-brief',
          detail: `asked for less than ${r.minExpiresS} s`,
          extension,
          headers: [{ name: 'Min-Expires', value: String(r.minExpiresS) }],
        });
      if (r.status !== 200)
        return this.refuse(req, source, {
          status: r.status,
          why: r.status === 403 ? 'too-many-contacts' : 'registrar-refused',
          detail: r.reason,
          extension,
        });
      const writes = step.changes.map((c): BindingWrite => {
        if (c.change === 'removed' || c.change === 'expired')
          return { kind: 'delete', aor, contact: c.contact };
        const b = step.state.bindings.get(aor)!.find((x) => x.contact === c.contact)!;
        return { kind: 'put', binding: { ...b, aor, received: source, userAgent, registeredAtMs: nowMs } };
      });
      try {
        await this.d.store.apply(writes);
      } catch (e) {
        // Nothing is acknowledged that is not committed: the phone retries, and finds us as before.
        this.d.log.error('sip registration not stored', {
          extension,
          source: sourceText(source),
          err: e,
        });
        return buildResponse(req, 500, { toTag: this.tag(), headers: [{ name: 'Retry-After', value: '5' }] });
      }
      this.commit(step.state, writes, step.changes);
      return buildResponse(req, 200, {
        toTag: this.tag(),
        headers: r.contacts.map((c) => ({
          name: 'Contact',
          value: `<${c.uri}>;expires=${c.expiresS}${c.q === undefined ? '' : `;q=${c.q}`}`,
        })),
      });
    });
  }

  /**
   * A phone's INVITE (a call an agent dials): the digest credentials must be right, the
   * authenticated extension must be the From user, and that extension must have a live binding
   * registered from the INVITE's source address. Trunks' INVITEs go through the trunk
   * access list instead (trunk-acl.ts, invite-gate.ts).
   */
  authorizeInvite(req: SipRequest, source: RegistrationSource): InviteAuthorization {
    let fromUser: string | undefined;
    try {
      fromUser = uriUser(fromHeader(req).uri);
    } catch (e) {
      return { ok: false, response: this.refuse(req, source, badHeader(e)) };
    }
    const verdict = this.verify(req);
    if ('refusal' in verdict) return { ok: false, response: this.refuse(req, source, verdict.refusal) };
    if (verdict.username !== fromUser)
      return {
        ok: false,
        response: this.refuse(req, source, {
          status: 403,
          why: 'other-extension',
          detail: `phone ${verdict.username} may not call as ${fromUser ?? 'a From without a user'}`,
          extension: verdict.username,
        }),
      };
    // The digest is not bound to an address: credentials taken on the way (or used on another
    // desk) must not call from anywhere but where that very phone registered.
    if (!this.registeredFrom(verdict.username, source.host))
      return {
        ok: false,
        response: this.refuse(req, source, {
          status: 403,
          why: 'other-source',
          detail: `phone ${verdict.username} has no live registration from ${source.host}`,
          extension: verdict.username,
        }),
      };
    return { ok: true, extension: verdict.username };
  }

  private registeredFrom(extension: string, host: string): boolean {
    const aor = this.aorOf(extension);
    const nowMs = this.d.clock.now();
    return contactsOf(this.state, aor, nowMs).some(
      (b) => this.meta.get(key(aor, b.contact))?.received.host === host,
    );
  }

  /**
   * Where the agent's phone can be rung now, most preferred first; empty when not registered.
   * Highest q first, then the binding refreshed last: a desk phone that restarted registers
   * from a new port, and its old binding, dead, lingers until it expires.
   */
  phoneOf(agentId: string): PhoneContact[] {
    const extension = this.extensionOf.get(agentId);
    if (extension === undefined) return [];
    const aor = this.aorOf(extension);
    const bindings = contactsOf(this.state, aor, this.d.clock.now()).sort(
      (a, b) => (b.q ?? 1) - (a.q ?? 1) || b.expiresAtMs - a.expiresAtMs,
    );
    return bindings.map((b) => {
      const received = this.meta.get(key(aor, b.contact))!.received;
      return {
        contact: b.contact,
        target: phoneTarget(b.contact, received),
        received,
        expiresAtMs: b.expiresAtMs,
        q: b.q,
      };
    });
  }

  /** For the desk and the wallboard: can the agent's phone be rung? */
  phoneState(agentId: string): PhoneState {
    if (!this.extensionOf.has(agentId)) return 'no-phone';
    return this.phoneOf(agentId).length > 0 ? 'registered' : 'not-registered';
  }

  /** Whether a live binding's REGISTER came from `host`: a phone may call only from where it registered. */
  isPhoneSource(host: string): boolean {
    const nowMs = this.d.clock.now();
    for (const b of this.meta.values()) if (b.received.host === host && b.expiresAtMs > nowMs) return true;
    return false;
  }

  /** Drops lapsed bindings from the store and memory; returns how many. A failed sweep retries next time. */
  sweep(): Promise<number> {
    return this.serially(async () => {
      const step = registrarStep(this.state, { kind: 'sweep' }, this.d.clock.now(), this.d.sip.registrar);
      if (step.changes.length === 0) return 0;
      const writes = step.changes.map((c): BindingWrite => ({
        kind: 'delete',
        aor: c.aor,
        contact: c.contact,
      }));
      try {
        await this.d.store.apply(writes);
      } catch (e) {
        this.d.log.warn('sip registration sweep failed', { count: writes.length, err: e });
        return 0;
      }
      this.commit(step.state, writes, step.changes);
      return writes.length;
    });
  }

  /** Sweeps every `everyMs` until stop(). */
  start(everyMs = 60_000): void {
    this.sweeper ??= setInterval(() => void this.sweep(), everyMs).unref();
  }

  stop(): void {
    clearInterval(this.sweeper);
    this.sweeper = undefined;
    this.refusals.stop();
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private commit(
    state: RegistrarState,
    writes: readonly BindingWrite[],
    changes: readonly BindingChange[],
  ): void {
    this.state = state;
    for (const w of writes) {
      if (w.kind === 'put') this.meta.set(key(w.binding.aor, w.binding.contact), w.binding);
      else this.meta.delete(key(w.aor, w.contact));
    }
    const agents = new Set<string>();
    for (const c of changes) {
      const extension = uriUser(c.aor);
      const agentId = extension === undefined ? undefined : this.byExtension.get(extension)?.agentId;
      const fields = { extension, agentId, contact: c.contact, change: c.change };
      if (c.change === 'refreshed') this.d.log.debug('phone registration refreshed', fields);
      else {
        this.d.log.info(c.change === 'added' ? 'phone registered' : 'phone unregistered', fields);
        if (agentId !== undefined) agents.add(agentId);
      }
    }
    for (const agentId of agents) this.d.onPhoneChange?.(agentId);
  }

  /** The REGISTER's extension and contacts, or why it is refused before the registrar is asked. */
  private checkRegister(req: SipRequest):
    | {
        extension: string;
        contactList: '*' | RegisterContact[];
        ids: { callId: string; cseq: number; expires: number | undefined };
      }
    | { refusal: Refusal } {
    let toUser: string | undefined;
    let raw: ReturnType<typeof contacts>;
    let ids: { callId: string; cseq: number; expires: number | undefined };
    try {
      toUser = uriUser(toHeader(req).uri);
      raw = contacts(req);
      ids = { callId: callId(req), cseq: cseq(req).seq, expires: expires(req) };
    } catch (e) {
      return { refusal: badHeader(e) };
    }
    // Asked before the credentials: a phone the site does not have cannot answer a challenge.
    if (toUser === undefined || !this.byExtension.has(toUser))
      return {
        refusal: {
          status: 404,
          why: 'unknown-extension',
          detail: `no phone ${toUser ?? '(To has no user)'} at this site`,
          extension: toUser,
        },
      };
    const verdict = this.verify(req);
    if ('refusal' in verdict) return verdict;
    if (verdict.username !== toUser)
      return {
        refusal: {
          status: 403,
          why: 'other-extension',
          detail: `phone ${verdict.username} may not register extension ${toUser}`,
          extension: verdict.username,
        },
      };
    if (raw === '*') return { extension: toUser, contactList: '*', ids };
    const contactList: RegisterContact[] = [];
    for (const c of raw) {
      const uri = normalizeContact(c.uri);
      if (uri === undefined)
        return {
          refusal: {
            status: 400,
            why: 'bad-contact',
            detail: `Contact ${c.uri} is not a sip: URI over UDP or TCP`,
            extension: toUser,
          },
        };
      const q = c.params.get('q');
      contactList.push({
        uri,
        ...(c.expires === undefined ? {} : { expires: c.expires }),
        ...(q === undefined || q === null ? {} : { q: Number(q) }),
      });
    }
    return { extension: toUser, contactList, ids };
  }

  private verify(req: SipRequest): { username: string } | { refusal: Refusal } {
    const nowMs = this.d.clock.now();
    const v = verifyDigest(
      this.realm,
      { method: req.method, requestUri: req.uri, credentials: headerValues(req, 'Authorization') },
      (user) => this.byExtension.get(user)?.ha1,
      this.counts,
      nowMs,
    );
    if (v.kind === 'ok') {
      this.counts = v.counts;
      return { username: v.username };
    }
    if (v.kind === 'refused')
      return { refusal: { status: v.status, why: v.why, detail: v.detail, extension: v.username } };
    return {
      refusal: {
        status: 401,
        why: v.why,
        detail: v.stale ? 'nonce stale: challenged again' : 'challenged',
        extension: v.username,
        headers: digestChallenges(this.realm, nowMs, this.random(8), v.stale).map((value) => ({
          name: 'WWW-Authenticate',
          value,
        })),
      },
    };
  }

  private refuse(req: SipRequest, source: RegistrationSource, r: Refusal): SipResponse {
    const fields = {
      method: req.method,
      extension: r.extension,
      source: sourceText(source),
      status: r.status,
      why: r.why,
      detail: r.detail,
    };
    // The expected steps of a phone's dialogue with us are not refusals worth a warning.
    if (EXPECTED.has(r.why)) this.d.log.debug('sip phone challenged', fields);
    else this.refusals.note(source.host, r.why, () => this.d.log.warn('sip phone refused', fields));
    return buildResponse(req, r.status, {
      toTag: this.tag(),
      ...(r.status === 400 ? { reason: `Bad Request (${r.detail.slice(0, 100)})` } : {}),
      headers: r.headers ?? [],
    });
  }

  private tag(): string {
    return Buffer.from(this.random(8)).toString('hex');
  }
}

const EXPECTED = new Set(['no-credentials', 'stale-nonce', 'forgotten-nonce', 'interval-too-brief']);

const key = (aor: string, contact: string): string => `${aor} ${contact}`;

function badHeader(e: unknown): Refusal {
  if (!(e instanceof SipParseError)) throw e;
  return { status: 400, why: 'malformed', detail: errorMessage(e), extension: undefined };
}
