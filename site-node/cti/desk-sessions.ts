/**
 * The desk's sign-in sessions (docs/architecture.md §4.3 "Desk authentication"): a pure
 * registry, time passed in, tokens from an injected generator. A session is bound to one user
 * (and, for an agent, its agent id) and ends when it is signed out, when its user is forced
 * out or given a new password, after `idleMs` without a call, or `maxAgeMs` after sign-in
 * whatever it did. Sessions live in the site's process only: a restart signs everybody out,
 * which is what a restart does to the ACD logins too.
 *
 * Bounded: a user keeps at most `maxPerUser` sessions (signing in once more ends the oldest),
 * so a script signing in in a loop cannot grow the registry.
 *
 * An open Events stream is a desk at work: a session holding one (`holdStream`) is never idle,
 * but still ends at its maximum age. Its idle time starts again when its last stream closes.
 * Ended sessions are found on use (`touch`) and by `sweep`, which the adapter runs on a timer
 * so that the streams of a session that ended unused are closed too.
 *
 * A session carries the version of the credential it signed in with (`credential`), so a
 * password set elsewhere (the operator's CLI, another process) ends it (`endIf`).
 */
import { DomainError } from '../../shared/errors.js';

export type DeskRole = 'agent' | 'supervisor';

export interface DeskUser {
  userId: string;
  role: DeskRole;
  /** The ACD agent the user is; absent for a supervisor who takes no calls. */
  agentId?: string;
}

export interface DeskSession extends DeskUser {
  token: string;
  startedAtMs: number;
  lastSeenMs: number;
  /** The latest it can last: `startedAtMs + maxAgeMs`. */
  expiresAtMs: number;
  /** The version of the password it signed in with (desk-credentials.ts `credentialVersion`). */
  credential?: string;
  /** Events streams open with it: while there is one the session is not idle. */
  streams: number;
}

export interface SessionTimes {
  idleMs: number;
  maxAgeMs: number;
  /** Default 8. */
  maxPerUser?: number;
}

export class DeskSessions {
  private readonly byToken = new Map<string, DeskSession>();
  private readonly maxPerUser: number;

  constructor(
    private readonly times: SessionTimes,
    private readonly newToken: () => string,
  ) {
    if (!(times.idleMs > 0 && times.maxAgeMs > 0)) {
      throw new DomainError(
        'invalid-argument',
        `desk sessions: idleMs and maxAgeMs must be positive, got ${times.idleMs} and ${times.maxAgeMs}`,
        { field: times.idleMs > 0 ? 'maxAgeMs' : 'idleMs' },
      );
    }
    this.maxPerUser = times.maxPerUser ?? 8;
    if (!(Number.isInteger(this.maxPerUser) && this.maxPerUser >= 1)) {
      throw new DomainError('invalid-argument', `desk sessions: maxPerUser must be an integer >= 1`, {
        field: 'maxPerUser',
      });
    }
  }

  /** A new session for `user`; the user's oldest ends if it already has `maxPerUser`. */
  open(user: DeskUser, nowMs: number, credential?: string): { session: DeskSession; ended: DeskSession[] } {
    const ended: DeskSession[] = [];
    const mine = this.ofUser(user.userId).sort((a, b) => a.startedAtMs - b.startedAtMs);
    while (mine.length >= this.maxPerUser) {
      const old = mine.shift()!;
      this.byToken.delete(old.token);
      ended.push(old);
    }
    const token = this.newToken();
    if (this.byToken.has(token)) throw new Error('desk sessions: token generator repeated a token');
    const session: DeskSession = {
      userId: user.userId,
      role: user.role,
      ...(user.agentId === undefined ? {} : { agentId: user.agentId }),
      token,
      startedAtMs: nowMs,
      lastSeenMs: nowMs,
      expiresAtMs: nowMs + this.times.maxAgeMs,
      ...(credential === undefined ? {} : { credential }),
      streams: 0,
    };
    this.byToken.set(token, session);
    return { session, ended };
  }

  /**
   * The live session of `token`, its idle time restarted; undefined when there is none or it
   * has ended (idle too long, too old), in which case it is forgotten.
   */
  touch(token: string, nowMs: number): DeskSession | undefined {
    const s = this.byToken.get(token);
    if (!s) return undefined;
    if (this.expired(s, nowMs)) {
      this.byToken.delete(token);
      return undefined;
    }
    s.lastSeenMs = Math.max(s.lastSeenMs, nowMs);
    return s;
  }

  /** An Events stream opened with `token`'s session: it is not idle while the stream is open. */
  holdStream(token: string): void {
    const s = this.byToken.get(token);
    if (s) s.streams++;
  }

  /** That stream closed: the idle time starts now (unless other streams are open). */
  releaseStream(token: string, nowMs: number): void {
    const s = this.byToken.get(token);
    if (!s) return;
    s.streams = Math.max(0, s.streams - 1);
    s.lastSeenMs = Math.max(s.lastSeenMs, nowMs);
  }

  /** The session's credential is now `credential` (its user set its own password with it). */
  setCredential(token: string, credential: string): void {
    const s = this.byToken.get(token);
    if (s) s.credential = credential;
  }

  /** End every session `ended` says should end; returns them. */
  endIf(ended: (s: DeskSession) => boolean): DeskSession[] {
    const out = [...this.byToken.values()].filter(ended);
    for (const s of out) this.byToken.delete(s.token);
    return out;
  }

  /** End one session (sign-out). */
  end(token: string): DeskSession | undefined {
    const s = this.byToken.get(token);
    this.byToken.delete(token);
    return s;
  }

  /** End every session of a user but `keepToken` (forced logout, a new password). */
  endUser(userId: string, keepToken?: string): DeskSession[] {
    const out = this.ofUser(userId).filter((s) => s.token !== keepToken);
    for (const s of out) this.byToken.delete(s.token);
    return out;
  }

  /** Forget the sessions that have ended by `nowMs`; returns them. */
  sweep(nowMs: number): DeskSession[] {
    const out: DeskSession[] = [];
    for (const s of this.byToken.values()) if (this.expired(s, nowMs)) out.push(s);
    for (const s of out) this.byToken.delete(s.token);
    return out;
  }

  get size(): number {
    return this.byToken.size;
  }

  private ofUser(userId: string): DeskSession[] {
    return [...this.byToken.values()].filter((s) => s.userId === userId);
  }

  private expired(s: DeskSession, nowMs: number): boolean {
    return nowMs >= s.expiresAtMs || (s.streams === 0 && nowMs - s.lastSeenMs >= this.times.idleMs);
  }
}
