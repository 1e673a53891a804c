/**
 * The provincial hub, composed: its Postgres stores, the live site registry, the federation
 * service for sites and the admin service for `fedctl`, both on one mTLS gRPC port, the
 * leader lease, and (production mode) the Kafka consumer that ingests site events. `main.ts`
 * and the tests build the pool and the config and hand them over; this class only starts and
 * stops things in a written order.
 *
 * Two hub processes may share one database (docs/architecture.md §6.6): the one holding the
 * lease leads, the other is a standby that serves gRPC and the board but answers every RPC
 * "not leader" with the leader's address. Everything that writes as the hub runs only while
 * leading, and its writes are fenced by the lease's token (lease/fence.ts).
 *
 * start(): migrate the hub schema -> serve gRPC and the province board page (a standby's
 *          answers start here) -> run the lease; resolves once the first attempt is answered
 *          and, if this hub leads, its term has started (lead(), below).
 * lead():  load the current topology and drained sites -> apply the bootstrap topology file if
 *          no version is stored yet -> load the admins' cover activations and compute the
 *          active cover (hub/cover/) -> start the link clock, the hourly lapse of sites' interest
 *          in customers they no longer read, and the directory flag worker (card losses ->
 *          profiles) -> accept sites and admins -> start the Kafka consumer (no broker: each
 *          second while the term lasts, each failed try logged; the term leads meanwhile).
 * step-down (lease lost, or stop): refuse RPCs and fence writes AT ONCE -> stop the timers
 *          (the cover boundary's too) ->
 *          end every site stream (sites go to the leader) -> wait for the flag worker -> stop
 *          the Kafka consumer -> wait for feed pushes and routing decisions being recorded.
 * stop():  step down and release the lease (the standby takes over without waiting for it to
 *          lapse) -> stop serving. The owner closes the pools.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { PageServer } from '../shared/web/page-server.js';
import { siteStatuses } from './admin/admin-mapping.js';
import { provinceStats } from './admin/province-view.js';
import type pg from 'pg';
import type { Clock } from '../shared/clock.js';
import { GrpcServer } from '../shared/grpc/server.js';
import { loadTlsMaterial, mtlsServerCredentials } from '../shared/grpc/tls.js';
import type { Logger } from '../shared/log.js';
import { createAdminService } from './admin/admin-service.js';
import { DEFAULT_INTEREST_TTL_MS, type HubConfig } from './config.js';
import { PgDirectoryStore } from './directory/pg-directory.js';
import { createFederationService } from './federation/federation-service.js';
import { HubState } from './federation/hub-state.js';
import { linkTimes } from './federation/link-state.js';
import { SiteRegistry } from './federation/registry.js';
import { KafkaIngestConsumer } from './ingest/kafka-ingest.js';
import { PgIngestStore } from './ingest/pg-ingest.js';
import { PgOverflowDecisionStore } from './overflow/pg-decision-store.js';
import { migrateHubStore } from './store/migrate.js';
import type { Fence } from './lease/fence.js';
import {
  initialLease,
  leaseStep,
  leaseTimes,
  type LeaderInfo,
  type LeaseCommand,
  type LeaseEvent,
  type LeaseMachine,
  type LeaseTimes,
} from './lease/lease.js';
import { PgLease } from './lease/pg-lease.js';
import { errorMessage } from '../shared/errors.js';
import { PgSiteAdminStore, PgTopologyStore } from './store/topology-store.js';
import { HubCover } from './cover/hub-cover.js';
import { PgCoverStore } from './cover/pg-cover-store.js';
import { RealScheduler, type Scheduler } from '../shared/scheduler.js';
import { changeLines } from '../shared/topology/diff.js';
import { loadTopology } from '../shared/topology/validate.js';

/** How often the hub lets lapsed interest go (an hour is fine grain for a TTL of days). */
const LAPSE_EVERY_MS = 3_600_000;
/** How often the hub applies queued directory flags (a lost card reaches every site in ~1 s). */
const FLAGS_EVERY_MS = 1_000;

/** How often the lease machine is ticked: a tenth of a renewal on the defaults. */
const LEASE_TICK_MS = 40;
/** The Kafka consumer group's session timeout (see lead()). */
const KAFKA_SESSION_TIMEOUT_MS = 10_000;
/** A term that failed to start (database down) is tried again this often while it lasts. */
const LEAD_RETRY_MS = 1_000;

export interface HubOptions {
  config: HubConfig;
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
  /**
   * The lease's own pool (one or two connections), so a renewal never queues behind a burst
   * of ingest on `pool` and a busy leader is not deposed for it. Default: `pool`.
   */
  leasePool?: pg.Pool;
  /**
   * Refused RPCs from one peer past the first are counted and summed up once per this window
   * (shared/grpc/refusal-log.ts). Default 10 s; tests shorten it to read the summaries soon.
   */
  refusalWindowMs?: number;
  /**
   * The clock and timers cover windows and `until`s are judged on (hub/cover/). Default: a
   * scheduler on `clock`. Tests pass a VirtualScheduler to move the hub across a window edge
   * without moving the link clock.
   */
  coverScheduler?: Scheduler;
}

export type HubRole = 'leader' | 'standby';

export class Hub {
  readonly state: HubState;
  readonly registry: SiteRegistry;
  /** The active cover entries (hub/cover/); `activeCoverEntryIds` is what routing asks. */
  readonly cover: HubCover;
  private readonly grpc: GrpcServer;
  private readonly web: PageServer | undefined;
  webPort: number | undefined;
  private kafka: KafkaIngestConsumer | undefined;
  private tick: NodeJS.Timeout | undefined;
  private lapseTimer: NodeJS.Timeout | undefined;
  private flagTimer: NodeJS.Timeout | undefined;
  private flagRun: Promise<number> | undefined;
  private phase: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  port: number | undefined;
  /** Where sites and admins reach this hub (config advertiseAddress, or the listen address). */
  advertiseAddress: string | undefined;
  private lease: LeaseMachine;
  private readonly leaseTimes: LeaseTimes;
  private pgLease: PgLease | undefined;
  private leaseTimer: NodeJS.Timeout | undefined;
  /** Bumped per attempt: an answer to an attempt given up on (timed out) is ignored. */
  private attemptSeq = 0;
  private firstAnswer: (() => void) | undefined;
  /** Serving as leader: RPCs accepted, leader-only work running. */
  private leading = false;
  /** The fencing token of the current term (null = not leading: every write is refused). */
  private token: number | null = null;
  /**
   * Counts terms started, so a retry of lead() knows whether its term still lasts: the token
   * alone cannot say, since a lapsed lease retaken (`retoken`) changes it in the same term.
   */
  private termSeq = 0;
  /** Role changes run one after the other: a term's start never overlaps the last one's end. */
  private roleChain: Promise<void> = Promise.resolve();
  private releasing: Promise<void> = Promise.resolve();

  constructor(private readonly o: HubOptions) {
    const { config, pool, clock, log } = o;
    this.leaseTimes = leaseTimes(config.leaseTtlMs);
    this.lease = initialLease(clock.now());
    // Writes carry this hub's term; a hub that does not lead presents a token no lease has.
    const fence: Fence = () => ({ hubId: config.hubId, token: this.token ?? -1 });
    this.registry = new SiteRegistry(linkTimes(config.heartbeatIntervalMs, config));
    const coverScheduler = o.coverScheduler ?? new RealScheduler({ realNow: () => clock.now() });
    this.state = new HubState({
      hubId: config.hubId,
      topology: new PgTopologyStore(pool, fence),
      siteAdmin: new PgSiteAdminStore(pool, fence),
      directory: new PgDirectoryStore(pool, fence),
      ingest: new PgIngestStore(pool, fence),
      decisions: new PgOverflowDecisionStore(pool, fence),
      ...(config.maxSnapshotAgeMs === undefined ? {} : { maxSnapshotAgeMs: config.maxSnapshotAgeMs }),
      // Routing asks the cover component, on the cover's own clock: the same answer the sites
      // were pushed (a test moves that clock across a window edge).
      activeCoverEntryIds: () => this.cover.activeCoverEntryIds(coverScheduler.now()),
      leadership: {
        leading: () => this.leading,
        // Between a grant and the start of its term this hub refuses without naming itself.
        leader: () => (this.leading || this.lease.leader?.hubId !== config.hubId ? this.lease.leader : null),
      },
      registry: this.registry,
      clock,
      log: log.child({ part: 'federation' }),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
      ...(o.refusalWindowMs === undefined ? {} : { refusalWindowMs: o.refusalWindowMs }),
    });
    this.cover = new HubCover({
      store: new PgCoverStore(pool, fence),
      scheduler: coverScheduler,
      log: log.child({ part: 'cover' }),
      topology: () => this.state.current,
      sites: this.registry,
      // Pushed as active only while the hub could route to the covering site (hub-cover.ts).
      routable: (siteId) => {
        const e = this.registry.get(siteId);
        return (
          !!e && e.stream !== null && e.capabilities.includes('overflow') && !this.state.drained.has(siteId)
        );
      },
    });
    this.state.cover = this.cover;
    this.grpc = new GrpcServer({
      host: config.grpc.host,
      port: config.grpc.port,
      services: [createFederationService(this.state), createAdminService(this.state)],
      credentials: mtlsServerCredentials(
        loadTlsMaterial({
          caPath: config.tls.caPath,
          certPath: config.tls.certPath,
          keyPath: config.tls.keyPath,
        }),
      ),
      log: log.child({ part: 'grpc' }),
    });
    this.web =
      config.web &&
      new PageServer({
        ...config.web,
        pagePath: fileURLToPath(new URL('./web/province-board.html', import.meta.url)),
        snapshot: () => this.boardSnapshot(),
      });
  }

  /** What the province board shows: the sites' links and versions, and the statistics. */
  async boardSnapshot(): Promise<unknown> {
    const t = this.state.current;
    return {
      hubId: this.o.config.hubId,
      atMs: this.o.clock.now(),
      leadership: { role: this.role, address: this.advertiseAddress ?? null, leader: this.leader },
      topology: t
        ? { version: t.version, appliedAtMs: t.appliedAtMs, appliedBy: t.appliedBy, comment: t.comment }
        : null,
      sites: siteStatuses(this.state, await this.state.d.ingest.countsBySite()),
      stats: await provinceStats(this.state, 3_600_000, 20_000),
    };
  }

  get refusedHandshakes(): number {
    return this.grpc.refusedHandshakes;
  }

  /** Whether this hub leads now. */
  get role(): HubRole {
    return this.leading ? 'leader' : 'standby';
  }

  /** The leader as this hub last saw it (itself when it leads; null = none known). */
  get leader(): LeaderInfo | null {
    return this.lease.leader;
  }

  /** Times this hub started leading (status, tests). */
  get terms(): number {
    return this.lease.terms;
  }

  async start(): Promise<number> {
    if (this.phase !== 'new') return this.port ?? 0;
    this.phase = 'starting';
    const { config, pool, log } = this.o;
    await migrateHubStore(pool);
    this.port = await this.grpc.start();
    this.webPort = await this.web?.start();
    const host = /^(0\.0\.0\.0|::|\[::\])$/.test(config.grpc.host) ? '127.0.0.1' : config.grpc.host;
    this.advertiseAddress = config.advertiseAddress ?? `${host}:${this.port}`;
    this.pgLease = new PgLease(this.o.leasePool ?? pool, config.hubId, this.advertiseAddress);
    const answered = new Promise<void>((r) => (this.firstAnswer = r));
    // After the socket reads (setImmediate), as the link clock: after a stall of this process a
    // renewal answer already waiting is read before the grant is judged run out.
    this.leaseTimer = setInterval(
      () => setImmediate(() => this.phase !== 'stopped' && this.fireLease({ kind: 'tick' })),
      LEASE_TICK_MS,
    );
    this.fireLease({ kind: 'tick' });
    await answered;
    await this.roleChain;
    this.phase = 'running';
    log.info('hub started', {
      hubId: config.hubId,
      port: this.port,
      advertiseAddress: this.advertiseAddress,
      role: this.role,
      leader: this.lease.leader,
      board: config.web ? `http://${config.web.host}:${this.webPort}/` : null,
      topologyVersion: this.state.currentVersion,
      kafka: config.kafka?.brokers ?? null,
    });
    return this.port;
  }

  // ---- the lease (hub/lease/lease.ts decides; this carries out) -----------------------------

  private fireLease(e: LeaseEvent): void {
    const step = leaseStep(this.lease, e, this.o.clock.now(), this.leaseTimes);
    this.lease = step.machine;
    for (const c of step.commands) this.runLease(c);
  }

  private runLease(c: LeaseCommand): void {
    switch (c.kind) {
      case 'attempt':
        this.attempt();
        return;
      case 'lead': {
        this.token = c.token;
        const term = ++this.termSeq;
        this.roleChain = this.roleChain.then(() => this.lead(term));
        return;
      }
      case 'step-down':
        this.stepDown(c.reason);
        return;
      case 'retoken':
        // An uncontended lease lapsed (this hub stalled) and was retaken with nobody between:
        // the same term goes on, its writes under the new token (hub/lease/lease.ts).
        this.token = c.token;
        this.o.log.info('lease lapsed and retaken with no other hub waiting; still leading', {
          fencingToken: c.token,
        });
        return;
      case 'release': {
        const lease = this.pgLease;
        this.releasing = this.roleChain
          .then(() => lease?.release(c.token))
          .catch((e: unknown) => this.o.log.warn('lease not released; it lapses on its own', { err: e }));
        return;
      }
    }
  }

  private attempt(): void {
    const lease = this.pgLease;
    if (!lease) return;
    const seq = ++this.attemptSeq;
    const sentAtMs = this.o.clock.now();
    const ttl = this.leaseTimes.ttlMs;
    const answer = (e: LeaseEvent): void => {
      clearTimeout(timer);
      if (seq !== this.attemptSeq) return;
      this.fireLease(e);
      const first = this.firstAnswer;
      this.firstAnswer = undefined;
      first?.();
    };
    // A database that does not answer is no answer: a leader steps down when its grant runs
    // out (the machine's tick), and the next attempt goes out.
    const timer = setTimeout(() => {
      answer({ kind: 'failed', reason: `the lease attempt got no answer within ${ttl} ms` });
      this.attemptSeq++;
    }, ttl);
    lease.attempt(ttl).then(
      (r) =>
        answer(
          r.held
            ? { kind: 'held', sentAtMs, self: r.self, contended: r.contended }
            : { kind: 'taken', leader: r.leader },
        ),
      (e: unknown) => {
        if (seq === this.attemptSeq && this.lease.lastError === null) {
          this.o.log.warn('lease attempt failed; trying again', { err: e });
        }
        answer({ kind: 'failed', reason: errorMessage(e) });
      },
    );
  }

  /**
   * A term starts: load what the hub caches, start the leader's work, then accept callers, then
   * the Kafka consumer. What failed (database or broker down) is tried again every
   * LEAD_RETRY_MS while the term lasts, from where it failed: a term that already leads only
   * retries its consumer, which is never left behind as "started" when its start failed.
   */
  private async lead(term: number): Promise<void> {
    const { config, log } = this.o;
    const lasts = (): boolean => this.token !== null && this.termSeq === term;
    if (!lasts()) return; // stepped down before the term could start
    try {
      if (!this.leading) {
        await this.state.load();
        if (!this.state.current && config.topologyPath) await this.bootstrap(config.topologyPath);
        await this.cover.start();
        if (!lasts()) {
          this.cover.stop();
          return;
        }
        this.startLeaderTimers();
        this.leading = true;
        this.state.roleChanged();
        log.info('leading', {
          hubId: config.hubId,
          fencingToken: this.token,
          advertiseAddress: this.advertiseAddress,
          topologyVersion: this.state.currentVersion,
        });
      }
      if (config.kafka && !this.kafka) await this.startKafka(config.kafka);
    } catch (e) {
      if (this.leading) {
        log.error('kafka ingest did not start; trying again while the term lasts', {
          fencingToken: this.token,
          brokers: config.kafka?.brokers,
          inMs: LEAD_RETRY_MS,
          err: e,
        });
      } else {
        log.error('term did not start; trying again while the lease lasts', {
          fencingToken: this.token,
          err: e,
        });
      }
      setTimeout(() => {
        if (lasts()) this.roleChain = this.roleChain.then(() => this.lead(term));
      }, LEAD_RETRY_MS).unref();
    }
  }

  /**
   * Start the Kafka consumer. It is this.kafka while it starts, so a step-down meanwhile stops
   * it (its stop waits for the start); a start that fails leaves this.kafka empty, so the next
   * try makes a new one (node-rdkafka has already disconnected the failed one).
   */
  private async startKafka(kafkaConfig: NonNullable<HubConfig['kafka']>): Promise<void> {
    const kafka = new KafkaIngestConsumer({
      brokers: kafkaConfig.brokers,
      topic: kafkaConfig.topic,
      groupId: kafkaConfig.groupId,
      store: this.state.d.ingest,
      log: this.o.log.child({ part: 'kafka-ingest' }),
      // A crashed leader's partitions are handed to the next leader's consumer only when its
      // group session times out: 10 s rather than librdkafka's 45 s keeps a failover's Kafka
      // backlog short (the events wait in Kafka meanwhile; nothing is lost).
      sessionTimeoutMs: KAFKA_SESSION_TIMEOUT_MS,
    });
    this.kafka = kafka;
    try {
      await kafka.start();
    } catch (e) {
      if (this.kafka === kafka) this.kafka = undefined;
      throw e;
    }
    this.o.log.info('kafka ingest started', { brokers: kafkaConfig.brokers, topic: kafkaConfig.topic });
  }

  private startLeaderTimers(): void {
    if (this.tick) return;
    const { config, clock, log } = this.o;
    // The link clock ticks often enough that a silent site is noticed within a tenth of the
    // suspect threshold of it (every 40 ms on the defaults), and never faster than 20 ms.
    const every = Math.max(
      20,
      Math.floor(Math.min(config.heartbeatIntervalMs / 2, this.registry.times.suspectAfterMs / 10)),
    );
    // The silence check runs after the messages already waiting in the sockets are read: after a
    // stall of this process (GC, a burst of work), Node runs expired timers before it reads
    // sockets, and a site that kept talking would be called silent.
    this.tick = setInterval(() => {
      setImmediate(() => {
        const down = this.registry.tick(clock.now());
        for (const siteId of down) log.warn('site link down', { siteId });
        if (down.length > 0) this.cover.sitesChanged();
      });
    }, every);
    this.tick.unref();
    this.lapseTimer = setInterval(() => void this.lapseInterest(), LAPSE_EVERY_MS);
    this.lapseTimer.unref();
    // Card losses ingested while no hub led (or before a crash) are applied now.
    void this.applyFlags();
    this.flagTimer = setInterval(() => void this.applyFlags(), FLAGS_EVERY_MS);
    this.flagTimer.unref();
  }

  /**
   * The term ends. What must not outlive it stops synchronously, before any other callback
   * runs: RPCs are refused and writes fenced (token gone), timers stop, site streams end. The
   * flag worker's run and the Kafka consumer are then waited for, in the role chain, before
   * any new term may start.
   */
  private stepDown(reason: string): void {
    const { config, log } = this.o;
    this.leading = false;
    this.token = null;
    this.state.roleChanged();
    if (this.tick) clearInterval(this.tick);
    if (this.lapseTimer) clearInterval(this.lapseTimer);
    if (this.flagTimer) clearInterval(this.flagTimer);
    this.tick = this.lapseTimer = this.flagTimer = undefined;
    this.cover.stop();
    this.registry.closeAll(`hub ${config.hubId} no longer leads (${reason}); reconnect`);
    const kafka = this.kafka;
    this.kafka = undefined;
    this.roleChain = this.roleChain
      .then(async () => {
        await this.flagRun;
        await kafka?.stop();
        await this.state.feedIdle();
        await this.state.decisions?.idle();
      })
      .catch((e: unknown) => log.warn('stepping down was not clean', { err: e }));
    log.warn('stepped down: not leading now', { hubId: config.hubId, reason });
  }

  /**
   * Sites stop receiving changes of other sites' customers they have not read for the
   * interest TTL (config directory.interestTtl). Run every LAPSE_EVERY_MS; never throws.
   */
  async lapseInterest(): Promise<number> {
    const ttl = this.o.config.interestTtlMs ?? DEFAULT_INTEREST_TTL_MS;
    try {
      const n = await this.state.d.directory.lapseInterest(this.o.clock.now() - ttl);
      if (n > 0) this.o.log.info('interest in customers not read recently lapsed', { count: n, ttlMs: ttl });
      return n;
    } catch (e) {
      this.o.log.warn('interest lapse failed; next try later', { err: e });
      return 0;
    }
  }

  /**
   * Card losses reported at any site mark the customer's profile (flags.lostCard): apply the
   * requests the ingest queued, then push the new versions to the sites that hold the
   * customer. One run at a time; never throws (a failed run is retried on the next tick).
   */
  applyFlags(): Promise<number> {
    this.flagRun ??= (async () => {
      try {
        const { changes, refused } = await this.state.d.directory.applyFlagRequests(100, this.o.clock.now());
        for (const r of refused) {
          // Logged once, like a refused RPC, throttled per reporting site (the request came as
          // an event, over the link or Kafka: no address of its own).
          this.state.refusals.refused({
            method: 'card-loss.reported',
            who: `site ${r.siteId}`,
            peer: 'events',
            kind: 'permission-denied',
            reason: `event ${r.eventId}: ${r.reason}`,
            field: 'customerId',
          });
        }
        for (const c of changes) {
          this.o.log.info('customer flagged lost card', {
            customerId: c.profile.customerId,
            version: c.profile.version,
          });
          await this.state.notifyCustomerChanged(c.profile.customerId);
        }
        return changes.length;
      } catch (e) {
        this.o.log.warn('directory flags not applied; next try later', { err: e });
        return 0;
      } finally {
        this.flagRun = undefined;
      }
    })();
    return this.flagRun;
  }

  /** First start: the configured file becomes version 1, audited as applied by the hub. */
  private async bootstrap(path: string): Promise<void> {
    const yaml = readFileSync(path, 'utf8');
    const topology = loadTopology(yaml);
    const changes = changeLines(undefined, topology);
    const stored = await this.state.d.topology.append({
      topology: { ...topology, version: null },
      sourceYaml: yaml,
      appliedBy: `hub:${this.o.config.hubId}`,
      comment: `bootstrap from ${path}`,
      changes,
      rollbackOf: null,
      expectedCurrentVersion: 0,
      nowMs: this.o.clock.now(),
    });
    this.state.adopt(stored);
    this.o.log.info('topology bootstrapped', { version: stored.version, from: path });
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.phase = 'stopping';
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    // An attempt still in flight is answered to the stopped machine: a grant it got is released.
    this.fireLease({ kind: 'stop' });
    await this.roleChain;
    await this.releasing;
    await this.grpc.stop();
    this.state.refusals.stop();
    await this.web?.stop();
    this.phase = 'stopped';
    this.o.log.info('hub stopped', { hubId: this.o.config.hubId });
  }
}
