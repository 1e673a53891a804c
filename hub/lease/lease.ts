/**
 * Which hub leads (pure, docs/architecture.md §3.1 and §6.6): the lease core. Two hub processes
 * share one database; the one holding the lease row leads, the other is a standby. The PG
 * adapter (pg-lease.ts) and the Hub carry out the commands; this module never touches a
 * socket, a timer or a clock.
 *
 * Why a lease row with an expiry and a fencing token, not an advisory lock: a kill -9'd
 * leader's session ends with its socket and frees an advisory lock at once, but a HUNG leader
 * (stopped, swapping, stuck in a long GC) keeps its session and its lock forever, and nothing
 * could take over. A lease expires on the database's clock whatever the holder does, and every
 * leader-only write checks, in its own transaction, that its token is still the current one
 * and unexpired (hub_fence, hub/store/migrations/007_leader_lease.sql), so a leader that
 * wakes up after losing the lease cannot write. The price: a crashed leader is replaced only
 * when its lease runs out (`ttlMs`, 2 s by default), well inside the 5 s failover budget.
 *
 *            held (token)                     taken by another / not renewed in time
 *   standby ---------------> leader ----------------------------------------------> standby
 *      |   <- taken / failed     |  held (same token): renewed            (step-down)
 *      +------------- stop ------+------ stop (step-down, release) ------> stopped
 *
 * Timing, on this process's clock only:
 *   - one attempt in flight at a time; a standby tries every `retryEveryMs`, a leader renews
 *     every `renewEveryMs`;
 *   - the database grants `ttlMs` from when it runs the statement, which is after this process
 *     sent it: so this hub may lead until `sentAtMs + ttlMs - marginMs`, and steps down then
 *     if no renewal came back, `marginMs` before any other hub can take the lease. The margin
 *     covers the time stepping down takes (closing links, stopping the Kafka consumer) and
 *     clock-rate differences; the fence in SQL covers the rest.
 *   - a grant that comes back after that point is not used (the next attempt comes at once).
 *
 * A leader with no contender (no other hub has tried for the lease within two TTLs: a
 * province with one hub) does not step down when its grant runs out on its clock, which a
 * stall of its own process (a long GC pause) would otherwise cost every site its link: it is
 * `overdue`, asks at once, and keeps leading if the answer is the same token, or the next one
 * with itself as holder (the lease lapsed in the database, and nobody held it in between:
 * every change of holder raises the token). It steps down if another hub holds it, or if no
 * answer comes within `marginMs` of its noticing. Why the margin and not longer: "no
 * contender" only means no standby was seen in the last two TTLs; a hub that starts (or comes
 * back) while the lease has lapsed takes it at once without ever being seen, and a leader whose
 * renewals go unanswered (its database link cut, its ticks running on time) notices at
 * `sentAtMs + ttlMs - marginMs` (on its next tick), so it has stopped by `sentAtMs + ttlMs`
 * (give or take that tick), the earliest the database lets another hub take the lease. Links, feed and consumer of two hubs then overlap
 * by no more than stepping down takes, not by a TTL. After a stall of its own process the
 * answer is one round trip away, well inside the margin. Its writes meanwhile are fenced as
 * always: a lapsed lease refuses them, so nothing is written twice or out of turn.
 */

export interface LeaseTimes {
  /** How long a grant lasts, on the database's clock. */
  ttlMs: number;
  /** How often a leader renews. */
  renewEveryMs: number;
  /** How often a standby (or a leader whose attempt failed) tries again. */
  retryEveryMs: number;
  /** A leader stops leading this long before its grant runs out. */
  marginMs: number;
}

export const DEFAULT_LEASE_TTL_MS = 2_000;

/**
 * The timings for a TTL: renew 8 times per TTL (a leader rides out a stall of most of a TTL),
 * step down a tenth of the TTL early. The margin need not cover more: the database counts the
 * grant from when it ran the statement, after this hub sent it, so the margin is only for
 * clock-rate differences and the synchronous part of stepping down; writes still in flight
 * after that are fenced.
 */
export function leaseTimes(ttlMs = DEFAULT_LEASE_TTL_MS): LeaseTimes {
  return {
    ttlMs,
    renewEveryMs: Math.floor(ttlMs / 8),
    retryEveryMs: Math.min(250, Math.floor(ttlMs / 8)),
    marginMs: Math.floor(ttlMs / 10),
  };
}

/** A hub as the lease row names it. */
export interface LeaderInfo {
  hubId: string;
  /** Where sites and admins reach it (its `advertiseAddress`). */
  address: string;
  /** The fencing token of its term: raised by every change of holder. */
  token: number;
}

export type LeaseRole = 'standby' | 'leader' | 'stopped';

export interface LeaseMachine {
  role: LeaseRole;
  /** This hub's fencing token while it leads. */
  token: number | null;
  /** While leader: the local time it must have stepped down by without a renewal. */
  leadUntilMs: number | null;
  /** An attempt (acquire or renew) has been sent and not answered. */
  inFlight: boolean;
  nextAttemptAtMs: number;
  /** Who leads as last seen (this hub included); null = nobody or not known yet. */
  leader: LeaderInfo | null;
  /** Times this hub became leader (status, tests). */
  terms: number;
  /** The last grant said another hub is waiting for the lease (assume so until told). */
  contended: boolean;
  /** An uncontended leader whose grant ran out on its clock: since when (null = not overdue). */
  overdueSinceMs: number | null;
  lastError: string | null;
  changedAtMs: number;
}

export type LeaseEvent =
  | { kind: 'tick' }
  /**
   * The attempt sent at `sentAtMs` got or renewed the lease: this hub holds it as `self`;
   * `contended`: another hub tried for it lately (default true: assume a standby).
   */
  | { kind: 'held'; sentAtMs: number; self: LeaderInfo; contended?: boolean }
  /** Another hub holds an unexpired lease (its row), or none could be read (null). */
  | { kind: 'taken'; leader: LeaderInfo | null }
  /** The attempt failed (database unreachable, timeout): nothing is known. */
  | { kind: 'failed'; reason: string }
  | { kind: 'stop' };

export type LeaseCommand =
  | { kind: 'attempt' }
  /** Start leading with this token: load state, serve, consume. */
  | { kind: 'lead'; token: number }
  /** Stop leading NOW: close links, stop the consumer, refuse writes. */
  | { kind: 'step-down'; reason: string }
  /** Give the lease up in the database so the standby need not wait for it to expire. */
  | { kind: 'release'; token: number }
  /** The same term goes on under this token (an uncontended lease lapsed and was retaken). */
  | { kind: 'retoken'; token: number };

export interface LeaseStep {
  machine: LeaseMachine;
  commands: LeaseCommand[];
}

export const initialLease = (nowMs: number): LeaseMachine => ({
  role: 'standby',
  token: null,
  leadUntilMs: null,
  inFlight: false,
  nextAttemptAtMs: nowMs,
  leader: null,
  terms: 0,
  contended: true,
  overdueSinceMs: null,
  lastError: null,
  changedAtMs: nowMs,
});

const stepDown = (m: LeaseMachine, nowMs: number, patch: Partial<LeaseMachine> = {}): LeaseMachine => ({
  ...m,
  role: 'standby',
  token: null,
  leadUntilMs: null,
  overdueSinceMs: null,
  changedAtMs: nowMs,
  ...patch,
});

export function leaseStep(m: LeaseMachine, e: LeaseEvent, nowMs: number, t: LeaseTimes): LeaseStep {
  const same: LeaseStep = { machine: m, commands: [] };
  if (m.role === 'stopped') {
    // A grant that was in flight when the hub stopped is handed back at once.
    if (e.kind === 'held') return { machine: m, commands: [{ kind: 'release', token: e.self.token }] };
    return same;
  }
  switch (e.kind) {
    case 'tick': {
      if (m.role === 'leader' && m.leadUntilMs !== null && nowMs >= m.leadUntilMs && !m.contended) {
        if (m.overdueSinceMs === null) {
          return attemptIfDue({ ...m, overdueSinceMs: nowMs, nextAttemptAtMs: nowMs }, nowMs);
        }
        // Capped at the margin (see the header): an unseen hub may have taken the lapsed lease.
        if (nowMs - m.overdueSinceMs < t.marginMs) return attemptIfDue(m, nowMs);
        const machine = stepDown(m, nowMs, { leader: null });
        const reason = `lease not confirmed within ${t.marginMs} ms of running out`;
        return {
          machine,
          commands: [{ kind: 'step-down', reason }, ...attemptIfDue(machine, nowMs).commands],
        };
      }
      if (m.role === 'leader' && m.leadUntilMs !== null && nowMs >= m.leadUntilMs) {
        const machine = stepDown(m, nowMs, { leader: null });
        const reason = `lease not renewed in time (last grant ran out for this hub at ${m.leadUntilMs})`;
        return {
          machine,
          commands: [{ kind: 'step-down', reason }, ...attemptIfDue(machine, nowMs).commands],
        };
      }
      return attemptIfDue(m, nowMs);
    }
    case 'held': {
      const leadUntilMs = e.sentAtMs + t.ttlMs - t.marginMs;
      const contended = e.contended ?? true;
      const answered = { ...m, inFlight: false, contended };
      // An uncontended leader confirmed: the same term goes on (see the header), even when the
      // answer came late: nobody else held the lease in between.
      const sameTerm =
        m.role === 'leader' && m.token !== null && (e.self.token === m.token || e.self.token === m.token + 1);
      if (sameTerm && !m.contended && !contended) {
        return {
          machine: {
            ...answered,
            token: e.self.token,
            leadUntilMs,
            overdueSinceMs: null,
            nextAttemptAtMs: nowMs + t.renewEveryMs,
            leader: e.self,
            lastError: null,
          },
          commands: e.self.token === m.token ? [] : [{ kind: 'retoken', token: e.self.token }],
        };
      }
      if (leadUntilMs <= nowMs) {
        // Too late to act on: whatever it granted may already be running out. Ask again now.
        return { machine: { ...answered, nextAttemptAtMs: nowMs }, commands: [] };
      }
      const next = nowMs + t.renewEveryMs;
      if (m.role === 'leader' && m.token === e.self.token) {
        return {
          machine: {
            ...answered,
            leadUntilMs,
            overdueSinceMs: null,
            nextAttemptAtMs: next,
            leader: e.self,
            lastError: null,
          },
          commands: [],
        };
      }
      const commands: LeaseCommand[] = [];
      // A different token while leading: another hub held the lease in between. Everything of
      // the old term stops before the new term starts.
      if (m.role === 'leader') commands.push({ kind: 'step-down', reason: 'fencing token changed' });
      commands.push({ kind: 'lead', token: e.self.token });
      return {
        machine: {
          ...answered,
          role: 'leader',
          token: e.self.token,
          leadUntilMs,
          overdueSinceMs: null,
          nextAttemptAtMs: next,
          leader: e.self,
          terms: m.terms + 1,
          lastError: null,
          changedAtMs: nowMs,
        },
        commands,
      };
    }
    case 'taken': {
      const answered = { ...m, inFlight: false, nextAttemptAtMs: nowMs + t.retryEveryMs, leader: e.leader };
      if (m.role !== 'leader') return { machine: answered, commands: [] };
      const by = e.leader ? `hub ${e.leader.hubId} holds the lease (token ${e.leader.token})` : 'lease lost';
      return { machine: stepDown(answered, nowMs), commands: [{ kind: 'step-down', reason: by }] };
    }
    case 'failed':
      // Nothing is known: a leader keeps leading until its grant runs out (tick), and retries.
      return {
        machine: { ...m, inFlight: false, nextAttemptAtMs: nowMs + t.retryEveryMs, lastError: e.reason },
        commands: [],
      };
    case 'stop': {
      const machine: LeaseMachine = {
        ...m,
        role: 'stopped',
        token: null,
        leadUntilMs: null,
        changedAtMs: nowMs,
      };
      if (m.role !== 'leader' || m.token === null) return { machine, commands: [] };
      return {
        machine,
        commands: [
          { kind: 'step-down', reason: 'hub stopping' },
          { kind: 'release', token: m.token },
        ],
      };
    }
  }
}

function attemptIfDue(m: LeaseMachine, nowMs: number): LeaseStep {
  if (m.inFlight || nowMs < m.nextAttemptAtMs) return { machine: m, commands: [] };
  return { machine: { ...m, inFlight: true }, commands: [{ kind: 'attempt' }] };
}
