/**
 * Who is calling the agent desk, and the log of every refusal (docs/architecture.md §4.3
 * "Desk authentication"): the adapter around the pure parts (desk-access.ts, desk-sessions.ts,
 * signin-throttle.ts) that the gRPC service (agent-service.ts) asks on every call.
 *
 * A caller is, in this order:
 *   - a session: metadata `authorization: Bearer <token>` naming a live session. A token that
 *     is malformed, unknown or ended is UNAUTHENTICATED even on a connection with a
 *     certificate (the caller said who it is, and that is not good);
 *   - a verified `agent` client certificate (shared/grpc/identity.ts; grpc-js shows a peer
 *     certificate only on an `authorized` socket) of a user of this site;
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
 * the process's thread pool; past the queue a sign-in is RESOURCE_EXHAUSTED.
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
import { DeskCredentials, type DeskCredentialStore } from './desk-credentials.js';
import { DeskSessions, type DeskSession } from './desk-sessions.js';
import type { ScryptParams } from './password-hash.js';
import { SignInThrottle } from './signin-throttle.js';

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

  constructor(private readonly o: DeskAuthOptions) {
    this.roster = o.roster;
    this.credentials = o.credentials;
    this.refusals = new RefusalLog(o.log, {
      clock: o.clock,
      ...(o.refusalWindowMs === undefined ? {} : { windowMs: o.refusalWindowMs }),
    });
  }

  /** Told of sessions that ended (sign-out, forced logout, new password), to close their streams. */
  onSessionsEnded(listener: (ended: DeskSession[]) => void): void {
    this.listeners.add(listener);
  }

  /** The caller of `call`, or UNAUTHENTICATED (logged). */
  principal(call: AuthCall, method: string): DeskPrincipal {
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
      const s = this.o.sessions.touch(m[1]!, this.o.clock.now());
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
    const user = cert.kind === 'agent' ? this.o.roster.user(cert.id) : undefined;
    if (!user) {
      throw this.refuse(
        call,
        method,
        cert,
        unauthenticated(
          `a ${cert.kind} certificate ${JSON.stringify(cert.id)} is not a desk user of this site: sign in`,
        ),
      );
    }
    return {
      userId: user.userId,
      role: user.role,
      ...(user.agentId === undefined ? {} : { agentId: user.agentId }),
      via: 'certificate',
    };
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
   * Check a user's password under the throttle: a locked user or address is refused before
   * the check; a failure counts against both. The answer names neither which it was.
   */
  async checkPassword(
    call: AuthCall,
    method: string,
    userId: string,
    password: string,
    who?: DeskPrincipal,
  ): Promise<void> {
    const keys = { userId, address: peerAddress(call) };
    const locked = this.o.throttle.check(keys, this.o.clock.now());
    if (locked) {
      const s = Math.ceil(locked.retryInMs / 1000);
      throw this.refuse(
        call,
        method,
        who,
        new DomainError('resource-exhausted', `too many failed sign-ins: retry in ${s}s`),
        `locked (${locked.by} ${locked.by === 'user' ? userId : keys.address}), ${s}s left`,
      );
    }
    const result = await this.limited(() => this.o.credentials.verify(userId, password));
    if (!result.ok) {
      this.o.throttle.failed(keys, this.o.clock.now());
      throw this.refuse(
        call,
        method,
        who,
        unauthenticated('sign-in failed: unknown user id or wrong password'),
        `${result.why} for user ${JSON.stringify(userId)}`,
      );
    }
    this.o.throttle.succeeded(keys);
  }

  /** SignIn: check the password, open a session. */
  async signIn(call: AuthCall, method: string, userId: string, password: string): Promise<DeskSession> {
    await this.checkPassword(call, method, userId, password);
    const user = this.o.roster.user(userId)!;
    const { session, ended } = this.o.sessions.open(user, this.o.clock.now());
    this.ended(ended);
    this.o.log.info('desk signed in', { userId, role: user.role, peer: peerAddress(call) });
    return session;
  }

  /** End one session (sign-out). */
  signOut(token: string): void {
    const s = this.o.sessions.end(token);
    if (s) {
      this.o.log.info('desk signed out', { userId: s.userId });
      this.ended([s]);
    }
  }

  /** End a user's sessions but `keepToken` (forced logout, a new password). */
  endUser(userId: string, keepToken?: string): number {
    const ended = this.o.sessions.endUser(userId, keepToken);
    this.ended(ended);
    return ended.length;
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
    });
    return err;
  }

  /** Say the counts still unsaid and stop the summary timer (at the service's drain). */
  stop(): void {
    this.refusals.stop();
  }

  private ended(sessions: DeskSession[]): void {
    if (sessions.length === 0) return;
    for (const l of this.listeners) l(sessions);
  }

  private async limited<T>(fn: () => Promise<T>): Promise<T> {
    const max = this.o.maxConcurrentChecks ?? 2;
    if (this.checking >= max) {
      if (this.waiting.length >= (this.o.maxQueuedChecks ?? 64)) {
        throw new DomainError('resource-exhausted', 'too many sign-ins at once: retry in 1s');
      }
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
    throttle: new SignInThrottle({
      user: rule(o.config.maxFailuresPerUser),
      address: rule(o.config.maxFailuresPerAddress),
    }),
    clock: o.clock,
    log: o.log,
    ...(o.refusalWindowMs === undefined ? {} : { refusalWindowMs: o.refusalWindowMs }),
  });
}
