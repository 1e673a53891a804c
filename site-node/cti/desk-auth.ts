/**
 * Who is calling the agent desk, and the log of every refusal (docs/architecture.md §4.3
 * "Desk authentication"): the adapter around the pure parts (desk-access.ts, desk-sessions.ts,
 * signin-throttle.ts) that the gRPC service (agent-service.ts) asks on every call.
 *
 * A caller is, in this order:
 *   - a session: metadata `authorization: Bearer <token>` naming a live session. A token that
 *     is malformed, unknown or ended is UNAUTHENTICATED even on a connection with a
 *     certificate (the caller said who it is, and that is not good);
 *   - when the site accepts them (`cti.auth.agentCertificates`, off by default), a verified
 *     `agent` client certificate (shared/grpc/identity.ts; grpc-js shows a peer certificate
 *     only on an `authorized` socket) naming an agent of this site's roster. It is that AGENT
 *     and never more: an agent who also supervises a team acts as a supervisor only signed in
 *     with its password. A certificate names no site and cannot be ended before it expires,
 *     so it must never carry more than one agent's own desk;
 *   - else UNAUTHENTICATED: sign in.
 *
 * Refusals (no caller, not allowed, sign-in failed or throttled) are logged here, once each,
 * as `rpc refused` with who (the session's user, the certificate's subject, or `anonymous`),
 * the peer address, the method and why, in the shape of shared/grpc/caller-check.ts. Per peer
 * address the first refusal of a window is logged and the rest only counted, then summed up
 * in one `more rpc refusals` line (shared/grpc/refusal-window.ts), so a flood cannot flood
 * the log. A wrong password and an unknown user get the same answer; the log says which.
 *
 * Password checks (scrypt: tens of ms and 32 MiB each) run at most `maxConcurrentChecks` at
 * a time with a bounded queue, so a burst of sign-ins can neither exhaust memory nor starve
 * the process's thread pool. One address holds at most `maxChecksPerAddress` places, running
 * or queued, so one client's burst is refused for that client alone and a desk elsewhere
 * still signs in; past either bound a sign-in is RESOURCE_EXHAUSTED, logged as a refusal.
 * An attempt counts against the throttle from before its check (signin-throttle.ts).
 *
 * Ends of sessions: each user has a generation, bumped whenever its sessions are ended
 * (forced out, a new password); a sign-in whose check began in an older generation is
 * refused, so an old password cannot win a race against a reset. Sessions are swept every
 * `sweepMs` (and the expired ones on use): the expired end, and so do those whose password
 * version is no longer the stored one (set by the operator's CLI, another process), and the
 * listeners close their streams.
 */
import { randomBytes } from 'node:crypto';
import type { Metadata } from '@grpc/grpc-js';
import type { Clock } from '../../shared/clock.js';
import { DomainError, isDomainError } from '../../shared/errors.js';
import { peerIdentity, type CallWithAuthContext, type Identity } from '../../shared/grpc/identity.js';
import { peerAddressOf, RefusalLog } from '../../shared/grpc/refusal-log.js';
import type { Logger } from '../../shared/log.js';
import type { DeskAuthConfig } from '../config.js';
import { DeskRoster, type DeskPrincipal, type DeskRosterInput } from './desk-access.js';
import { credentialVersion, DeskCredentials, type DeskCredentialStore } from './desk-credentials.js';
import { DeskSessions, type DeskSession } from './desk-sessions.js';
import type { ScryptParams } from './password-hash.js';
import { addressKey, SignInThrottle } from './signin-throttle.js';

/** A server call as far as authentication needs it. */
export type AuthCall = CallWithAuthContext & { metadata?: Metadata };

export interface DeskAuthOptions {
  roster: DeskRoster;
  credentials: DeskCredentials;
  sessions: DeskSessions;
  throttle: SignInThrottle;
  /** The wall clock: sessions and lockouts are real time even in a sped-up simulation. */
  clock: Clock;
  log: Logger;
  /** Refusals from one address past the first are summed up once per this window. Default 10 s. */
  refusalWindowMs?: number;
  /** Password checks at once; default 2. More wait, up to `maxQueuedChecks` (default 64). */
  maxConcurrentChecks?: number;
  maxQueuedChecks?: number;
  /** Checks running or queued from one address at most; default 4. */
  maxChecksPerAddress?: number;
  /** Whether a verified `agent` certificate is a caller (`cti.auth.agentCertificates`). Default false. */
  agentCertificates?: boolean;
  /** How often sessions are swept (ended ones, passwords set elsewhere). Default 5 s. */
  sweepMs?: number;
}

const BEARER = /^Bearer ([A-Za-z0-9_-]{16,256})$/;

/** `1.2.3.4:5678` or `::1:5678` -> the address without the port. */
export function peerAddress(call: CallWithAuthContext): string {
  return peerAddressOf(typeof call.getPeer === 'function' ? call.getPeer() : undefined);
}

function describeWho(p: DeskPrincipal | Identity | undefined): string {
  if (!p) return 'anonymous';
  if ('via' in p) return p.via === 'session' ? `user ${p.userId}` : `agent certificate ${p.userId}`;
  return `${p.kind} certificate ${p.id}`;
}

export class DeskAuth {
  readonly roster: DeskRoster;
  readonly credentials: DeskCredentials;
  private readonly refusals: RefusalLog;
  private readonly listeners = new Set<(ended: DeskSession[]) => void>();
  private checking = 0;
  private readonly waiting: Array<() => void> = [];
  /** Places (running or queued) held per address key. */
  private readonly perAddress = new Map<string, number>();
  /** Per user: bumped each time its sessions are ended. */
  private readonly generations = new Map<string, number>();
  /** Users whose own password change is under way (the sweep leaves their sessions alone). */
  private readonly changing = new Set<string>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  private lastSweepMs = -Infinity;

  constructor(private readonly o: DeskAuthOptions) {
    this.roster = o.roster;
    this.credentials = o.credentials;
    this.refusals = new RefusalLog(o.log, {
      clock: o.clock,
      ...(o.refusalWindowMs === undefined ? {} : { windowMs: o.refusalWindowMs }),
    });
  }

  /** Told of sessions that ended (sign-out, forced logout, new password, expired), to close their streams. */
  onSessionsEnded(listener: (ended: DeskSession[]) => void): void {
    this.listeners.add(listener);
  }

  /** The caller of `call`, or UNAUTHENTICATED (logged). */
  principal(call: AuthCall, method: string): DeskPrincipal {
    const now = this.o.clock.now();
    // On use as well as on the timer: an expired session's streams close at the next call.
    if (now - this.lastSweepMs >= 1_000) {
      this.lastSweepMs = now;
      this.ended(this.o.sessions.sweep(now), 'expired');
    }
    const header = call.metadata?.get('authorization') ?? [];
    if (header.length > 0) {
      const m = header.length === 1 ? BEARER.exec(String(header[0])) : null;
      if (!m)
        throw this.refuse(
          call,
          method,
          undefined,
          unauthenticated('the authorization metadata is not one "Bearer <token>"'),
        );
      const s = this.o.sessions.touch(m[1]!, now);
      if (!s)
        throw this.refuse(
          call,
          method,
          undefined,
          unauthenticated('the session has ended or is unknown: sign in again'),
        );
      return {
        userId: s.userId,
        role: s.role,
        ...(s.agentId === undefined ? {} : { agentId: s.agentId }),
        via: 'session',
        token: s.token,
      };
    }
    let cert: Identity | undefined;
    try {
      cert = peerIdentity(call);
    } catch (e) {
      if (!isDomainError(e, 'unauthenticated')) throw e;
    }
    if (!cert)
      throw this.refuse(
        call,
        method,
        undefined,
        unauthenticated('no session and no agent certificate: sign in first'),
      );
    if (cert.kind === 'agent' && this.o.agentCertificates !== true) {
      throw this.refuse(
        call,
        method,
        cert,
        unauthenticated(
          'this site does not accept agent certificates (cti.auth.agentCertificates is off): sign in',
        ),
      );
    }
    // An agent of this roster, as an agent only: supervising needs a password.
    const user = cert.kind === 'agent' ? this.o.roster.user(cert.id) : undefined;
    if (!user || user.agentId === undefined) {
      throw this.refuse(
        call,
        method,
        cert,
        unauthenticated(
          `a ${cert.kind} certificate ${JSON.stringify(cert.id)} is not an agent of this site: sign in`,
        ),
      );
    }
    return { userId: user.userId, role: 'agent', agentId: user.agentId, via: 'certificate' };
  }

  /** Run an access rule (desk-access.ts) for `who`; a refusal is logged and thrown. */
  check<T>(call: AuthCall, method: string, who: DeskPrincipal, rule: () => T): T {
    try {
      return rule();
    } catch (e) {
      if (isDomainError(e, 'permission-denied')) throw this.refuse(call, method, who, e);
      throw e;
    }
  }

  /**
   * Check a user's password under the throttle and the per-address bound; returns the stored
   * hash it matched. The attempt counts against both throttle keys from before the check, so
   * a burst is refused past the limit while its first checks still run; a failure counts
   * against both. A sign-in's answer names neither which key nor whether the user exists.
   * `oldPassword`: the check of SetPassword's old password, by a caller already signed in, so
   * a wrong one is PERMISSION_DENIED naming `old_password` (not a lost session).
   */
  async checkPassword(
    call: AuthCall,
    method: string,
    userId: string,
    password: string,
    who?: DeskPrincipal,
    oldPassword = false,
  ): Promise<string> {
    const address = peerAddress(call);
    const keys = { userId, address };
    const place = addressKey(address);
    try {
      this.take(place);
    } catch (e) {
      throw this.refuse(
        call,
        method,
        who,
        retryAfter(e as DomainError, 1_000),
        `sign-in queue, user ${JSON.stringify(userId)}`,
      );
    }
    try {
      const locked = this.o.throttle.begin(keys, this.o.clock.now());
      if (locked) {
        const s = Math.ceil(locked.retryInMs / 1000);
        const why = locked.full ? 'throttle full of locks' : locked.pending ? 'checks in flight' : 'locked';
        throw this.refuse(
          call,
          method,
          who,
          retryAfter(
            new DomainError('resource-exhausted', `too many failed sign-ins: retry in ${s}s`),
            locked.retryInMs,
          ),
          `${why} (${locked.by} ${locked.by === 'user' ? userId : address}), ${s}s left`,
        );
      }
      let result: Awaited<ReturnType<DeskCredentials['verify']>>;
      try {
        result = await this.run(() => this.o.credentials.verify(userId, password));
      } catch (e) {
        this.o.throttle.abandoned(keys);
        throw e;
      }
      if (!result.ok || result.stored === undefined) {
        this.o.throttle.failed(keys, this.o.clock.now());
        throw this.refuse(
          call,
          method,
          who,
          oldPassword
            ? new DomainError('permission-denied', 'old_password: is not the current password', {
                field: 'old_password',
              })
            : unauthenticated('sign-in failed: unknown user id or wrong password'),
          `${result.why ?? 'wrong password'} for user ${JSON.stringify(userId)}`,
        );
      }
      this.o.throttle.succeeded(keys);
      return result.stored;
    } finally {
      this.give(place);
    }
  }

  /** SignIn: check the password, open a session (refused if the user's sessions were ended meanwhile). */
  async signIn(call: AuthCall, method: string, userId: string, password: string): Promise<DeskSession> {
    const generation = this.generation(userId);
    const stored = await this.checkPassword(call, method, userId, password);
    if (this.generation(userId) !== generation) {
      throw this.refuse(
        call,
        method,
        undefined,
        unauthenticated('the password was set or the user forced out while signing in: sign in again'),
        `user ${JSON.stringify(userId)}`,
      );
    }
    const user = this.o.roster.user(userId)!;
    const { session, ended } = this.o.sessions.open(user, this.o.clock.now(), credentialVersion(stored));
    this.ended(ended, 'too many sessions');
    this.startSweeping();
    this.o.log.info('desk signed in', { userId, role: user.role, peer: peerAddress(call) });
    return session;
  }

  /**
   * SetPassword once the rule (desk-access.ts) said `as`: one's own needs the old password,
   * and is stored only over the hash that old password matched (a reset that landed meanwhile
   * wins: CONFLICT). Then the user's other sessions end (all of them after a reset). Returns
   * how many ended.
   */
  async setPassword(
    call: AuthCall,
    method: string,
    who: DeskPrincipal,
    userId: string,
    newPassword: string,
    oldPassword: string,
    as: 'self' | 'supervisor',
  ): Promise<number> {
    const keep = as === 'self' ? who.token : undefined;
    let ifHash: string | undefined;
    if (as === 'self') ifHash = await this.checkPassword(call, method, userId, oldPassword, who, true);
    if (keep !== undefined) this.changing.add(userId);
    try {
      const version = await this.credentials.setPassword(userId, newPassword, who.userId, { as }, ifHash);
      const ended = this.endUser(userId, keep);
      if (keep !== undefined) this.o.sessions.setCredential(keep, version);
      return ended;
    } finally {
      if (keep !== undefined) this.changing.delete(userId);
    }
  }

  /** End one session (sign-out). */
  signOut(token: string): void {
    const s = this.o.sessions.end(token);
    if (s) {
      this.o.log.info('desk signed out', { userId: s.userId });
      this.ended([s]);
    }
  }

  /** End a user's sessions but `keepToken` (forced logout, a new password); sign-ins under way fail. */
  endUser(userId: string, keepToken?: string): number {
    this.bump(userId);
    const ended = this.o.sessions.endUser(userId, keepToken);
    this.ended(ended);
    return ended.length;
  }

  /**
   * An Events stream opened with the session `token`: the session is not idle while it is
   * open. Returns what to call when the stream closes.
   */
  holdStream(token: string): () => void {
    this.o.sessions.holdStream(token);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.o.sessions.releaseStream(token, this.o.clock.now());
    };
  }

  /**
   * End the sessions that have expired, and those whose user's password is no longer the one
   * they signed in with (set elsewhere: the operator's CLI). Run every `sweepMs`.
   */
  async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = this.o.clock.now();
      this.lastSweepMs = now;
      this.ended(this.o.sessions.sweep(now), 'expired');
      if (this.o.sessions.size === 0) return;
      const before = new Map(this.generations);
      const versions = await this.credentials.versions();
      const stale = this.o.sessions.endIf(
        (s) =>
          s.credential !== undefined &&
          !this.changing.has(s.userId) &&
          // Ended meanwhile by this process: endUser has dealt with them.
          this.generation(s.userId) === (before.get(s.userId) ?? 0) &&
          versions.get(s.userId) !== s.credential,
      );
      for (const userId of new Set(stale.map((s) => s.userId))) this.bump(userId);
      this.ended(stale, 'password set elsewhere');
    } finally {
      this.sweeping = false;
    }
  }

  /**
   * Log a refusal (once, throttled per peer address) and return the error to throw.
   * `detail` is for the log only (which of unknown user or wrong password it was).
   */
  refuse(
    call: AuthCall,
    method: string,
    who: DeskPrincipal | Identity | undefined,
    err: DomainError,
    detail?: string,
  ): DomainError {
    this.refusals.refused({
      method,
      who: describeWho(who),
      peer: peerAddress(call),
      kind: err.kind,
      reason: detail ? `${err.message} (${detail})` : err.message,
      ...(err.field ? { field: err.field } : {}),
    });
    return err;
  }

  /** Say the counts still unsaid and stop the timers (at the service's drain). */
  stop(): void {
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.refusals.stop();
  }

  private generation(userId: string): number {
    return this.generations.get(userId) ?? 0;
  }

  private bump(userId: string): void {
    if (this.o.roster.user(userId)) this.generations.set(userId, this.generation(userId) + 1);
  }

  private startSweeping(): void {
    this.sweepTimer ??= setInterval(() => {
      this.sweep().catch((err: unknown) => this.o.log.warn('desk session sweep failed', { err }));
    }, this.o.sweepMs ?? 5_000).unref();
  }

  private ended(sessions: DeskSession[], why?: string): void {
    if (sessions.length === 0) return;
    if (why) {
      this.o.log.info('desk sessions ended', { why, userIds: [...new Set(sessions.map((s) => s.userId))] });
    }
    for (const l of this.listeners) l(sessions);
  }

  /** Hold a place for a check from `place` (an address key), or RESOURCE_EXHAUSTED. Synchronous. */
  private take(place: string): void {
    const mine = this.perAddress.get(place) ?? 0;
    const perAddress = this.o.maxChecksPerAddress ?? 4;
    if (mine >= perAddress) {
      throw new DomainError(
        'resource-exhausted',
        `too many sign-ins from this address at once (at most ${perAddress}): retry in 1s`,
      );
    }
    const max = this.o.maxConcurrentChecks ?? 2;
    if (this.checking >= max && this.waiting.length >= (this.o.maxQueuedChecks ?? 64)) {
      throw new DomainError('resource-exhausted', 'too many sign-ins at once: retry in 1s');
    }
    this.perAddress.set(place, mine + 1);
  }

  private give(place: string): void {
    const mine = (this.perAddress.get(place) ?? 1) - 1;
    if (mine <= 0) this.perAddress.delete(place);
    else this.perAddress.set(place, mine);
  }

  private async run<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.o.maxConcurrentChecks ?? 2;
    if (this.checking >= max) {
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    } else {
      this.checking++;
    }
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.checking--;
    }
  }
}

/** The trailer a refused sign-in's client may wait for before trying again (grpc-desk-client.ts). */
export const RETRY_AFTER_TRAILER = 'pcc-retry-after-ms';

/** `e` with the RETRY_AFTER_TRAILER, so a desk knows when to try again without reading the message. */
function retryAfter(e: DomainError, ms: number): DomainError {
  return new DomainError(e.kind, e.message, {
    ...(e.field ? { field: e.field } : {}),
    trailers: { [RETRY_AFTER_TRAILER]: String(Math.ceil(ms)) },
  });
}

function unauthenticated(message: string): DomainError {
  return new DomainError('unauthenticated', message);
}

export interface MakeDeskAuthOptions {
  roster: DeskRosterInput;
  store: DeskCredentialStore;
  config: DeskAuthConfig;
  clock: Clock;
  log: Logger;
  /** Cheaper scrypt for tests; default password-hash.ts DEFAULT_SCRYPT. */
  scrypt?: ScryptParams;
  refusalWindowMs?: number;
  sweepMs?: number;
}

/** The desk's authentication from the site config's roster and `cti.auth`. */
export function makeDeskAuth(o: MakeDeskAuthOptions): DeskAuth {
  const roster = new DeskRoster(o.roster);
  const rule = (maxFailures: number) => ({
    maxFailures,
    windowMs: o.config.failureWindowMs,
    lockoutMs: o.config.lockoutMs,
    maxLockoutMs: Math.max(o.config.lockoutMs, 3_600_000),
  });
  return new DeskAuth({
    roster,
    credentials: new DeskCredentials(o.store, roster, o.clock, o.scrypt),
    sessions: new DeskSessions({ idleMs: o.config.sessionIdleMs, maxAgeMs: o.config.sessionMaxAgeMs }, () =>
      randomBytes(32).toString('base64url'),
    ),
    throttle: new SignInThrottle(
      { user: rule(o.config.maxFailuresPerUser), address: rule(o.config.maxFailuresPerAddress) },
      // Made-up user ids share one key: each would otherwise be a key of its own.
      { knownUser: (id) => roster.user(id) !== undefined },
    ),
    clock: o.clock,
    log: o.log,
    agentCertificates: o.config.agentCertificates,
    ...(o.sweepMs === undefined ? {} : { sweepMs: o.sweepMs }),
    ...(o.refusalWindowMs === undefined ? {} : { refusalWindowMs: o.refusalWindowMs }),
  });
}
