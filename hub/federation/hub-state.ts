/**
 * What the hub's two gRPC services (federation.ts for sites, admin for `fedctl`) share: the
 * stores, the live registry, the current topology and the drained sites (both cached in
 * memory, loaded at start and changed only through this object), and the two pushes that
 * fan out to connected sites: topology versions and the customer change feed.
 *
 * The change feed is pumped per site and serialised: each site has one pump that reads
 * `changesFor(site, sentCursor)` and writes what it finds, so a catch-up after hello and a
 * push after a write never interleave, skip or repeat a change.
 */
import type { HubMessage } from '../../proto/gen/federation.js';
import { customerToProto } from '../../shared/domain/customer-proto.js';
import type { Clock } from '../../shared/clock.js';
import type { Logger } from '../../shared/log.js';
import { RefusalLog } from '../../shared/grpc/refusal-log.js';
import type { DirectoryStore, IngestStore, SiteAdminStore, StoredTopology, TopologyStore } from '../ports.js';
import type { Site } from '../../shared/topology/schema.js';
import type { SiteRegistry } from './registry.js';
import { GroupCommit } from '../ingest/group-commit.js';
import { notLeaderError } from '../../shared/federation/hub-failover.js';
import type { LeaderInfo } from '../lease/lease.js';
import type { HubCover } from '../cover/hub-cover.js';
import type { OverflowDecisionStore } from '../ports.js';
import { DecisionRecorder } from '../overflow/decision-recorder.js';
import { OverflowRelay } from '../overflow/overflow-relay.js';

/** Whether this hub leads (hub/lease/), for the services' guard; none = always leads. */
export interface Leadership {
  leading(): boolean;
  /** The leader as last seen (null = none known). */
  leader(): LeaderInfo | null;
}

export interface HubDeps {
  hubId: string;
  topology: TopologyStore;
  siteAdmin: SiteAdminStore;
  directory: DirectoryStore;
  ingest: IngestStore;
  registry: SiteRegistry;
  clock: Clock;
  log: Logger;
  heartbeatIntervalMs: number;
  /** Refusals from one peer past the first are summed up once per this window. Default 10 s. */
  refusalWindowMs?: number;
  /** Changes per CustomerChanged burst read from the store. Default 500. */
  feedBatch?: number;
  leadership?: Leadership;
  /** Where overflow and cover decisions are recorded; none = logged only. */
  decisions?: OverflowDecisionStore;
  /** Routing uses snapshots at most this old (hub config routing.maxSnapshotAgeMs). */
  maxSnapshotAgeMs?: number;
  /** The cover entries active at a moment (the hub's cover schedule); default the weekly windows. */
  activeCoverEntryIds?: (nowMs: number) => readonly string[];
}

export class HubState {
  current: StoredTopology | undefined;
  drained = new Set<string>();
  /** The feed cursor pushed so far, per connected site. */
  private readonly feedSent = new Map<string, number>();
  private readonly feedPumps = new Map<string, Promise<void>>();
  private readonly feedAgain = new Set<string>();
  /** Event batches from all site links, written together while the database is busy. */
  readonly linkIngest: GroupCommit;
  /** Callers already told this hub does not lead (each is logged once per term, not per retry). */
  private readonly refusedCallers = new Set<string>();

  /** Every refused RPC, one line each, throttled per peer (shared/grpc/refusal-log.ts). */
  readonly refusals: RefusalLog;

  /**
   * The active cover entries and their pushes (hub/cover/); set by the hub that composes it.
   * None (a HubState used alone): no cover is pushed and the cover RPCs are unavailable.
   */
  cover: HubCover | undefined;
  /** Routing decisions written off the message path (null: no store, logged only). */
  readonly decisions: DecisionRecorder | null;
  /** The overflow protocol's routing and relay (hub/overflow/). */
  readonly overflow: OverflowRelay;

  constructor(readonly d: HubDeps) {
    this.refusals = new RefusalLog(d.log, {
      clock: d.clock,
      ...(d.refusalWindowMs === undefined ? {} : { windowMs: d.refusalWindowMs }),
    });
    this.decisions = d.decisions ? new DecisionRecorder(d.decisions, d.log) : null;
    this.overflow = new OverflowRelay({
      registry: d.registry,
      topology: () => this.current?.topology,
      drained: () => this.drained,
      clock: d.clock,
      log: d.log,
      refusals: this.refusals,
      recorder: this.decisions,
      ...(d.maxSnapshotAgeMs === undefined ? {} : { maxSnapshotAgeMs: d.maxSnapshotAgeMs }),
      ...(d.activeCoverEntryIds === undefined ? {} : { activeCoverEntryIds: d.activeCoverEntryIds }),
    });
    this.linkIngest = new GroupCommit(
      (events, nowMs) => d.ingest.ingestReturningIds(events, 'link', nowMs),
      () => d.clock.now(),
    );
  }

  /**
   * The guard of every federation and admin RPC (docs/architecture.md §6.6): a standby answers
   * UNAVAILABLE naming the leader's address (trailer `x-hub-leader`). Logged once per caller
   * until this hub's role changes (a site redials every few hundred ms).
   */
  requireLeader(who: string): void {
    const l = this.d.leadership;
    if (!l || l.leading()) return;
    const leader = l.leader();
    if (!this.refusedCallers.has(who)) {
      this.refusedCallers.add(who);
      this.d.log.info('refused: this hub is a standby', {
        who,
        leader: leader ? `${leader.hubId}@${leader.address}` : null,
      });
    }
    throw notLeaderError(this.d.hubId, leader ? { hubId: leader.hubId, address: leader.address } : null);
  }

  /** The role changed: callers refused before are logged again on their next refusal. */
  roleChanged(): void {
    this.refusedCallers.clear();
  }

  async load(): Promise<void> {
    this.current = await this.d.topology.current();
    this.drained = await this.d.siteAdmin.drainedSites();
  }

  get currentVersion(): number {
    return this.current?.version ?? 0;
  }

  site(siteId: string): Site | undefined {
    return this.current?.topology.sites.find((s) => s.id === siteId);
  }

  topologyMessage(t: StoredTopology): HubMessage {
    return {
      body: {
        $case: 'topology',
        value: {
          version: t.version,
          topologyJson: Buffer.from(JSON.stringify(t.topology), 'utf8'),
          appliedAtMs: t.appliedAtMs,
          appliedBy: t.appliedBy,
        },
      },
    };
  }

  /** A new version is current: cache it and push it to every connected site. */
  adopt(t: StoredTopology): string[] {
    this.current = t;
    const msg = this.topologyMessage(t);
    const pushed = this.d.registry.connected().filter((id) => this.d.registry.send(id, msg));
    // After the topology: a site adopts the version that names the entries it is told of.
    // Not awaited: the set is pushed at once; closing what the version dropped logs its own failures.
    void this.cover?.topologyChanged(t.version);
    return pushed;
  }

  setDrained(siteId: string, drained: boolean, reason: string): boolean {
    if (drained) this.drained.add(siteId);
    else this.drained.delete(siteId);
    const told = this.d.registry.send(siteId, { body: { $case: 'drain', value: { drained, reason } } });
    this.cover?.sitesChanged(); // cover by a drained site is not pushed (hub-cover.ts)
    return told;
  }

  /** Start (or restart after hello) a site's feed from the cursor the site holds. */
  startFeed(siteId: string, fromCursor: number): void {
    this.feedSent.set(siteId, fromCursor);
    this.pumpFeed(siteId);
  }

  stopFeed(siteId: string): void {
    this.feedSent.delete(siteId);
  }

  /** Push whatever the site has not been sent yet. Coalesces: one pump per site at a time. */
  pumpFeed(siteId: string): void {
    if (!this.feedSent.has(siteId)) return;
    if (this.feedPumps.has(siteId)) {
      this.feedAgain.add(siteId);
      return;
    }
    const run = (async () => {
      do {
        this.feedAgain.delete(siteId);
        await this.pumpOnce(siteId);
      } while (this.feedAgain.has(siteId) && this.feedSent.has(siteId));
    })()
      .catch((e: unknown) => this.d.log.warn('customer feed push failed', { siteId, err: e }))
      .finally(() => this.feedPumps.delete(siteId));
    this.feedPumps.set(siteId, run);
  }

  private async pumpOnce(siteId: string): Promise<void> {
    const limit = this.d.feedBatch ?? 500;
    for (;;) {
      const after = this.feedSent.get(siteId);
      if (after === undefined) return;
      const { changes } = await this.d.directory.changesFor(siteId, after, limit);
      for (const c of changes) {
        const ok = this.d.registry.send(siteId, {
          body: {
            $case: 'customerChanged',
            value: { cursor: c.cursor, profile: customerToProto(c.profile) },
          },
        });
        if (!ok) {
          this.feedSent.delete(siteId); // gone; its next hello restarts the feed from its cursor
          return;
        }
        this.feedSent.set(siteId, c.cursor);
      }
      if (changes.length < limit) return;
    }
  }

  /** After a directory write: wake the feed of every connected site that should hear of it. */
  async notifyCustomerChanged(customerId: string): Promise<void> {
    for (const siteId of await this.d.directory.interestedSites(customerId)) this.pumpFeed(siteId);
  }

  /** Wait for running feed pumps (tests, shutdown). */
  async feedIdle(): Promise<void> {
    while (this.feedPumps.size > 0) await Promise.all([...this.feedPumps.values()]);
  }
}
