/**
 * A whole province as real processes, for integration tests of the federation as deployed:
 * the hub (`hub/main.ts`) and N site nodes (`site-node/main.ts --simulate`), each on its own
 * fresh Postgres database, Kafka for the sites that ship events through it, and one toxiproxy
 * proxy between every site and the hub, so a test can cut, slow or throttle one site's WAN
 * link without touching the others. Everything speaks mTLS with certificates from
 * deploy/pki.sh; configs come from deploy/demo/layout.ts, i.e. exactly what an admin deploys.
 *
 *   site-<id> --mTLS--> toxiproxy "<id>-hub" (127.0.0.1:<own port>) ---> hub (127.0.0.1:<port>)
 *   site-<id> --------> Kafka topic pcc-test-<random> (events: kafka) --> hub's consumer group
 *   test      --mTLS--> hub admin API (fedctl as `alice`), and the databases (pg pools)
 *
 * Why processes and not the in-process harness (federation.ts): the later issues are about
 * what happens between machines (cut links, slow links, crashes), and those only mean
 * something when the parts are separate processes with their own sockets, pools and timers.
 *
 * A standby hub (`standby: true`, docs/architecture.md §6.6): two hub processes, `hub-a`
 * (started first, so it leads) and `hub-b`, on the one hub database; every site lists a proxy
 * to each, [hub-a, hub-b], and fedctl is given both. The chaos suites use three calls:
 *
 *   const p = await startProvince({ sites, standby: true });
 *   const old = await p.leaderHub();            // which hub holds the lease now (the database says)
 *   await p.killHub(old.id);                    // kill -9 (SIGKILL); stopHub(id, 'SIGTERM') drains
 *   const now = await waitFor('a new leader', async () => { const l = await p.leaderHub(); return l.id !== old.id && l; });
 *   await p.startHub(old.id);                   // back, as the standby
 *   p.pauseHub(id); p.resumeHub(id);            // a hung leader (SIGSTOP / SIGCONT)
 *
 * Sites dial the hubs through their proxies, so the leader address a standby names (the hub's
 * own) is not in a site's list: a site falls back to "the next in order", as the pure rule
 * says (shared/federation/hub-failover.ts); fedctl dials the hubs directly and follows it.
 *
 * The databases are on the shared test server unless the caller names servers of its own (the
 * chaos suite, test/chaos/, restarts them), and so is Kafka (`kafkaBrokers`).
 *
 * Every wait is bounded; every process's stdout/stderr is kept in memory so a failure can
 * show what each process said (`logTail`, and the error a failed start throws). `stop()` is
 * idempotent and never leaves a process behind: SIGTERM, bounded wait, then SIGKILL.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import Kafka from 'node-rdkafka';
import type pg from 'pg';
import { createPool } from '../../shared/pg/pool.js';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { fedctl as runFedctl } from '../../hub/admin/fedctl.js';
import {
  PROVINCE_TOPOLOGY,
  seedProvinceDirectory,
  writeHubConfig,
  writePki,
  writeSiteConfig,
  type PkiLayout,
} from '../../deploy/demo/layout.js';
import { ensureTopic } from '../../shared/events/kafka.js';
import { freshDatabase, type TestDatabase } from './pg.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ADMIN = 'alice';
const HUB_ID = 'hub';
/** With a standby: the first leader and its standby. */
const HUB_IDS = ['hub-a', 'hub-b'] as const;
/** A process that has not printed its ready line by then is a failed start (tsx compiles first). */
const READY_TIMEOUT_MS = 90_000;
/** How long a SIGTERMed process gets to drain before it is SIGKILLed. */
const STOP_TIMEOUT_MS = 30_000;
/** Lines of output kept per process (older ones are dropped). */
const KEEP_LINES = 4000;

/**
 * How often a test polls a running province (waitFor's `intervalMs`): gently, since each fedctl
 * call is a fresh mTLS handshake, and a tight loop of them slows the very hub and sites under
 * test on a small machine.
 */
export const PROVINCE_POLL_MS = 200;

export interface ProvinceSiteSpec {
  id: string;
  city?: string;
  /** How the site's events reach the hub. */
  events: 'link' | 'kafka';
  /** Simulated calls per (simulated) hour; default 900. */
  rate?: number;
  /** Sites whose customers also call this one; default: every other site of the province. */
  roamFrom?: string[];
}

export interface ProvinceOptions {
  sites: ProvinceSiteSpec[];
  /** Give the hub a Kafka consumer even when no site ships through Kafka. */
  hubKafka?: boolean;
  /** What the hub tells sites; 3 missed = suspect, 10 = down. Default 500. */
  heartbeatIntervalMs?: number;
  /** Simulated ms per real ms; default 20. */
  speed?: number;
  /** Simulated customers per site (the same for the hub's directory); default 60. */
  customersPerSite?: number;
  seed?: number;
  /** Share of a site's known callers who are other sites' customers (--roam-share); default 0.1. */
  roamShare?: number;
  /** Database name prefix; default `prov`. */
  label?: string;
  /**
   * The PostgreSQL servers to create the databases on (URLs of a database there, e.g. its
   * `postgres`); default the shared test server (TEST_PG_URL). The chaos suite gives the hub and
   * the sites servers of their own so it can restart one without touching the other.
   */
  hubDatabaseServer?: string;
  siteDatabaseServer?: string;
  /** The Kafka brokers; default KAFKA_BROKERS (the chaos suite stops a broker of its own). */
  kafkaBrokers?: string;
  /**
   * Every line any process of the province prints (stdout: ready and stats lines; stderr: its
   * log), as it prints it; `process` is its name (`hub-a`, `site <id>`).
   */
  onLine?: (process: string, line: string) => void;
  /** Start a second hub (`hub-b`) as the standby of the first (`hub-a`). */
  standby?: boolean;
  /** The hubs' lease TTL (hub config `lease.ttl`); default the hub's (2 s). */
  leaseTtlMs?: number;
}

/** One hub process of the province, and where it listens. */
export interface ProvinceHub {
  id: string;
  /** Its own address (127.0.0.1:<port>): what fedctl dials and what it advertises. */
  address: string;
  configPath: string;
  process: ManagedProcess;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** One running (or finished) child process with its captured output. */
export class ManagedProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<ExitInfo>;
  exit: ExitInfo | undefined;
  readonly lines: string[] = [];
  private readonly startedAt = Date.now();
  private readyLine: Record<string, unknown> | undefined;
  private readonly readyWaiters: Array<(line: Record<string, unknown>) => void> = [];

  constructor(
    readonly name: string,
    args: string[],
    env: NodeJS.ProcessEnv,
    private readonly onLine?: (process: string, line: string) => void,
  ) {
    this.child = spawn(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env,
    });
    this.exited = new Promise<ExitInfo>((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exit = { code, signal };
        this.keep(`[exited code=${code} signal=${signal}]`);
        resolve(this.exit);
      });
      // A spawn failure (no exit event follows): treat as an exit so nothing waits forever.
      this.child.on('error', (e) => {
        this.keep(`[spawn error: ${e.message}]`);
        this.exit ??= { code: -1, signal: null };
        resolve(this.exit);
      });
    });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      this.keep(l);
      this.onLine?.(this.name, l);
      if (this.readyLine === undefined && l.startsWith('{') && l.includes('"event":"ready"')) {
        try {
          this.readyLine = JSON.parse(l) as Record<string, unknown>;
          for (const w of this.readyWaiters.splice(0)) w(this.readyLine);
        } catch {
          // not the ready line after all
        }
      }
    });
    createInterface({ input: this.child.stderr! }).on('line', (l) => {
      this.keep(`! ${l}`);
      this.onLine?.(this.name, l);
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exit === undefined;
  }

  private keep(line: string): void {
    // Seconds since the process started, so a tail shows how long each step took.
    this.lines.push(`${((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(6)}s ${line}`);
    if (this.lines.length > KEEP_LINES) this.lines.splice(0, this.lines.length - KEEP_LINES);
  }

  tail(n = 40): string {
    return [
      `--- ${this.name} (pid ${this.pid ?? '?'}, ${this.exit ? `exited ${JSON.stringify(this.exit)}` : 'running'}) ---`,
      ...this.lines.slice(-n),
    ].join('\n');
  }

  /** The parsed ready line; rejects if the process exits first or stays silent too long. */
  ready(timeoutMs = READY_TIMEOUT_MS): Promise<Record<string, unknown>> {
    if (this.readyLine) return Promise.resolve(this.readyLine);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${this.name} printed no ready line within ${timeoutMs} ms\n${this.tail()}`)),
        timeoutMs,
      );
      this.readyWaiters.push((l) => {
        clearTimeout(timer);
        resolve(l);
      });
      void this.exited.then((x) => {
        clearTimeout(timer);
        reject(new Error(`${this.name} exited before it was ready (${JSON.stringify(x)})\n${this.tail()}`));
      });
    });
  }

  /** Send `signal`, wait (bounded) for the exit; SIGKILL when the process outstays `timeoutMs`. */
  async stop(
    signal: NodeJS.Signals = 'SIGTERM',
    timeoutMs = STOP_TIMEOUT_MS,
  ): Promise<ExitInfo & { killed: boolean }> {
    if (this.exit) return { ...this.exit, killed: false };
    this.child.kill(signal);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
    const first = await Promise.race([this.exited, late]);
    clearTimeout(timer);
    if (first !== 'late') return { ...first, killed: false };
    this.keep(`[no exit ${timeoutMs} ms after ${signal}: SIGKILL]`);
    this.child.kill('SIGKILL');
    return { ...(await this.exited), killed: true };
  }
}

export interface ProvinceSite {
  spec: ProvinceSiteSpec;
  db: TestDatabase;
  configPath: string;
  /** Where the site dials the hub: its own toxiproxy proxy (to the first hub). */
  proxyAddress: string;
  /** With a standby: its proxies to each hub, in the order the site lists them. */
  proxyAddresses: string[];
  process: ManagedProcess | undefined;
}

export interface FedctlResult {
  code: number;
  out: string;
  err: string;
}

export interface Province {
  /** The temp dir with pki/, hub.yaml, site-<id>.yaml and anything `writeFile` wrote. */
  dir: string;
  pki: PkiLayout;
  /** The (first) hub's own address (admins reach it directly; sites go through their proxy). */
  hubAddress: string;
  /** Every hub: one, or with `standby` the first leader and its standby. */
  hubs: ProvinceHub[];
  /** The hub holding an unexpired lease now (read from the hub database), or undefined. */
  leaderHub(): Promise<ProvinceHub | undefined>;
  /** Stop one hub (SIGKILL by default: a crash; SIGTERM: a clean stop that releases the lease). */
  stopHub(id: string, signal?: NodeJS.Signals): Promise<ExitInfo & { killed: boolean }>;
  /** kill -9 a hub. */
  killHub(id: string): Promise<ExitInfo & { killed: boolean }>;
  /** Hang a hub (SIGSTOP: its sockets stay open, nothing answers) or wake it (SIGCONT). */
  pauseHub(id: string): void;
  resumeHub(id: string): void;
  /** Start a stopped hub again on the same port; resolves at its ready line. */
  startHub(id: string): Promise<Record<string, unknown>>;
  /** The Kafka topic of this province, when any site or the hub uses Kafka. */
  kafkaTopic: string | undefined;
  siteIds: string[];
  /** The first hub's process (its latest, after a startHub). */
  readonly hub: ManagedProcess;
  hubPool: pg.Pool;
  site(id: string): ProvinceSite;
  sitePool(id: string): pg.Pool;
  /** The toxiproxy proxy between site `id` and the (first) hub: disable it, or add toxics. */
  proxy(id: string): Proxy;
  /** Every proxy of site `id`, one per hub, in hub order. */
  proxiesOf(id: string): Proxy[];
  /**
   * Cut (false) or restore (true) a site's link (to every hub); existing connections are
   * closed on a cut.
   */
  setLink(id: string, enabled: boolean): Promise<void>;
  /** fedctl as the admin `alice`, in process; exit code and what it printed. */
  fedctl(...args: string[]): Promise<FedctlResult>;
  writeFile(name: string, text: string): string;
  /** Stop one site process (SIGTERM: drains and flushes; SIGKILL: a crash). */
  stopSite(id: string, signal?: NodeJS.Signals): Promise<ExitInfo & { killed: boolean }>;
  /**
   * Start a site process again on its database; resolves at its ready line. `rate`: its
   * simulated calls per hour from now on (a site made busy or quiet between two runs).
   */
  startSite(id: string, opts?: { rate?: number }): Promise<Record<string, unknown>>;
  /** Pids of the processes still running. */
  livePids(): number[];
  /** The last lines of every process's output, for failure messages. */
  logTail(lines?: number): string;
  /** Stop everything and remove what the province created. Idempotent. */
  stop(): Promise<void>;
}

function label(s: string): string {
  return s.replace(/[^a-z0-9]/gi, '_').toLowerCase();
}

async function deleteTopic(brokers: string, topic: string): Promise<void> {
  const admin = Kafka.AdminClient.create({
    'client.id': 'pcc-test-cleanup',
    'metadata.broker.list': brokers,
  });
  try {
    await new Promise<void>((resolve, reject) =>
      admin.deleteTopic(topic, 10_000, (err) => (err ? reject(new Error(err.message)) : resolve())),
    );
  } finally {
    admin.disconnect();
  }
}

/**
 * Start a province and resolve once the hub and every site printed their ready lines. On a
 * failed start everything already started is stopped and removed, and the error carries the
 * output of every process.
 */
export async function startProvince(opts: ProvinceOptions): Promise<Province> {
  const toxiproxyUrl = process.env.TOXIPROXY_URL;
  if (!toxiproxyUrl)
    throw new Error('TOXIPROXY_URL is not set: `bash deploy/services.sh up && source .services/env.sh`');
  const specs = opts.sites;
  const siteIds = specs.map((s) => s.id);
  if (new Set(siteIds).size !== siteIds.length) throw new Error(`duplicate site ids: ${siteIds.join(', ')}`);
  const useKafka = opts.hubKafka === true || specs.some((s) => s.events === 'kafka');
  const brokers = opts.kafkaBrokers ?? process.env.KAFKA_BROKERS;
  if (useKafka && !brokers) throw new Error('KAFKA_BROKERS is not set: `source .services/env.sh`');
  const speed = opts.speed ?? 20;
  const customers = opts.customersPerSite ?? 60;
  const seed = opts.seed ?? 7;
  const hbMs = opts.heartbeatIntervalMs ?? 500;
  const prefix = label(opts.label ?? 'prov');
  const run = randomBytes(4).toString('hex');

  // Everything created is recorded as it is created, so cleanup after a half-done start
  // removes exactly what exists.
  const dir = mkdtempSync(join(tmpdir(), 'province-'));
  const dbs: TestDatabase[] = [];
  const pools: pg.Pool[] = [];
  /** Per site, one proxy per hub in hub order. */
  const proxies = new Map<string, Proxy[]>();
  const sites = new Map<string, ProvinceSite>();
  const sitePools = new Map<string, pg.Pool>();
  const toxiproxy = new Toxiproxy(toxiproxyUrl);
  const kafkaTopic = useKafka ? `pcc-test-province-${run}` : undefined;
  let topicCreated = false;
  const hubs: ProvinceHub[] = [];
  const hubIds: readonly string[] = opts.standby ? HUB_IDS : [HUB_ID];
  const childEnv = { ...process.env, LOG_LEVEL: process.env.PROVINCE_LOG_LEVEL ?? 'info' };

  const managed = (name: string, args: string[]): ManagedProcess =>
    new ManagedProcess(name, args, childEnv, opts.onLine);
  const all = (): ManagedProcess[] => [
    ...[...sites.values()].flatMap((s) => (s.process ? [s.process] : [])),
    ...hubs.map((h) => h.process),
  ];
  // Last resort if the test process exits without calling stop(): no orphan keeps running.
  const killOnExit = (): void => {
    for (const p of all()) if (p.running) p.child.kill('SIGKILL');
  };
  process.on('exit', killOnExit);

  const logTail = (lines = 40): string =>
    all()
      .map((p) => p.tail(lines))
      .join('\n');

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopping ??= (async () => {
      const problems: string[] = [];
      const attempt = async (what: string, f: () => Promise<unknown>): Promise<void> => {
        try {
          await f();
        } catch (e) {
          problems.push(`${what}: ${(e as Error).message}`);
        }
      };
      // Sites first (they flush to the hub), then the hub.
      await Promise.all(
        [...sites.values()].map((s) => attempt(`stop ${s.spec.id}`, async () => s.process?.stop('SIGTERM'))),
      );
      // The standby first, so the leader's clean stop hands its lease to nobody.
      for (const h of [...hubs].reverse())
        await attempt(`stop ${h.id}`, async () => h.process.stop('SIGTERM'));
      process.off('exit', killOnExit);
      for (const [id, ps] of proxies)
        for (const p of ps) await attempt(`delete proxy ${id}`, () => p.remove());
      for (const p of [...sitePools.values(), ...pools]) await attempt('close pool', () => p.end());
      for (const db of dbs) await attempt(`drop ${db.name}`, () => db.drop());
      if (kafkaTopic && topicCreated && brokers)
        await attempt(`delete topic ${kafkaTopic}`, () => deleteTopic(brokers, kafkaTopic));
      rmSync(dir, { recursive: true, force: true });
      if (problems.length > 0) throw new Error(`province cleanup: ${problems.join('; ')}`);
    })();
    return stopping;
  };

  const siteArgs = (s: ProvinceSite): string[] => {
    const roamFrom = s.spec.roamFrom ?? siteIds.filter((id) => id !== s.spec.id);
    return [
      'site-node/main.ts',
      '--config',
      s.configPath,
      '--simulate',
      '--speed',
      String(speed),
      '--rate',
      String(s.spec.rate ?? 900),
      '--customers',
      String(customers),
      '--seed',
      String(seed),
      ...(roamFrom.length > 0
        ? ['--roam-from', roamFrom.join(','), '--roam-share', String(opts.roamShare ?? 0.1)]
        : []),
      '--stats-every',
      '1',
    ];
  };

  const startSiteProcess = (id: string, o: { rate?: number } = {}): Promise<Record<string, unknown>> => {
    const s = sites.get(id);
    if (!s) throw new Error(`no site ${id} in this province`);
    if (s.process?.running) throw new Error(`site ${id} is already running (pid ${s.process.pid})`);
    if (o.rate !== undefined) s.spec = { ...s.spec, rate: o.rate };
    s.process = managed(`site ${id}`, siteArgs(s));
    return s.process.ready();
  };

  try {
    // Databases: the hub's and one per site, created in parallel.
    const [hubDb, ...siteDbs] = await Promise.all([
      freshDatabase(`${prefix}_hub`, opts.hubDatabaseServer),
      ...specs.map((s) => freshDatabase(`${prefix}_${label(s.id)}`, opts.siteDatabaseServer)),
    ]);
    dbs.push(hubDb!, ...siteDbs);
    const hubPool = createPool(hubDb!.url, { applicationName: 'test/province-hub', max: 4 });
    pools.push(hubPool);
    const pki = writePki(dir, { hub: hubIds, sites: siteIds, admins: [ADMIN] });

    // The directory is seeded before the hub starts, so a site's first feed already has it.
    await seedProvinceDirectory(hubPool, siteIds, customers, seed);

    if (kafkaTopic && brokers) {
      await ensureTopic(brokers, kafkaTopic, 3);
      topicCreated = true;
    }
    // Every hub listens on a port chosen once (the first start's), so a restarted hub is found
    // where the proxies and fedctl look for it.
    const startHubProcess = async (h: { id: string; configPath: string }): Promise<ProvinceHub> => {
      const proc = managed(h.id, ['hub/main.ts', '--config', h.configPath]);
      const ready = await proc.ready();
      const port = Number(ready.port);
      if (!Number.isInteger(port) || port <= 0)
        throw new Error(`${h.id} ready line without a port: ${JSON.stringify(ready)}`);
      return { id: h.id, address: `127.0.0.1:${port}`, configPath: h.configPath, process: proc };
    };
    // One after the other: the first leads, the second finds the lease held and stands by.
    const hubConfig = (id: string, port: number): string =>
      writeHubConfig(dir, pki, {
        hubId: id,
        databaseUrl: hubDb!.url,
        port,
        topologyPath: PROVINCE_TOPOLOGY,
        heartbeatIntervalMs: hbMs,
        fileName: `${id}.yaml`,
        ...(opts.leaseTtlMs === undefined ? {} : { leaseTtlMs: opts.leaseTtlMs }),
        ...(kafkaTopic && brokers
          ? { kafka: { brokers, topic: kafkaTopic, groupId: `hub-ingest-${run}` } }
          : {}),
      });
    for (const id of hubIds) {
      const h = await startHubProcess({ id, configPath: hubConfig(id, 0) });
      hubs.push(h);
      hubConfig(id, Number(h.address.split(':')[1])); // the port it got, for a restart
    }
    const hubAddress = hubs[0]!.address;

    // One proxy per site and hub; port 0 lets toxiproxy pick a free port (no race with other
    // tests), and it keeps that port across disable/enable.
    for (const spec of specs) {
      const list: Proxy[] = [];
      for (const h of hubs) {
        list.push(
          await toxiproxy.createProxy({
            name: `${spec.id}-${h.id}-${run}`,
            listen: '127.0.0.1:0',
            upstream: h.address,
            enabled: true,
          }),
        );
      }
      proxies.set(spec.id, list);
    }

    specs.forEach((spec, i) => {
      const db = siteDbs[i]!;
      const proxyAddresses = proxies.get(spec.id)!.map((p) => p.listen);
      const proxyAddress = proxyAddresses[0]!;
      const configPath = writeSiteConfig(dir, pki, {
        siteId: spec.id,
        ...(spec.city ? { city: spec.city } : {}),
        databaseUrl: db.url,
        hubAddress: opts.standby ? proxyAddresses : proxyAddress,
        hubId: opts.standby ? hubIds : HUB_ID,
        events: spec.events,
        ...(spec.events === 'kafka' && kafkaTopic && brokers
          ? { kafka: { brokers, topic: kafkaTopic } }
          : {}),
        // Roaming customers' accounts live on their home site's ledger (its database).
        bankHosts: Object.fromEntries(
          specs.flatMap((o, j) => (o.id === spec.id ? [] : [[o.id, siteDbs[j]!.url] as const])),
        ),
      });
      sites.set(spec.id, { spec, db, configPath, proxyAddress, proxyAddresses, process: undefined });
    });
    // In parallel: each start is mostly tsx compiling and migrations.
    await Promise.all(siteIds.map((id) => startSiteProcess(id)));

    const site = (id: string): ProvinceSite => {
      const s = sites.get(id);
      if (!s) throw new Error(`no site ${id} in this province`);
      return s;
    };
    const hubById = (id: string): ProvinceHub => {
      const h = hubs.find((x) => x.id === id);
      if (!h) throw new Error(`no hub ${id} in this province (${hubs.map((x) => x.id).join(', ')})`);
      return h;
    };
    const province: Province = {
      dir,
      pki,
      hubAddress,
      hubs,
      async leaderHub() {
        const r = await hubPool.query<{ holder: string }>(
          `SELECT holder FROM hub_lease WHERE id = 1 AND expires_at > clock_timestamp()`,
        );
        const id = r.rows[0]?.holder;
        return id === undefined ? undefined : hubs.find((h) => h.id === id);
      },
      stopHub: (id, signal = 'SIGKILL') => hubById(id).process.stop(signal),
      killHub: (id) => hubById(id).process.stop('SIGKILL'),
      pauseHub: (id) => void hubById(id).process.child.kill('SIGSTOP'),
      resumeHub: (id) => void hubById(id).process.child.kill('SIGCONT'),
      async startHub(id) {
        const h = hubById(id);
        if (h.process.running) throw new Error(`hub ${id} is already running (pid ${h.process.pid})`);
        const again = await startHubProcess(h);
        if (again.address !== h.address)
          throw new Error(`hub ${id} came back on ${again.address}, not ${h.address}`);
        h.process = again.process;
        return h.process.ready();
      },
      kafkaTopic,
      siteIds,
      get hub() {
        return hubs[0]!.process;
      },
      hubPool,
      site,
      sitePool(id) {
        let p = sitePools.get(id);
        if (!p) {
          p = createPool(site(id).db.url, { applicationName: `test/province-${id}`, max: 3 });
          sitePools.set(id, p);
        }
        return p;
      },
      proxy(id) {
        return province.proxiesOf(id)[0]!;
      },
      proxiesOf(id) {
        const p = proxies.get(id);
        if (!p) throw new Error(`no proxy for site ${id}`);
        return p;
      },
      async setLink(id, enabled) {
        const ps = province.proxiesOf(id);
        proxies.set(
          id,
          await Promise.all(ps.map((p) => p.update({ enabled, listen: p.listen, upstream: p.upstream }))),
        );
      },
      async fedctl(...args) {
        let out = '';
        let err = '';
        const hubList = hubs.map((h) => h.address).join(',');
        const code = await runFedctl([...args, '--hub', hubList, '--pki', pki.dir, '--admin', ADMIN], {
          out: (t) => (out += t + '\n'),
          err: (t) => (err += t + '\n'),
          env: {},
        });
        return { code, out, err };
      },
      writeFile(name, text) {
        const p = join(dir, name);
        writeFileSync(p, text);
        return p;
      },
      async stopSite(id, signal = 'SIGTERM') {
        const p = site(id).process;
        if (!p) throw new Error(`site ${id} was never started`);
        return p.stop(signal);
      },
      startSite: startSiteProcess,
      livePids: () => all().flatMap((p) => (p.running && p.pid !== undefined ? [p.pid] : [])),
      logTail,
      stop,
    };
    return province;
  } catch (e) {
    const tails = logTail(60);
    await stop().catch(() => undefined);
    throw new Error(`province did not start: ${(e as Error).message}\n${tails}`, { cause: e });
  }
}
