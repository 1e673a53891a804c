/**
 * One city's contact center, composed: store, jobs, bank host, IVR, ACD, agent desks and the
 * gRPC agent service, wired to a media port. `main.ts` and the demo build its adapters and
 * hand them over; this class only starts and stops them in a written order.
 *
 * start():  migrate the site and ledger schemas -> start jobs (pg-boss) -> recover from a
 *           crash (close calls left in progress, except, with a hub, those whose move to
 *           another site was committed: left open; log agents out, re-arm lost escalations)
 *           -> rebuild the day's tally and the queues' windows from the stored events
 *           -> bring back the open callback requests (their places in the queues)
 *           -> load the roster -> start the agent service -> accept calls.
 *           -> rebuild the overflow reservations and start asking (overflow-wiring.ts, with a
 *           hub) -> open the hub link (when the config has a hub) and the Kafka relay -> resume
 *           the moves left open (the origin resends their commits until the target's word).
 * stop():   refuse new calls -> let live calls finish (up to drainMs) -> stop overflow (no new
 *           request; up to 2 s for the target's word on moves whose commit went) -> release what is
 *           left, recording why (a call whose commit is still unanswered is left open: the next
 *           start settles it with the target's word) -> stop placing callbacks -> stop the ACD timers -> stop the agent service
 *           -> log out the agents still logged in (`site-shutdown`) -> flush the store writes -> stop jobs -> flush the outbox (Kafka relay, or the hub link,
 *           each bounded) and close the link. The owner closes the pool afterwards. An
 *           event not shipped by then stays in the outbox for the next start.
 */
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { SiteConfig } from '../config.js';
import { createAgentService } from '../cti/agent-service.js';
import { makeDeskAuth } from '../cti/desk-auth.js';
import { PinRefusalLog } from './pin-refusal-log.js';
import type { DeskCredentials } from '../cti/desk-credentials.js';
import { PgDeskCredentialStore } from '../store/desk-auth-repo.js';
import { systemClock } from '../../shared/clock.js';
import { DomainError, invalidArgument } from '../../shared/errors.js';
import { isIP } from 'node:net';
import { GrpcServer, serverCredentials } from '../../shared/grpc/server.js';
import type { BankHost } from '../../shared/bank-host/port.js';
import { applyLedgerMigrations } from '../../shared/bank-host/migrate.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import { loadFlow } from '../ivr/load-flow.js';
import {
  JobScheduler,
  PgCustomerDirectory,
  evictServed,
  logoutAgent,
  migrateSiteStore,
  readStatsEvents,
  recordRefusedCalls,
  recoverAfterRestart,
  storeContext,
  upsertAgent,
  type RecoveryReport,
  type StoreContext,
} from '../store/index.js';
import type { MediaPort } from '../telephony/media-port.js';
import { AcdEngine } from './acd-engine.js';
import { CallFlow } from './call-flow.js';
import type { CallbackFlow } from './callback-flow.js';
import { SiteDesk } from './site-desk.js';
import { SitePinUnlock } from './pin-unlock.js';
import { DeskLeases } from './desk-leases.js';
import { emptyTally, rollDay, summarise, type SiteSummary, type SiteTally } from './tally.js';
import { STATS_EVENT_TYPES, rebuildOptions, rebuildSinceMs, rebuildStats } from './stats-rebuild.js';
import { DurableWrites } from './durable-writes.js';
import { RefusalLog } from './refusal-log.js';
import { DEFAULT_STORE_WRITES } from '../config.js';
import { siteKafkaRelay, type SiteKafkaRelay } from './kafka-relay.js';
import { PageServer } from '../../shared/web/page-server.js';
import { topologyMisfits } from '../link/topology-fit.js';
import { GrpcHubLink } from '../link/hub-link.js';
import { FederatedCustomerDirectory } from '../link/federated-directory.js';
import { CacheHomeResolver } from '../link/home-resolver.js';
import { RoutingBankHost } from '../../shared/bank-host/routing.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { createPool } from '../../shared/pg/pool.js';
import { loadTlsMaterial, optionalClientCertServerCredentials } from '../../shared/grpc/tls.js';
import type { ServerCredentials } from '@grpc/grpc-js';
import { DEFAULT_DESK_AUTH } from '../config.js';
import type { QueueStats } from '../acd/index.js';
import { SiteOverflow, type SimCallers } from './overflow-wiring.js';
import type { PhonePresence } from '../telephony/phone-registrar.js';

export interface SiteDeps {
  config: SiteConfig;
  pool: pg.Pool;
  /** The same database as `pool`, for pg-boss's own connections. */
  databaseUrl: string;
  scheduler: Scheduler;
  media: MediaPort;
  bank: BankHost;
  log: Logger;
  /** Run the gRPC agent service (default true). */
  cti?: boolean;
  /**
   * Serve the agent desk in plaintext, for one machine only (`--insecure-loopback`): refused
   * unless `cti.host` is a loopback address; `cti.tls` is then not used. Without it the
   * desk needs `cti.tls` (docs/architecture.md §4.3 "Desk authentication").
   */
  insecureLoopback?: boolean;
  /** Serve the supervisor's wallboard (default true). */
  web?: boolean;
  /** How long stop() lets live calls finish before releasing them. Default 30 s. */
  drainMs?: number;
  /** pg-boss polling; default 2 s. */
  jobPollingSeconds?: number;
  /**
   * How long another site's customer stays in this site's cache after it was last served
   * (site time). Default 7 days. Checked every `evictEveryMs` of real time (default 10 min).
   */
  servedCacheMs?: number;
  evictEveryMs?: number;
  /**
   * The simulated media's callers, when the voice is simulated: a caller moved to another site
   * travels in the overflow request (site-node/sim/sim-hand-over.ts). None with real voice.
   */
  simCallers?: SimCallers;
  /**
   * The agents' phones (site-node/telephony/phone-registrar.ts), with real voice: the desk and
   * the wallboard show whether each agent's phone is registered. None when simulated.
   */
  phones?: PhonePresence;
}

export interface AgentBoardEntry {
  agentId: string;
  name: string;
  state: string;
  reasonCode?: string;
  callId?: string;
  /** With real voice, for an agent with a phone: whether it can be rung. */
  phone?: 'registered' | 'not-registered';
}

export interface SiteSnapshot {
  siteId: string;
  atMs: number;
  liveCalls: number;
  ivrSessions: number;
  /** Store writes waiting or running (the durable writes' buffer). */
  pendingWrites: number;
  /** Writes given up on: a permanent error, or not written by the end of a shutdown. */
  failedWrites: number;
  /**
   * The site's own database as its writes see it: `down` from a write failing for want of it
   * until one lands again; `admission` closed while the buffer is too full to take a call.
   */
  store: { state: 'up' | 'down'; buffered: number; capacity: number; admission: 'open' | 'closed' };
  queues: QueueStats[];
  /** Rostered agents by state. */
  agents: Record<string, number>;
  /** Every rostered agent, for the wallboard. */
  agentBoard: AgentBoardEntry[];
  summary: SiteSummary;
  /** The hub link, when the site is federated. */
  hub?: { state: string; topologyVersion: number; drained: boolean; eventsShipped: number };
}

export class Site {
  readonly tally: SiteTally = emptyTally();
  readonly store: StoreContext;
  readonly jobs: JobScheduler;
  readonly engine: AcdEngine;
  readonly desk: SiteDesk;
  /** The leases of desks that reach the site over the agent service (site-node/cti/lease.ts). */
  readonly leases: DeskLeases;
  private readonly pinRefusals: PinRefusalLog;
  /**
   * Desk passwords (in the site's database) and the desk audit: `setPassword(userId,
   * password, by)` for the bootstrap CLI (site-node/admin/set-password.ts) and tests.
   */
  readonly credentials: DeskCredentials;
  /** The agent desk is plaintext (`--insecure-loopback`), not TLS with `cti.tls`. */
  readonly ctiPlaintext: boolean;
  private readonly flow: CallFlow;
  private readonly writes: DurableWrites;
  private readonly grpc: GrpcServer | undefined;
  private readonly web: PageServer | undefined;
  /** The link to the provincial hub; undefined for a standalone site. */
  readonly hubLink: GrpcHubLink | undefined;
  private readonly kafka: SiteKafkaRelay | undefined;
  /** Overflow and cover (docs/architecture.md §5.9), with a hub link. */
  readonly overflow: SiteOverflow | undefined;
  private readonly remotePools: pg.Pool[] = [];
  private evictTimer: NodeJS.Timeout | undefined;
  private state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  private stopping: Promise<void> | undefined;
  recovery: RecoveryReport | undefined;
  ctiPort: number | undefined;
  webPort: number | undefined;

  constructor(private readonly d: SiteDeps) {
    const { config, scheduler, log } = d;
    this.store = storeContext(d.pool, config.siteId, scheduler, log.child({ part: 'store' }));
    const storeWrites = config.store ?? DEFAULT_STORE_WRITES;
    this.writes = new DurableWrites({
      log: log.child({ part: 'writes' }),
      admission: {
        capacity: storeWrites.bufferCapacity,
        closeWhileDownAt: storeWrites.closeAdmissionWhileDownAt,
      },
      concurrency: storeWrites.writeConcurrency,
    });
    this.jobs = new JobScheduler({
      ctx: this.store,
      url: d.databaseUrl,
      escalation: { reminderIntervalMs: 4 * 3_600_000, maxLevel: 3 },
      pollingIntervalSeconds: d.jobPollingSeconds ?? 2,
      // The call flow exists by the time pg-boss delivers the first job (after start()).
      onCallbackDue: (cb) => this.flow.callbacks.due(cb),
    });
    this.hubLink = this.makeHubLink();
    this.kafka = this.makeKafkaRelay();
    const cache = new PgCustomerDirectory(d.pool, { areaCode: config.areaCode });
    // With a hub, customers of other sites are served through it (roaming, audited); without
    // one the site serves its own cache.
    const directory = this.hubLink
      ? new FederatedCustomerDirectory({
          siteId: config.siteId,
          cache,
          store: this.store,
          link: this.hubLink,
          clock: scheduler,
          log: log.child({ part: 'directory' }),
          areaCode: config.areaCode,
        })
      : cache;
    const bank = this.routedBank();
    const homes = new CacheHomeResolver(d.pool);
    const { flow, warnings } = loadFlow(config);
    for (const w of warnings) log.warn('ivr flow warning', { warning: w });
    this.flow = new CallFlow({
      config,
      flow,
      scheduler,
      media: d.media,
      bank,
      directory,
      store: this.store,
      jobs: this.jobs,
      writes: this.writes,
      refusals: new RefusalLog(this.writes, recordRefusedCalls, this.store),
      tally: this.tally,
      log: log.child({ part: 'calls' }),
    });
    this.engine = new AcdEngine(
      config.acd,
      scheduler,
      (cmd) => this.flow.onAcdCommand(cmd),
      log.child({ part: 'acd' }),
    );
    // One per-agent throttle for the desk's refusals and the unlock's own (wall-clock windows).
    this.pinRefusals = new PinRefusalLog(log.child({ part: 'pin-unlock' }));
    const pins = new SitePinUnlock({
      siteId: config.siteId,
      bank,
      pool: d.pool,
      clock: scheduler,
      log: log.child({ part: 'pin-unlock' }),
      refusals: this.pinRefusals,
      callFacts: (callId) => this.flow.callFacts(callId),
    });
    this.desk = new SiteDesk(
      this.engine,
      config.agents,
      config,
      (callId, code) => this.flow.noteWrapupCode(callId, code),
      pins,
      this.pinRefusals,
    );
    if (d.phones) this.desk.showPhones(d.phones);
    this.leases = new DeskLeases(this.engine, scheduler, config.cti.lease, log.child({ part: 'lease' }));
    this.flow.engine = this.engine;
    this.flow.desk = this.desk;
    this.overflow = this.hubLink
      ? new SiteOverflow({
          siteId: config.siteId,
          scheduler,
          engine: this.engine,
          flow: this.flow,
          link: this.hubLink,
          media: d.media,
          store: this.store,
          writes: this.writes,
          admitWaitMs: storeWrites.recordWaitMs,
          configuredClosedWaits: new Map(config.acd.queues.map((q) => [q.id, q.closedOverflowWaitMs])),
          homeOf: (customerId) => homes.byCustomer(customerId),
          simCallers: d.simCallers,
          log: log.child({ part: 'overflow' }),
        })
      : undefined;
    this.web = this.webServer();
    const auth = makeDeskAuth({
      roster: { agents: config.agents, supervisors: config.supervisors, teams: config.teams },
      store: new PgDeskCredentialStore(d.pool),
      config: config.cti.auth ?? DEFAULT_DESK_AUTH,
      // Sessions and lockouts are real time, even in a sped-up simulation.
      clock: systemClock,
      log: log.child({ part: 'desk-auth' }),
    });
    this.credentials = auth.credentials;
    this.ctiPlaintext = d.insecureLoopback === true;
    if (d.cti !== false) {
      this.grpc = new GrpcServer({
        host: config.cti.host,
        port: config.cti.port,
        credentials: deskServerCredentials(config, d.insecureLoopback === true, log),
        services: [
          createAgentService({
            desk: this.desk,
            auth,
            log: log.child({ part: 'cti' }),
            reasonCodes: config.notReadyReasons,
            wrapupCodes: config.wrapupCodes,
            leases: this.leases,
          }),
        ],
        log: log.child({ part: 'grpc' }),
      });
    }
  }

  /**
   * Roaming: balances and transfers of another site's customer go to the bank host that
   * holds the account (config `bankHosts`); this site's own customers to its own host.
   */
  private routedBank(): BankHost {
    const { config, bank, log } = this.d;
    const hosts = Object.entries(config.bankHosts);
    if (hosts.length === 0) return bank;
    const remotes = new Map<string, BankHost>();
    for (const [siteId, h] of hosts) {
      const pool = createPool(h.databaseUrl, {
        applicationName: `site-${config.siteId}/host-${siteId}`,
        max: 4,
      });
      this.remotePools.push(pool);
      remotes.set(siteId, new PgLedgerBankHost(pool, { clock: this.d.scheduler }));
    }
    return new RoutingBankHost({
      localSiteId: config.siteId,
      local: bank,
      remotes,
      resolveHome: new CacheHomeResolver(this.d.pool),
      log: log.child({ part: 'bank-routing' }),
    });
  }

  private makeHubLink(): GrpcHubLink | undefined {
    const { config, scheduler, log } = this.d;
    const hub = config.hub;
    if (!hub) return undefined;
    return new GrpcHubLink({
      siteId: config.siteId,
      addresses: hub.addresses,
      tls: loadTlsMaterial(hub.tls),
      ...(hub.hubId === undefined ? {} : { hubId: hub.hubId }),
      store: this.store,
      // The link speaks the wall clock: heartbeats and silences are real time even when the
      // simulation runs sped up.
      clock: { now: () => Date.now() },
      log: log.child({ part: 'hub-link' }),
      snapshot: () => {
        const s = this.snapshot();
        return { ...s, atMs: scheduler.now() };
      },
      snapshotIntervalMs: hub.snapshotIntervalMs,
      ...(hub.suspectAfterMs === undefined ? {} : { suspectAfterMs: hub.suspectAfterMs }),
      ...(hub.downAfterMs === undefined ? {} : { downAfterMs: hub.downAfterMs }),
      eventsOverLink: hub.events === 'link',
      areaCode: config.areaCode,
      // The check before the version is stored (a misfit is refused and changes nothing);
      // acting on it only once it is stored, so a failed save leaves the site as it was.
      onTopology: (topology) => {
        const misfits = topologyMisfits(topology, {
          siteId: config.siteId,
          queues: config.acd.queues.map((q) => q.id),
          ...(config.sip ? { sipListens: config.sip.listen.map((l) => l.transport) } : {}),
        });
        if (misfits.length > 0) throw new Error(misfits.join('; '));
      },
      onAdopted: (topology) => this.overflow?.applyTopology(topology),
    });
  }

  private makeKafkaRelay(): SiteKafkaRelay | undefined {
    const { config, pool, log } = this.d;
    if (config.hub?.events !== 'kafka' || !config.hub.kafka) return undefined;
    return siteKafkaRelay({
      siteId: config.siteId,
      brokers: config.hub.kafka.brokers,
      topic: config.hub.kafka.topic,
      pool,
      log,
    });
  }

  private webServer(): PageServer | undefined {
    return this.d.web === false
      ? undefined
      : new PageServer({
          ...this.d.config.web,
          pagePath: fileURLToPath(new URL('../web/wallboard.html', import.meta.url)),
          snapshot: () => this.snapshot(),
        });
  }

  async start(): Promise<void> {
    if (this.state !== 'new') return;
    this.state = 'starting';
    const { config, pool, media, log, scheduler } = this.d;
    await migrateSiteStore(pool);
    await applyLedgerMigrations(pool);
    await this.jobs.start();
    // With a hub, a call whose move was committed waits for the target's word (overflow below).
    this.recovery = await recoverAfterRestart(this.store, {
      scheduler: this.jobs,
      keepPendingMoves: this.overflow !== undefined,
    });
    if (
      this.recovery.callsFailed.length > 0 ||
      this.recovery.agentsLoggedOut.length > 0 ||
      this.recovery.pendingMoves.length > 0
    ) {
      log.warn('recovered after an unclean stop', {
        callsClosed: this.recovery.callsFailed.length,
        movesToSettle: this.recovery.pendingMoves.length,
        agentsLoggedOut: this.recovery.agentsLoggedOut.length,
        escalationsRescheduled: this.recovery.escalationsRescheduled,
      });
    }
    await this.rebuildStats();
    // Callbacks promised before the stop take their places again, by their first enqueue time.
    await this.flow.callbacks.restore();
    for (const a of config.agents) {
      await upsertAgent(this.store, {
        agentId: a.id,
        name: a.name,
        homeSiteId: config.siteId,
        skills: a.skills,
      });
    }
    if (this.grpc) this.ctiPort = await this.grpc.start();
    if (this.web) this.webPort = await this.web.start();
    media.onInbound((c) => void this.flow.onInbound(c.ani, c.dnis, c.leg));
    media.onFarEndHangup((leg) => this.flow.onFarEndHangup(leg));
    // The book of admitted moves is back before the link can bring a resent commit.
    await this.overflow?.start();
    // The site takes calls before the hub answers: it never waits on the WAN to start.
    await this.hubLink?.start();
    this.overflow?.applyTopology(this.hubLink?.topology ?? null);
    // Commits sent before the crash: resent until the target's word (overflow-origin.ts).
    this.overflow?.origin.resume(this.recovery.pendingMoves);
    this.kafka?.relay.start();
    // The cache keeps this site's own customers and those it served recently: roaming
    // customers not served for a while leave it (the hub still has them).
    this.evictTimer = setInterval(() => {
      evictServed(this.store, scheduler.now() - (this.d.servedCacheMs ?? 7 * 86_400_000)).then(
        (n) => n > 0 && log.info('evicted customers of other sites not served recently', { count: n }),
        (e: unknown) => log.warn('cache eviction failed', { err: e }),
      );
    }, this.d.evictEveryMs ?? 600_000);
    this.evictTimer.unref();
    this.state = 'running';
    log.info('site started', { siteId: config.siteId, ctiPort: this.ctiPort, agents: config.agents.length });
  }

  /**
   * The figures a restart must not lose (issue 9): the day's tally and each queue's window and
   * AHT, rebuilt from the events the site stored, before the first call. Recovery has run, so
   * the calls it closed are among them (as failed: counted as offered, nothing else).
   */
  private async rebuildStats(): Promise<void> {
    const { config, pool, scheduler, log } = this.d;
    const nowMs = scheduler.now();
    const options = rebuildOptions(config, this.engine.queueIds(), nowMs);
    const events = await readStatsEvents(pool, STATS_EVENT_TYPES, rebuildSinceMs(options), nowMs);
    const rebuilt = rebuildStats(events, options);
    Object.assign(this.tally, rebuilt.tally);
    this.engine.restoreStats(rebuilt.windows, rebuilt.ahtMs);
    log.info('statistics rebuilt from stored events', {
      events: events.length,
      offered: rebuilt.tally.offered,
      answered: rebuilt.tally.answered,
    });
  }

  stop(): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const { scheduler, log } = this.d;
    this.state = 'stopping';
    clearInterval(this.evictTimer);
    this.flow.refuseNewCalls();
    const deadline = Date.now() + (this.d.drainMs ?? 30_000);
    while (this.flow.liveCalls > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    // A call whose commit went is the target's to decide: overflow waits a little for its word
    // (no new request meanwhile); one still unanswered keeps its record open (its move is
    // recorded) and the next start asks the target again, rather than end it here.
    const inTransit = new Set((await this.overflow?.stop()) ?? []);
    if (this.flow.liveCalls > 0)
      log.warn('releasing calls still up at shutdown', {
        calls: this.flow.liveCalls,
        inTransit: inTransit.size,
      });
    await this.flow.releaseAll('site-shutdown', inTransit);
    // The callers just hung up: their recordings are written as their legs end (bounded).
    await this.flow.recordingsSettled(5_000);
    this.flow.callbacks.stop('site-shutdown');
    this.engine.stop();
    this.leases.stop(); // before the desks' streams end: a stopping site forces nothing on agents
    await this.grpc?.stop();
    await this.web?.stop();
    this.pinRefusals.stop(); // the refusal counts still unsaid
    // No desk can act any more: the sessions of agents still logged in end here, with the
    // stop as their reason, rather than being left open for the next start's recovery to close
    // as `site-restart` (an agent's day would otherwise last until the site came back).
    for (const agentId of this.engine.loggedInAgentIds()) {
      void this.writes.push(
        `logout ${agentId} at stop`,
        () => logoutAgent(this.store, agentId, 'site-shutdown'),
        agentId,
      );
    }
    // Bounded: a store that is away at shutdown must not hold the process forever. What is
    // left is logged by label; recovery at the next start closes the calls it leaves open.
    await this.writes.drainWithin((this.d.config.store ?? DEFAULT_STORE_WRITES).drainAtStopMs);
    await this.jobs.stop();
    if (this.kafka) {
      await this.kafka.relay.stop();
      const flushed = this.kafka.relay.flush().catch((e: unknown) => {
        log.warn('outbox not flushed to Kafka at stop; it ships on the next start', { err: e });
      });
      await Promise.race([flushed, new Promise((r) => setTimeout(r, 3000))]);
      await this.kafka.shipper.disconnect();
    }
    await this.hubLink?.stop();
    for (const p of this.remotePools) await p.end();
    this.state = 'stopped';
    // The day's tally as the site counted it live, so it can be compared with the same figures
    // rebuilt from the stored events (the chaos suite's statistics check, docs/operations.md).
    const atMs = scheduler.now();
    log.info('site stopped', {
      siteId: this.d.config.siteId,
      atMs,
      tally: rollDay(this.tally, atMs, this.d.config.utcOffsetMs),
    });
  }

  snapshot(): SiteSnapshot {
    return {
      siteId: this.d.config.siteId,
      atMs: this.d.scheduler.now(),
      liveCalls: this.flow.liveCalls,
      ivrSessions: this.flow.activeIvrSessions,
      pendingWrites: this.writes.depth,
      failedWrites: this.writes.failures,
      store: {
        state: this.writes.storeUp ? 'up' : 'down',
        buffered: this.writes.depth,
        capacity: this.writes.capacity,
        admission: this.writes.admissionOpen ? 'open' : 'closed',
      },
      queues: this.engine.allStats(),
      agents: this.agentsByState(),
      agentBoard: this.agentBoard(),
      summary: summarise(rollDay(this.tally, this.d.scheduler.now(), this.d.config.utcOffsetMs)),
      ...(this.hubLink
        ? {
            hub: {
              state: this.hubLink.state,
              topologyVersion: this.hubLink.topologyVersion,
              drained: this.hubLink.drained,
              eventsShipped: this.hubLink.stats.eventsShipped,
            },
          }
        : {}),
    };
  }

  private agentBoard(): AgentBoardEntry[] {
    return this.d.config.agents.map((a) => {
      const v = this.engine.agent(a.id);
      const phone = this.d.phones?.phoneState(a.id);
      return {
        agentId: a.id,
        name: a.name,
        state: v?.state ?? 'logged-out',
        ...(v?.reasonCode ? { reasonCode: v.reasonCode } : {}),
        ...(v?.callId ? { callId: v.callId } : {}),
        ...(phone === 'registered' || phone === 'not-registered' ? { phone } : {}),
      };
    });
  }

  private agentsByState(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const id of this.desk.rosterIds()) {
      const st = this.engine.agent(id)?.state ?? 'logged-out';
      out[st] = (out[st] ?? 0) + 1;
    }
    return out;
  }

  /** The callbacks holding callers' places (runtime/callback-flow.ts). */
  get callbacks(): CallbackFlow {
    return this.flow.callbacks;
  }

  /** Wait until every queued store write has landed. */
  flushWrites(): Promise<void> {
    return this.writes.drain();
  }
}

/** `127.0.0.1` (any of 127/8), `::1`, `localhost`: a bind nobody else can reach. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host === '[::1]') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * The desk's transport: TLS with the site's certificate (a client certificate asked for, not
 * required), or plaintext only when asked for AND bound to loopback. Anything else refuses to
 * start, naming the field to fix.
 */
export function deskServerCredentials(
  config: SiteConfig,
  insecureLoopback: boolean,
  log: Logger,
): ServerCredentials {
  if (insecureLoopback) {
    if (!isLoopbackHost(config.cti.host)) {
      throw invalidArgument(
        'cti.host',
        `${JSON.stringify(config.cti.host)} is not a loopback address; --insecure-loopback serves the agent desk in plaintext and only on 127.0.0.1, ::1 or localhost`,
      );
    }
    if (config.cti.tls) log.warn('--insecure-loopback: the agent desk is plaintext; cti.tls is not used');
    return serverCredentials();
  }
  if (!config.cti.tls) {
    throw new DomainError(
      'invalid-argument',
      'cti.tls: the agent desk speaks TLS: set cti.tls { ca, cert, key } to the CA and the site certificate ' +
        '(bash deploy/pki.sh pki node site <site id>), or for one machine run with --insecure-loopback and a loopback cti.host',
      { field: 'cti.tls' },
    );
  }
  return optionalClientCertServerCredentials(loadTlsMaterial(config.cti.tls));
}
