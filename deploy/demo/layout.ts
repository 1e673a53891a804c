/**
 * A province laid out on one machine: the provincial PKI (deploy/pki.sh), the hub's config,
 * one config per site node (from its example in deploy/examples, pointed at its own database
 * and at the hub), and the hub's customer directory seeded with every site's customers. Used by the
 * province demo (`npm run demo`) and by the multi-process test harness
 * (test/support/province.ts), so both run exactly what an admin would deploy.
 *
 * Files under `dir`: pki/ (CA, hub, site and admin certificates), hub.yaml, site-<id>.yaml.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml, stringify as toYaml } from 'yaml';
import type pg from 'pg';
import { makePopulation } from '../../site-node/sim/population.js';
import { PgDirectoryStore } from '../../hub/directory/pg-directory.js';
import { migrateHubStore } from '../../hub/store/migrate.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const PKI_SCRIPT = join(ROOT, 'deploy/pki.sh');
/**
 * The example config of a site node of the example province: its ACD offers the queues
 * province.yaml lists for it (a site refuses a topology that says otherwise).
 */
export function exampleSiteConfig(siteId: string): string {
  const path = join(ROOT, `deploy/examples/site-${siteId}.yaml`);
  if (!existsSync(path)) throw new Error(`no example config for site ${siteId}: ${path} does not exist`);
  return path;
}
export const PROVINCE_TOPOLOGY = join(ROOT, 'deploy/examples/province.yaml');

export interface PkiLayout {
  dir: string;
  ca: string;
  cert(kind: 'hub' | 'site' | 'gateway' | 'admin', id: string): { cert: string; key: string };
}

/** Make (or reuse) the CA and the certificates of the hub, the sites and the admins. */
export function writePki(
  dir: string,
  /** `hub`: one hub's id, or a leader's and a standby's (docs/architecture.md §6.6). */
  nodes: { hub: string | readonly string[]; sites: readonly string[]; admins: readonly string[] },
): PkiLayout {
  const pki = join(dir, 'pki');
  mkdirSync(pki, { recursive: true });
  const run = (...args: string[]) => execFileSync('bash', [PKI_SCRIPT, pki, ...args], { stdio: 'pipe' });
  run('ca');
  for (const h of typeof nodes.hub === 'string' ? [nodes.hub] : nodes.hub) run('node', 'hub', h);
  for (const s of nodes.sites) run('node', 'site', s);
  for (const a of nodes.admins) run('node', 'admin', a);
  return {
    dir: pki,
    ca: join(pki, 'ca.crt'),
    cert: (kind, id) => ({ cert: join(pki, `${kind}-${id}.crt`), key: join(pki, `${kind}-${id}.key`) }),
  };
}

export interface HubLayout {
  hubId: string;
  databaseUrl: string;
  port: number;
  topologyPath: string;
  heartbeatIntervalMs: number;
  kafka?: { brokers: string; topic: string; groupId: string };
  /** The lease TTL (hub config `lease.ttl`); default the hub's. */
  leaseTtlMs?: number;
  /** The file written in `dir`; default hub.yaml. */
  fileName?: string;
}

export function writeHubConfig(dir: string, pki: PkiLayout, h: HubLayout): string {
  const c = pki.cert('hub', h.hubId);
  const doc = {
    hub: { id: h.hubId },
    database: { url: h.databaseUrl },
    grpc: { host: '127.0.0.1', port: h.port },
    tls: { ca: pki.ca, cert: c.cert, key: c.key },
    heartbeatIntervalMs: h.heartbeatIntervalMs,
    topology: h.topologyPath,
    ...(h.kafka ? { kafka: h.kafka } : {}),
    ...(h.leaseTtlMs === undefined ? {} : { lease: { ttl: h.leaseTtlMs } }),
  };
  const path = join(dir, h.fileName ?? 'hub.yaml');
  writeFileSync(path, toYaml(doc));
  return path;
}

export interface SiteLayout {
  siteId: string;
  /** Default: the template's. */
  city?: string;
  databaseUrl: string;
  /**
   * Where the site dials the hub (the hub itself, or a toxiproxy in front of it); a list for
   * a leader and a standby, in order.
   */
  hubAddress: string | readonly string[];
  hubId: string | readonly string[];
  events: 'link' | 'kafka';
  kafka?: { brokers: string; topic: string };
  /** Other sites' bank hosts (their databases), for roaming customers. */
  bankHosts: Record<string, string>;
  snapshotIntervalMs?: number;
  /** Default: the site's example config (exampleSiteConfig). */
  template?: string;
}

/** A site config from its template, with its database, hub link and bank hosts. */
export function writeSiteConfig(dir: string, pki: PkiLayout, s: SiteLayout): string {
  const template = s.template ?? exampleSiteConfig(s.siteId);
  const doc = parseYaml(readFileSync(template, 'utf8')) as Record<string, unknown> & {
    site: { id: string; city: string };
    ivr: { flow: string; prompts?: string };
  };
  const base = dirname(template);
  const c = pki.cert('site', s.siteId);
  doc.site = { ...doc.site, id: s.siteId, city: s.city ?? doc.site.city };
  doc.database = { url: s.databaseUrl };
  doc.ivr = {
    ...doc.ivr,
    flow: resolve(base, doc.ivr.flow),
    ...(doc.ivr.prompts ? { prompts: resolve(base, doc.ivr.prompts) } : {}),
  };
  // The agent desk speaks TLS with the site's own certificate (docs/architecture.md §4.3).
  doc.cti = { host: '127.0.0.1', port: 0, tls: { ca: pki.ca, cert: c.cert, key: c.key } };
  doc.web = { host: '127.0.0.1', port: 0 };
  doc.hub = {
    ...(typeof s.hubAddress === 'string' ? { address: s.hubAddress } : { addresses: [...s.hubAddress] }),
    id: typeof s.hubId === 'string' ? s.hubId : [...s.hubId],
    tls: { ca: pki.ca, cert: c.cert, key: c.key },
    events: s.events,
    ...(s.kafka ? { kafka: s.kafka } : {}),
    snapshotIntervalMs: s.snapshotIntervalMs ?? 1000,
  };
  doc.bankHosts = Object.fromEntries(Object.entries(s.bankHosts).map(([id, url]) => [id, { database: url }]));
  const path = join(dir, `site-${s.siteId}.yaml`);
  writeFileSync(path, toYaml(doc));
  return path;
}

/**
 * The hub's directory is the system of record: load every site's (simulated) customers into
 * it, the same ones each simulated site generates (same count and seed), so a site's own
 * customers reach its cache through the change feed and a roaming caller is found by number.
 */
export async function seedProvinceDirectory(
  hubPool: pg.Pool,
  siteIds: readonly string[],
  customersPerSite: number,
  seed: number,
): Promise<number> {
  await migrateHubStore(hubPool);
  // Only into an empty directory: seeding writes version 1, and a site that already cached a
  // later version would never take an older one.
  const dir = new PgDirectoryStore(hubPool);
  if ((await dir.counts()).customers > 0) return 0;
  let n = 0;
  for (const id of siteIds) {
    n += await dir.seed(
      makePopulation(id, customersPerSite, seed).map((c) => c.profile),
      Date.now(),
    );
  }
  return n;
}
