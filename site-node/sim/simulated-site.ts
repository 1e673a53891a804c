/**
 * A site with simulated callers and agents around the real runtime: real Postgres, real
 * ledger, real ACD and IVR, real gRPC agent service; only the voice network and the people
 * are simulated. Used by `npm run demo` and by `main.ts --simulate` (the crash test).
 *
 * The simulated agents work like people at desks (docs/architecture.md §4.3 "Desk
 * authentication"): each gets a password of its own, set at start as a supervisor would
 * (audited as `simulator`), and signs in to the site's agent service over its TLS port
 * (plaintext only with `--insecure-loopback`). Only with `cti: false` (tests that need no
 * agent service) do they drive the site's desk in the process.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type pg from 'pg';
import { BANK_POOL_MAX, DEFAULT_STORE_WRITES, SITE_POOL_MAX, type SiteConfig } from '../config.js';
import { GrpcAgentDesk } from '../cti/grpc-desk-client.js';
import { SimAgents } from '../cti/sim-agents.js';
import { tlsClientCredentials } from '../../shared/grpc/tls.js';
import { Site } from '../runtime/site.js';
import { PgLedgerBankHost, seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { createSitePool } from '../store/site-pool.js';
import { createPool } from '../../shared/pg/pool.js';
import type { Logger } from '../../shared/log.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { Random } from '../../shared/random.js';
import { seedCustomers } from '../store/index.js';
import { ledgerCustomers, makePopulation, type SimCustomer } from './population.js';
import { SimMedia } from './sim-media.js';
import { carriedHandOver } from './sim-hand-over.js';
import { Traffic } from './traffic.js';

export interface SimulationOptions {
  config: SiteConfig;
  databaseUrl: string;
  /** Simulated ms per real ms. */
  speed: number;
  callsPerHour: number;
  customers: number;
  seed: number;
  log: Logger;
  cti?: boolean;
  /** Plaintext agent desk on a loopback `cti.host` (Site `insecureLoopback`, `--insecure-loopback`). */
  insecureLoopback?: boolean;
  /**
   * Customers of other sites who call this one (roaming, 漫游用户): a share of the known
   * callers is drawn from these. They are not in this site's cache; the hub serves them.
   */
  roamers?: readonly SimCustomer[];
  /** Share of known callers who are roamers; default 0.1 when roamers are given. */
  roamingShare?: number;
}

export interface SimulatedSite {
  site: Site;
  media: SimMedia;
  agents: SimAgents;
  traffic: Traffic;
  scheduler: RealScheduler;
  pool: pg.Pool;
  /** Stop traffic, let agents finish, stop the site, close the pool. */
  stop(): Promise<void>;
}

/**
 * Sped-up simulated time runs ahead of the wall clock, so a simulated site restarted on the
 * same database must resume from the latest time it recorded: otherwise the restart would
 * write rows dated before ones already there (a call ending before it started).
 */
async function lastRecordedMs(pool: pg.Pool): Promise<number | undefined> {
  // Every fact the site records goes through the outbox with its time, so its latest
  // entry is the latest time the site wrote anything.
  const exists = await pool.query<{ t: string | null }>(`SELECT to_regclass('public.outbox')::text AS t`);
  if (!exists.rows[0]?.t) return undefined;
  const r = await pool.query<{ t: string | null }>(`SELECT max(occurred_at_ms)::text AS t FROM outbox`);
  const t = r.rows[0]?.t;
  return t === null || t === undefined ? undefined : Number(t);
}

/**
 * The simulated agents' desk: the site's own agent service, reached as a desk on the LAN
 * would reach it, each agent signing in with a password of its own. The passwords are drawn
 * fresh at every start and set through the site's credential store, so the simulation holds
 * no password anyone else knows, and a restarted site's agents sign in again.
 */
async function signedInDesk(site: Site, config: SiteConfig, log: Logger): Promise<GrpcAgentDesk> {
  const passwords = new Map<string, string>();
  for (const a of config.agents) {
    const password = randomBytes(18).toString('base64url');
    await site.credentials.setPassword(a.id, password, 'simulator');
    passwords.set(a.id, password);
  }
  const tls = site.ctiPlaintext ? undefined : config.cti.tls;
  // A wildcard bind is reached on loopback; a named address as configured.
  const host = ['0.0.0.0', '::', ''].includes(config.cti.host) ? '127.0.0.1' : config.cti.host;
  return new GrpcAgentDesk({
    address: `${host.includes(':') ? `[${host}]` : host}:${site.ctiPort}`,
    log,
    password: (id) => passwords.get(id),
    ...(tls
      ? {
          credentials: tlsClientCredentials(readFileSync(tls.caPath), {
            expectServer: { kind: 'site', id: config.siteId },
          }),
        }
      : {}),
  });
}

/**
 * The callers' pool: the site's own customers plus enough roamers (sampled without
 * replacement) that they are about `share` of the known callers.
 */
export function withRoamers(
  own: readonly SimCustomer[],
  roamers: readonly SimCustomer[],
  share: number,
  seed: number,
): SimCustomer[] {
  if (roamers.length === 0 || share <= 0) return [...own];
  const want = Math.min(roamers.length, Math.round((own.length * share) / Math.max(0.01, 1 - share)));
  const rng = new Random(seed);
  const pool = [...roamers];
  const picked: SimCustomer[] = [];
  while (picked.length < want) picked.push(pool.splice(rng.int(0, pool.length - 1), 1)[0]!);
  return [...own, ...picked];
}

export async function startSimulatedSite(o: SimulationOptions): Promise<SimulatedSite> {
  const pool = createSitePool(o.databaseUrl, {
    applicationName: `site-${o.config.siteId}`,
    max: SITE_POOL_MAX,
    store: o.config.store ?? DEFAULT_STORE_WRITES,
  });
  const bankPool = createSitePool(o.databaseUrl, {
    applicationName: `site-${o.config.siteId}-bank`,
    max: BANK_POOL_MAX,
    store: o.config.store ?? DEFAULT_STORE_WRITES,
  });
  const resumeAt = await lastRecordedMs(pool);
  const scheduler = new RealScheduler({ speed: o.speed, startMs: Math.max(Date.now(), (resumeAt ?? 0) + 1) });
  // Most customers pick up when the bank calls them back; they wait for the agent quietly.
  const pickUp = new Random(o.seed + 3);
  const callers = o.log.child({ part: 'sim-callers' });
  const media = new SimMedia(
    scheduler,
    (number) =>
      pickUp.chance(0.85)
        ? {
            ani: number,
            dnis: 'callback',
            patienceMs: 600_000,
            thinkMs: pickUp.uniform(3_000, 15_000),
            respond: () => 'timeout',
          }
        : undefined,
    // What the caller heard, logged once per prompt: the chaos suite reads these lines to
    // check that every caller told "recorded" has the record (docs/operations.md).
    (heard) => callers.info('caller told recorded', { ...heard }),
  );
  // Across processes a moved caller travels in the overflow request (sim-hand-over.ts).
  media.useHandOverRoute(carriedHandOver);
  const site = new Site({
    config: o.config,
    simCallers: media,
    pool,
    databaseUrl: o.databaseUrl,
    scheduler,
    media,
    bank: new PgLedgerBankHost(bankPool, { clock: scheduler }),
    log: o.log,
    cti: o.cti ?? true,
    insecureLoopback: o.insecureLoopback ?? false,
    drainMs: 5_000,
    // Simulated time runs faster than pg-boss's wall clock; poll often so jobs keep up.
    jobPollingSeconds: 1,
  });
  await site.start();
  const population = makePopulation(o.config.siteId, o.customers, o.seed);
  // Seeding is setup, not the live path: it runs on a pool of its own without the live path's
  // query timeout (`store.queryTimeout`), which a first start hashing every PIN on a busy
  // machine can exceed.
  const seedPool = createPool(o.databaseUrl, { applicationName: `site-${o.config.siteId}-seed`, max: 1 });
  try {
    await seedDemoLedger(seedPool, ledgerCustomers(population, o.seed + 1), scheduler);
    await seedCustomers(
      { ...site.store, pool: seedPool },
      population.map((c) => c.profile),
    );
  } finally {
    await seedPool.end();
  }
  const agentLog = o.log.child({ part: 'sim-agents' });
  const remote = site.ctiPort === undefined ? undefined : await signedInDesk(site, o.config, agentLog);
  const agents = new SimAgents(
    { desk: remote ?? site.desk, scheduler, log: agentLog },
    {
      agentIds: o.config.agents.map((a) => a.id),
      seed: o.seed,
      handleTime: { kind: 'lognormal', meanMs: 150_000, sigma: 0.6 },
      wrapupTime: { kind: 'exponential', meanMs: 15_000 },
      wrapupCodes: o.config.wrapupCodes,
      noAnswerProbability: 0.02,
      breaks: {
        perHour: 0.5,
        duration: { kind: 'uniform', minMs: 300_000, maxMs: 900_000 },
        reasonCode: 'break',
      },
    },
  );
  await agents.start();
  const traffic = new Traffic(scheduler, media, {
    callsPerHour: o.callsPerHour,
    seed: o.seed + 2,
    customers: withRoamers(population, o.roamers ?? [], o.roamingShare ?? 0.1, o.seed + 4),
    // One line per call placed, with the site's call id ('' when refused): the chaos suite
    // counts them to check that every call placed has exactly one terminal record.
    onPlaced: (leg) => callers.info('call placed', { callId: leg.callId, n: traffic.placed }),
  });
  traffic.start();
  let stopping: Promise<void> | undefined;
  return {
    site,
    media,
    agents,
    traffic,
    scheduler,
    pool,
    stop() {
      stopping ??= (async () => {
        traffic.stop();
        await agents.stop();
        remote?.close();
        await site.stop();
        scheduler.cancelAll();
        await pool.end();
        await bankPool.end();
      })();
      return stopping;
    },
  };
}
