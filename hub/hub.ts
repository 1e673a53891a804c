/**
 * The provincial hub, composed: its Postgres stores, the live site registry, the federation
 * service for sites and the admin service for `fedctl`, both on one mTLS gRPC port, and
 * (production mode) the Kafka consumer that ingests site events. `main.ts` and the tests
 * build the pool and the config and hand them over; this class only starts and stops things
 * in a written order.
 *
 * start(): migrate the hub schema -> load the current topology and drained sites -> apply
 *          the bootstrap topology file if no version is stored yet -> start the Kafka
 *          consumer -> serve gRPC and the province board page -> start the link clock, the
 *          hourly lapse of sites' interest in customers they no longer read, and the
 *          directory flag worker (card losses -> profiles).
 * stop():  stop the link clock, the lapse timer and the flag worker (its run finishes) ->
 *          end every site stream (sites keep working on their own and reconnect later) and
 *          stop serving -> stop the Kafka consumer (committed offsets only cover ingested
 *          events) -> wait for feed pushes. The owner closes the pool.
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
import { migrateHubStore } from './store/migrate.js';
import { PgSiteAdminStore, PgTopologyStore } from './store/topology-store.js';
import { changeLines } from '../shared/topology/diff.js';
import { loadTopology } from '../shared/topology/validate.js';

/** How often the hub lets lapsed interest go (an hour is fine grain for a TTL of days). */
const LAPSE_EVERY_MS = 3_600_000;
/** How often the hub applies queued directory flags (a lost card reaches every site in ~1 s). */
const FLAGS_EVERY_MS = 1_000;

export interface HubOptions {
  config: HubConfig;
  pool: pg.Pool;
  clock: Clock;
  log: Logger;
}

export class Hub {
  readonly state: HubState;
  readonly registry: SiteRegistry;
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

  constructor(private readonly o: HubOptions) {
    const { config, pool, clock, log } = o;
    this.registry = new SiteRegistry(linkTimes(config.heartbeatIntervalMs, config));
    this.state = new HubState({
      hubId: config.hubId,
      topology: new PgTopologyStore(pool),
      siteAdmin: new PgSiteAdminStore(pool),
      directory: new PgDirectoryStore(pool),
      ingest: new PgIngestStore(pool),
      registry: this.registry,
      clock,
      log: log.child({ part: 'federation' }),
      heartbeatIntervalMs: config.heartbeatIntervalMs,
    });
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

  async start(): Promise<number> {
    if (this.phase !== 'new') return this.port ?? 0;
    this.phase = 'starting';
    const { config, pool, clock, log } = this.o;
    await migrateHubStore(pool);
    await this.state.load();
    if (!this.state.current && config.topologyPath) await this.bootstrap(config.topologyPath);
    if (config.kafka) {
      this.kafka = new KafkaIngestConsumer({
        brokers: config.kafka.brokers,
        topic: config.kafka.topic,
        groupId: config.kafka.groupId,
        store: this.state.d.ingest,
        log: log.child({ part: 'kafka-ingest' }),
      });
      await this.kafka.start();
    }
    this.port = await this.grpc.start();
    this.webPort = await this.web?.start();
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
        for (const siteId of this.registry.tick(clock.now())) log.warn('site link down', { siteId });
      });
    }, every);
    this.tick.unref();
    this.lapseTimer = setInterval(() => void this.lapseInterest(), LAPSE_EVERY_MS);
    this.lapseTimer.unref();
    // Card losses ingested while the hub was down (or before a crash) are applied now.
    void this.applyFlags();
    this.flagTimer = setInterval(() => void this.applyFlags(), FLAGS_EVERY_MS);
    this.flagTimer.unref();
    this.phase = 'running';
    log.info('hub started', {
      hubId: config.hubId,
      port: this.port,
      board: config.web ? `http://${config.web.host}:${this.webPort}/` : null,
      topologyVersion: this.state.currentVersion,
      kafka: config.kafka?.brokers ?? null,
    });
    return this.port;
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
        const changes = await this.state.d.directory.applyFlagRequests(100, this.o.clock.now());
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
    if (this.tick) clearInterval(this.tick);
    if (this.lapseTimer) clearInterval(this.lapseTimer);
    if (this.flagTimer) clearInterval(this.flagTimer);
    await this.flagRun;
    this.registry.closeAll('hub stopping; reconnect later');
    await this.grpc.stop();
    await this.web?.stop();
    await this.kafka?.stop();
    await this.state.feedIdle();
    this.phase = 'stopped';
    this.o.log.info('hub stopped', { hubId: this.o.config.hubId });
  }
}
