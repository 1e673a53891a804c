/**
 * The hub's side of overflow and cover, the adapter (docs/architecture.md §5.8, §5.9): takes
 * each overflow envelope a site sent on its link, lets the relay core (relay-core.ts) say what
 * to do, and does it: routes a request with the routing core on the live views of the sites,
 * forwards it to the chosen target's link or answers the origin with a by-hub refuse, relays
 * the rest of the protocol by site, and logs every refusal once (`rpc refused`, who and why).
 *
 * The live view of a site comes from the registry (link state, the capabilities of its current
 * link, its last snapshot and the hub's time of receipt) and HubState (drained). A site that
 * did not announce `overflow` is never a target (the routing core skips it) and is never sent
 * an envelope: a contract-1 site would skip it unread.
 *
 * Every decision is logged at once (`overflow routed` / `overflow not routed`) and recorded in
 * `overflow_decisions` by the DecisionRecorder, off the message path. Which cover entries are
 * active is a dependency (the hub's cover schedule decides them; by default the topology's
 * weekly windows, with no on-demand entry started).
 *
 * Runs when the envelope arrives, synchronously, ahead of the link's event batches still being
 * stored (federation-service.ts): a request is decided and forwarded before the next message of
 * that link is read, so the origin's cancel can never overtake its request, and no request
 * waits on the hub's database. The hub does not judge a request's age: it cannot read the
 * site's clock, so arrival order is what it goes by.
 */
import type { OverflowEnvelope } from '../../proto/gen/federation.js';
import type { Clock } from '../../shared/clock.js';
import { isDomainError } from '../../shared/errors.js';
import type { RefusalLog } from '../../shared/grpc/refusal-log.js';
import type { Logger } from '../../shared/log.js';
import type { Topology } from '../../shared/topology/schema.js';
import type { SiteRegistry } from '../federation/registry.js';
import { routeCover } from '../routing/cover.js';
import { activeCoverEntries } from '../routing/cover-windows.js';
import type { RoutingDecision } from '../routing/decision.js';
import { routeOverflow } from '../routing/overflow.js';
import { DEFAULT_MAX_SNAPSHOT_AGE_MS, type SiteLiveView } from '../routing/site-view.js';
import type { DecisionRecorder } from './decision-recorder.js';
import { decidedOutcome, decisionLogFields, decisionRow } from './decision-record.js';
import { hubRefuse, judgeEnvelope, RequestMemory, type RouteRequest } from './relay-core.js';

const METHOD = 'Federation.Link/overflow';

export interface OverflowRelayDeps {
  registry: SiteRegistry;
  /** The compiled topology the hub runs now (undefined before any version is applied). */
  topology: () => Topology | undefined;
  drained: () => ReadonlySet<string>;
  clock: Clock;
  log: Logger;
  refusals: RefusalLog;
  /** Where decisions are recorded; null = logged only (a hub without a database in tests). */
  recorder: DecisionRecorder | null;
  /** Default DEFAULT_MAX_SNAPSHOT_AGE_MS (hub config routing.maxSnapshotAgeMs). */
  maxSnapshotAgeMs?: number;
  /** The cover entry ids active at `nowMs`; default: the topology's weekly windows. */
  activeCoverEntryIds?: (nowMs: number) => readonly string[];
  memory?: RequestMemory;
}

/** The topology's weekly cover windows, no on-demand entry started. */
export function weeklyCoverEntryIds(topology: () => Topology | undefined): (nowMs: number) => string[] {
  return (nowMs) => {
    const t = topology();
    return t ? activeCoverEntries(t, new Map(), nowMs).map((a) => a.entryId) : [];
  };
}

export class OverflowRelay {
  readonly memory: RequestMemory;
  private readonly activeCoverEntryIds: (nowMs: number) => readonly string[];

  constructor(private readonly d: OverflowRelayDeps) {
    this.memory = d.memory ?? new RequestMemory();
    this.activeCoverEntryIds = d.activeCoverEntryIds ?? weeklyCoverEntryIds(d.topology);
  }

  /** Whether `siteId` is connected and speaks the protocol. */
  canReceive(siteId: string): boolean {
    const e = this.d.registry.get(siteId);
    return !!e && e.stream !== null && e.capabilities.includes('overflow');
  }

  /** Send an envelope to a site's live link; false when it has none or does not speak overflow. */
  send(siteId: string, env: OverflowEnvelope): boolean {
    if (!this.canReceive(siteId)) return false;
    return this.d.registry.send(siteId, { body: { $case: 'overflow', value: env } });
  }

  /** The live view of every site the registry knows. */
  views(): Map<string, SiteLiveView> {
    const drained = this.d.drained();
    const m = new Map<string, SiteLiveView>();
    for (const e of this.d.registry.all()) {
      m.set(e.siteId, {
        link: e.link.state,
        drained: drained.has(e.siteId),
        overflow: e.capabilities.includes('overflow'),
        snapshot:
          e.snapshot && e.snapshotReceivedAtMs !== null
            ? { atMs: e.snapshot.atMs, receivedAtMs: e.snapshotReceivedAtMs, queues: e.snapshot.queues }
            : null,
      });
    }
    return m;
  }

  /**
   * A refusal decided outside the core (the sender lacks the capability), logged the same way.
   */
  refused(from: string, peer: string, kind: string, field: string, reason: string): void {
    this.d.refusals.refused({ method: METHOD, who: `site ${from}`, peer, kind, reason, field });
  }

  /** An envelope from site `from` (its certificate), whose address is `peer`. */
  receive(from: string, env: OverflowEnvelope, peer: string): void {
    const nowMs = this.d.clock.now();
    const v = judgeEnvelope(this.memory, from, env, nowMs);
    const what = { requestId: env.requestId, message: env.body?.$case ?? null, from };
    switch (v.kind) {
      case 'route':
        this.route(from, peer, v.requestId, v.route, v.envelope, nowMs);
        return;
      case 'relay':
        if (!this.send(v.to, v.envelope)) {
          // The sender's own timers cover a lost message (the origin resends its commit).
          this.d.log.info('overflow message not relayed: no live link to its site', { ...what, to: v.to });
        }
        return;
      case 'answer':
        this.send(v.to, v.envelope);
        return;
      case 'drop':
        this.d.log.info('overflow message dropped', { ...what, why: v.why });
        return;
      case 'refuse':
        this.refused(from, peer, v.error.kind, v.error.field, v.error.reason);
        if (v.answer) this.send(from, v.answer);
        return;
    }
  }

  private route(
    from: string,
    peer: string,
    requestId: string,
    r: RouteRequest,
    envelope: OverflowEnvelope,
    nowMs: number,
  ): void {
    const rule = r.kind === 'overflow' ? r.request.policyId : r.request.coverEntryId;
    const remember = (targetSiteId: string | null, refusal: string | null) =>
      this.memory.remember(requestId, {
        originSiteId: from,
        targetSiteId,
        refusal,
        rule: { kind: r.kind, id: rule },
        atMs: nowMs,
      });
    const topology = this.d.topology();
    let d: RoutingDecision;
    try {
      if (!topology) throw new Error('no topology version is applied');
      const common = {
        topology,
        sites: this.views(),
        nowMs,
        options: { maxSnapshotAgeMs: this.d.maxSnapshotAgeMs ?? DEFAULT_MAX_SNAPSHOT_AGE_MS },
      };
      d =
        r.kind === 'overflow'
          ? routeOverflow({ ...common, request: r.request })
          : routeCover({
              ...common,
              request: r.request,
              started: new Map(),
              activeEntryIds: this.activeCoverEntryIds(nowMs),
            });
    } catch (e) {
      if (!isDomainError(e, 'invalid-argument')) {
        // Not the request's fault: the origin goes home and may ask again; nothing is remembered.
        this.d.log.error('overflow request not routed: routing failed', { requestId, from, err: e });
        this.send(from, hubRefuse(requestId, 'no-eligible-site'));
        return;
      }
      const reason = `invalid-argument: ${e.message}`;
      this.refused(
        from,
        peer,
        'invalid-argument',
        e.field ?? 'overflow.request',
        `request ${requestId}: ${e.message}`,
      );
      remember(null, reason);
      this.send(from, hubRefuse(requestId, reason));
      return;
    }
    const outcome = decidedOutcome(d);
    if (outcome.targetSiteId !== null) {
      const to = outcome.targetSiteId;
      if (!this.send(to, { ...envelope, toSiteId: to })) {
        outcome.targetSiteId = null;
        outcome.reason = 'target-unreachable';
        outcome.why = `${to} was chosen but its link took nothing`;
      }
    }
    remember(outcome.targetSiteId, outcome.reason);
    if (outcome.targetSiteId === null)
      this.send(from, hubRefuse(requestId, outcome.reason ?? 'no-eligible-site'));
    const row = decisionRow(requestId, r.request, d, outcome);
    this.d.log.info(
      outcome.targetSiteId === null ? 'overflow not routed' : 'overflow routed',
      decisionLogFields(row),
    );
    this.d.recorder?.add(row);
  }
}
