/**
 * The adapter of the agent lease core (site-node/cti/lease.ts): the agent service reports each
 * desk's logins, streams and heartbeats here; this feeds them to `leaseStep` with the site
 * scheduler's time, keeps one scheduler timer per agent, and carries out the commands on the
 * ACD engine: a lapse is `agent-lease-lapsed` (not-ready, an offer back to the queue), an
 * expiry is `agent-logout` with reason `lease-expired`. The store records both, with their
 * reasons, through the ACD's agent-state-changed commands like any other agent move.
 *
 * In-process agents (the simulated agents on the site's own desk) hold no lease: only a desk
 * that reaches the site over the agent service can vanish without a word.
 */
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import { isDomainError } from '../../shared/errors.js';
import {
  leaseStep,
  type Lease,
  type LeaseCommand,
  type LeaseEvent,
  type LeaseKeeper,
  type LeaseTimes,
} from '../cti/lease.js';
import type { AcdEngine } from './acd-engine.js';

export class DeskLeases implements LeaseKeeper {
  private readonly leases = new Map<string, Lease>();
  private readonly timers = new Map<string, Cancel>();
  private stopped = false;

  constructor(
    private readonly engine: AcdEngine,
    private readonly scheduler: Scheduler,
    private readonly times: LeaseTimes,
    private readonly log: Logger,
  ) {}

  loggedIn(agentId: string): void {
    this.feed(agentId, { type: 'login' });
  }

  loggedOut(agentId: string): void {
    this.feed(agentId, { type: 'released' });
  }

  streamOpened(agentId: string): void {
    this.feed(agentId, { type: 'stream-opened' });
  }

  streamClosed(agentId: string): void {
    this.feed(agentId, { type: 'stream-closed' });
  }

  heartbeat(agentId: string): number {
    this.feed(agentId, { type: 'heartbeat' });
    const phase = this.leases.get(agentId)?.phase;
    return phase === 'held' || phase === 'lapsed' ? this.times.leaseMs : 0;
  }

  /** The lease an agent holds, for tests and the wallboard. */
  lease(agentId: string): Lease | undefined {
    return this.leases.get(agentId);
  }

  /** Cancel every timer; later reports are ignored (the site is stopping, its desks with it). */
  stop(): void {
    this.stopped = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    this.leases.clear();
  }

  private feed(agentId: string, event: LeaseEvent): void {
    if (this.stopped) return;
    const r = leaseStep(this.leases.get(agentId), agentId, event, this.scheduler.now(), this.times);
    if (r.lease) this.leases.set(agentId, r.lease);
    else this.leases.delete(agentId);
    for (const c of r.commands) this.run(agentId, c);
  }

  private run(agentId: string, c: LeaseCommand): void {
    switch (c.type) {
      case 'arm': {
        this.timers.get(agentId)?.();
        const cancel = this.scheduler.after(Math.max(0, c.atMs - this.scheduler.now()), () => {
          if (this.timers.get(agentId) === cancel) this.timers.delete(agentId);
          this.feed(agentId, { type: 'timer-fired' });
        });
        this.timers.set(agentId, cancel);
        return;
      }
      case 'disarm':
        this.timers.get(agentId)?.();
        this.timers.delete(agentId);
        return;
      case 'lapse':
        if (!this.loggedInNow(agentId)) return this.feed(agentId, { type: 'released' });
        this.log.warn('agent desk lease lapsed: agent made not-ready', {
          agentId,
          why: c.why,
          reason: c.reason,
        });
        this.act(agentId, () =>
          this.engine.dispatch({ type: 'agent-lease-lapsed', agentId, reason: c.reason }),
        );
        return;
      case 'logout':
        if (!this.loggedInNow(agentId)) return;
        try {
          this.engine.dispatch({ type: 'agent-logout', agentId, reason: c.reason });
          this.log.warn('agent desk lease expired: agent logged out', { agentId, reason: c.reason });
        } catch (e) {
          if (!isDomainError(e) || e.kind !== 'failed-precondition') throw e;
          // On a call (the voice path outlives the desk): tried again later.
          this.log.info('agent desk lease expired but the agent is busy: logout deferred', {
            agentId,
            err: e,
          });
          this.feed(agentId, { type: 'logout-refused' });
        }
        return;
    }
  }

  private loggedInNow(agentId: string): boolean {
    const v = this.engine.agent(agentId);
    return v !== undefined && v.state !== 'logged-out';
  }

  private act(agentId: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      this.log.warn('agent desk lease: the ACD refused', { agentId, err: e });
    }
  }
}
