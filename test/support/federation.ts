/**
 * An in-process province for tests: a real Hub (its own real Postgres database, mTLS gRPC on
 * loopback) and real site links (`GrpcHubLink`, each on its own real site database), with
 * certificates from `deploy/pki.sh`. The multi-process harness (province.ts) runs the same
 * parts as separate processes behind toxiproxy; this one is for fast, precise checks.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { Hub } from '../../hub/hub.js';
import type { HubConfig } from '../../hub/config.js';
import { hubTestDb, type HubTestDb } from '../../hub/store/testing.js';
import { fedctl } from '../../hub/admin/fedctl.js';
import { GrpcHubLink, type GrpcHubLinkOptions } from '../../site-node/link/hub-link.js';
import { siteTestDb, type SiteTestDb } from '../../site-node/store/testing.js';
import { systemClock } from '../../shared/clock.js';
import type { Scheduler } from '../../shared/scheduler.js';
import { createLogger, silentLogger, type Logger } from '../../shared/log.js';
import { makeTestPki, type TestPki } from './pki.js';

export const EXAMPLE_TOPOLOGY = fileURLToPath(
  new URL('../../deploy/examples/province.yaml', import.meta.url),
);

export interface TestSite {
  siteId: string;
  db: SiteTestDb;
  link: GrpcHubLink;
}

export interface TestProvince {
  pki: TestPki;
  hubDb: HubTestDb;
  hub: Hub;
  address: string;
  sites: Map<string, TestSite>;
  /** Hub log lines (JSON), for checks on what was logged. */
  hubLog: string[];
  addSite(siteId: string, extra?: Partial<GrpcHubLinkOptions>): Promise<TestSite>;
  /** Stop the hub (as for a restart: `startHub` brings a new one up on the same port). */
  stopHub(): Promise<void>;
  /**
   * Start a new hub on the same port and database as the first: resolves with the time it was
   * ready (serving), once `hub` is the new one.
   */
  startHub(): Promise<number>;
  /** Run fedctl as the admin `alice`; returns exit code and output. */
  fedctl(...args: string[]): Promise<{ code: number; out: string; err: string }>;
  writeFile(name: string, text: string): string;
  close(): Promise<void>;
}

export async function startTestProvince(
  opts: {
    label?: string;
    heartbeatIntervalMs?: number;
    topologyPath?: string;
    log?: Logger;
    /** The hub's Kafka consumer (none by default: sites ship events on the link). */
    kafka?: HubConfig['kafka'];
    /** The clock cover windows are judged on (hub/cover/); tests move it across a window edge. */
    coverScheduler?: Scheduler;
  } = {},
): Promise<TestProvince> {
  const pki = makeTestPki([
    ['hub', 'hub'],
    ['admin', 'alice'],
  ]);
  const hubDb = await hubTestDb(opts.label ?? 'fed_hub', { max: 10 });
  const hubLog: string[] = [];
  const hbMs = opts.heartbeatIntervalMs ?? 200;
  const hubPaths = pki.paths('hub', 'hub');
  const config: HubConfig = {
    hubId: 'hub',
    databaseUrl: hubDb.db.url,
    grpc: { host: '127.0.0.1', port: 0 },
    web: { host: '127.0.0.1', port: 0 },
    tls: hubPaths,
    heartbeatIntervalMs: hbMs,
    topologyPath: opts.topologyPath ?? EXAMPLE_TOPOLOGY,
    kafka: opts.kafka,
  };
  const makeHub = (c: HubConfig) =>
    new Hub({
      config: c,
      pool: hubDb.pool,
      clock: systemClock,
      log: createLogger({}, { write: (l) => hubLog.push(l), level: 'debug' }),
      // Summaries of refused RPCs soon, so tests can count every refusal (refusalsBy).
      refusalWindowMs: REFUSAL_WINDOW_MS,
      ...(opts.coverScheduler ? { coverScheduler: opts.coverScheduler } : {}),
    });
  const hub = makeHub(config);
  const port = await hub.start();
  const address = `127.0.0.1:${port}`;
  const sites = new Map<string, TestSite>();

  const province: TestProvince = {
    pki,
    hubDb,
    hub,
    address,
    async stopHub() {
      await province.hub.stop();
    },
    async startHub() {
      const next = makeHub({ ...config, grpc: { ...config.grpc, port } });
      await next.start();
      province.hub = next;
      return Date.now();
    },
    sites,
    hubLog,
    async addSite(siteId, extra = {}) {
      pki.issue('site', siteId);
      const db = await siteTestDb(`fed_${siteId.replace(/-/g, '_')}`, { siteId });
      const link = new GrpcHubLink({
        siteId,
        addresses: [address],
        tls: pki.material('site', siteId),
        hubId: 'hub',
        store: db.ctx,
        clock: systemClock,
        log: opts.log ?? silentLogger,
        eventsOverLink: true,
        heartbeatIntervalMs: hbMs,
        minBackoffMs: 50,
        maxBackoffMs: 500,
        ...extra,
      });
      const s = { siteId, db, link };
      sites.set(siteId, s);
      await link.start();
      return s;
    },
    async fedctl(...args) {
      let out = '';
      let err = '';
      const code = await fedctl([...args, '--hub', address, '--pki', pki.dir, '--admin', 'alice'], {
        out: (t) => (out += t + '\n'),
        err: (t) => (err += t + '\n'),
        env: {},
      });
      return { code, out, err };
    },
    writeFile(name, text) {
      const p = join(pki.dir, name);
      writeFileSync(p, text);
      return p;
    },
    async close() {
      for (const s of sites.values()) await s.link.stop(200);
      await province.hub.stop();
      for (const s of sites.values()) await s.db.close();
      await hubDb.close();
      pki.cleanup();
    },
  };
  return province;
}

/** The test hub's refusal window (shared/grpc/refusal-log.ts): short, so summaries come soon. */
export const REFUSAL_WINDOW_MS = 200;

export interface RefusalLine {
  msg: string;
  method?: string;
  who?: string;
  peer?: string;
  field?: string;
  reason?: string;
  count?: number;
}

/**
 * What a log says about refusals of `who`: the `rpc refused` lines (each its own refusal) and
 * the total, counting those summed up in `more rpc refusals` lines (a burst from one peer is
 * one line plus a count: which of a burst got its own line depends on timing, the total not).
 */
export function refusalsBy(log: readonly string[], who: string): { lines: RefusalLine[]; total: number } {
  const mine = log
    .map((l) => JSON.parse(l) as RefusalLine)
    .filter((l) => l.who === who && (l.msg === 'rpc refused' || l.msg === 'more rpc refusals'));
  const lines = mine.filter((l) => l.msg === 'rpc refused');
  return { lines, total: lines.length + mine.reduce((n, l) => n + (l.count ?? 0), 0) };
}

export async function count(pool: pg.Pool, sql: string, params: unknown[] = []): Promise<number> {
  const r = await pool.query<{ n: string }>(sql, params);
  return Number(r.rows[0]?.n ?? 0);
}
