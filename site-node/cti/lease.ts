/**
 * An agent desk's lease: the pure decision of when a desk that went silent stops counting as
 * there (docs/architecture.md §3.1, §4.3). Lost signalling must not leave an agent logged in
 * and not ready for ever (the common complaint about ACDs, cured there by daily restarts).
 *
 * A desk holds its agent's lease by keeping an Events stream open and calling Heartbeat within
 * `leaseMs` of its last sign of life (login, a stream opened, a heartbeat). The lease lapses
 * when the desk's last stream ends (at once: the desk is known gone) or when `leaseMs` passes
 * without a sign (a half-open connection nobody reports). A lapse makes the agent not-ready
 * (`lease-lapsed`; an offer goes back to the queue); `logoutAfterMs` later the agent is logged
 * out (`lease-expired`). If the agent is still on a call then (the voice path outlives the
 * desk) the logout is refused and tried again `leaseMs` later.
 *
 * A desk that comes back within the grace (a heartbeat, a stream, a login) holds the lease
 * again and stops the logout, but nothing is restored: the agent stays not-ready
 * `lease-lapsed` until the person makes it ready, because an automatic ready would offer calls
 * to a desk that may be back only half-way. A desk back after the grace finds the agent logged
 * out and logs in again.
 *
 *   (none) --login / stream-opened--> held --last stream closed / silent past leaseMs--> lapsed
 *                                      ^                                                  |
 *                                      +---------- heartbeat / stream / login -------------+
 *   lapsed --logoutAfterMs--> (none), command logout     held|lapsed --released--> (none)
 *
 * "(none)" is `idle` while the desk still has streams open: nothing lapses and a heartbeat
 * holds nothing, but the streams are counted, so after the next login the lease lapses only
 * when the last of them ends.
 *
 * `leaseStep(lease, event, nowMs, times) -> { lease, commands }`, one agent at a time; no
 * timers here: the adapter (site-node/runtime/desk-leases.ts) keeps one timer per agent,
 * armed at the `arm` command's time, and feeds `timer-fired`. A fire that is early (the
 * lease was renewed since) changes nothing, so the adapter may race a re-arm with a fire.
 */

export const LEASE_LAPSED = 'lease-lapsed';
export const LEASE_EXPIRED = 'lease-expired';

export interface LeaseTimes {
  /** How long a desk may go without a sign of life. */
  leaseMs: number;
  /** How long after a lapse the agent is logged out. */
  logoutAfterMs: number;
}

export interface Lease {
  agentId: string;
  /**
   * `idle`: no agent logged in through the desk, but streams still open (kept only to count
   * them: a logout or a forced logout does not close the desk's streams, and a later login
   * must not lapse while one of them is still open).
   */
  phase: 'held' | 'lapsed' | 'idle';
  /** Events streams the desk has open. */
  streams: number;
  /** held: when it lapses without a sign of life. */
  expiresAtMs: number;
  /** lapsed: when the agent is logged out. */
  logoutAtMs: number;
}

export type LeaseEvent =
  /** The agent logged in through the desk. */
  | { type: 'login' }
  | { type: 'stream-opened' }
  | { type: 'stream-closed' }
  | { type: 'heartbeat' }
  | { type: 'timer-fired' }
  /** The forced logout was refused: the agent is on a call. */
  | { type: 'logout-refused' }
  /** The agent logged out (by itself, or the forced logout went through): no lease any more. */
  | { type: 'released' };

export type LeaseCommand =
  | { type: 'arm'; atMs: number }
  | { type: 'disarm' }
  | { type: 'lapse'; agentId: string; reason: typeof LEASE_LAPSED; why: 'stream-ended' | 'silent' }
  | { type: 'logout'; agentId: string; reason: typeof LEASE_EXPIRED };

export interface LeaseStepResult {
  lease: Lease | undefined;
  commands: LeaseCommand[];
}

function held(agentId: string, streams: number, nowMs: number, t: LeaseTimes): LeaseStepResult {
  const expiresAtMs = nowMs + t.leaseMs;
  return {
    lease: { agentId, phase: 'held', streams, expiresAtMs, logoutAtMs: 0 },
    commands: [{ type: 'arm', atMs: expiresAtMs }],
  };
}

function lapse(l: Lease, why: 'stream-ended' | 'silent', nowMs: number, t: LeaseTimes): LeaseStepResult {
  const logoutAtMs = nowMs + t.logoutAfterMs;
  return {
    lease: { ...l, phase: 'lapsed', logoutAtMs },
    // Armed first: the adapter may answer the lapse by releasing the lease (the agent had
    // logged out another way), and that release must find the timer to disarm.
    commands: [
      { type: 'arm', atMs: logoutAtMs },
      { type: 'lapse', agentId: l.agentId, reason: LEASE_LAPSED, why },
    ],
  };
}

/** The lease ended (logout): only the streams still open are remembered (see `idle`). */
function ended(l: Lease, commands: LeaseCommand[]): LeaseStepResult {
  const lease: Lease | undefined =
    l.streams > 0
      ? { agentId: l.agentId, phase: 'idle', streams: l.streams, expiresAtMs: 0, logoutAtMs: 0 }
      : undefined;
  return { lease, commands };
}

/**
 * One step of one agent's lease. `agentId` names the agent when there is no lease yet (events
 * for an agent without one: a login or a stream starts one, the rest are ignored).
 */
export function leaseStep(
  lease: Lease | undefined,
  agentId: string,
  event: LeaseEvent,
  nowMs: number,
  times: LeaseTimes,
): LeaseStepResult {
  const same: LeaseStepResult = { lease, commands: [] };
  switch (event.type) {
    case 'login':
      return held(agentId, lease?.streams ?? 0, nowMs, times);
    case 'stream-opened':
      return held(agentId, (lease?.streams ?? 0) + 1, nowMs, times);
    case 'heartbeat':
      return lease && lease.phase !== 'idle' ? held(agentId, lease.streams, nowMs, times) : same;
    case 'stream-closed': {
      if (!lease) return same;
      const l = { ...lease, streams: Math.max(0, lease.streams - 1) };
      if (l.phase === 'idle')
        return l.streams > 0 ? { lease: l, commands: [] } : { lease: undefined, commands: [] };
      if (l.streams === 0 && l.phase === 'held') return lapse(l, 'stream-ended', nowMs, times);
      return { lease: l, commands: [] };
    }
    case 'timer-fired':
      if (!lease || lease.phase === 'idle') return same;
      if (lease.phase === 'held') {
        return nowMs >= lease.expiresAtMs ? lapse(lease, 'silent', nowMs, times) : same;
      }
      if (nowMs < lease.logoutAtMs) return same;
      return ended(lease, [
        { type: 'disarm' },
        { type: 'logout', agentId: lease.agentId, reason: LEASE_EXPIRED },
      ]);
    case 'logout-refused': {
      // The logout ended the lease; it failed, so the lapse goes on and the logout is tried again.
      const logoutAtMs = nowMs + times.leaseMs;
      return {
        lease: { agentId, phase: 'lapsed', streams: lease?.streams ?? 0, expiresAtMs: 0, logoutAtMs },
        commands: [{ type: 'arm', atMs: logoutAtMs }],
      };
    }
    case 'released':
      return lease && lease.phase !== 'idle' ? ended(lease, [{ type: 'disarm' }]) : same;
  }
}

/**
 * What the agent service tells about a desk's signs of life (implemented on the site by
 * site-node/runtime/desk-leases.ts). Every method is called after the desk call it reports
 * succeeded.
 */
export interface LeaseKeeper {
  loggedIn(agentId: string): void;
  loggedOut(agentId: string): void;
  streamOpened(agentId: string): void;
  streamClosed(agentId: string): void;
  /** Renews the agent's lease; returns how long it lasts, 0 when the agent holds none. */
  heartbeat(agentId: string): number;
}
