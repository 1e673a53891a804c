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
 */

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
      throw new RangeError(`desk sessions: idleMs and maxAgeMs must be positive`);
    }
    this.maxPerUser = times.maxPerUser ?? 8;
  }

  /** A new session for `user`; the user's oldest ends if it already has `maxPerUser`. */
  open(user: DeskUser, nowMs: number): { session: DeskSession; ended: DeskSession[] } {
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
    return nowMs - s.lastSeenMs >= this.times.idleMs || nowMs >= s.expiresAtMs;
  }
}
