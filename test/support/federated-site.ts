/**
 * A real site of the example province (its deploy/examples config) in this process, on a
 * database of its own, linked to a test hub (federation.ts) through a toxiproxy proxy of its
 * own, so a test can cut or slow that one link. Voice is simulated: callers are placed on its
 * SimMedia, and a caller moved to another site travels in the overflow request (the carried
 * route of site-node/sim/sim-hand-over.ts, as between the province's processes). Agents are
 * driven through the site's own desk (`site.desk`), in process: a test decides exactly who is
 * ready, so it can make a site busy or free at will. Every log line is kept (`lines`) and can
 * be watched as it is written (`onLine`).
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { exampleSiteConfig } from '../../deploy/demo/layout.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { createLogger } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { compileSiteConfig, type SiteConfig } from '../../site-node/config.js';
import type { DeskEvent, ScreenPop } from '../../site-node/cti/agent-desk.js';
import { Site } from '../../site-node/runtime/site.js';
import type { SimVoiceNetwork } from '../../site-node/sim/sim-hand-over.js';
import { carriedHandOver } from '../../site-node/sim/sim-hand-over.js';
import { SimMedia } from '../../site-node/sim/sim-media.js';
import type { CallLeg } from '../../site-node/telephony/media-port.js';
import type { TestProvince } from './federation.js';
import { freshDatabase, type TestDatabase } from './pg.js';

export interface FederatedSite {
  siteId: string;
  db: TestDatabase;
  pool: pg.Pool;
  config: SiteConfig;
  site: Site;
  media: SimMedia;
  proxy: Proxy;
  /** Every JSON log line the site wrote. */
  lines: string[];
  /** Call `f` with each log line as it is written (returns an unsubscribe). */
  onLine(f: (line: string) => void): () => void;
  /** Cut (false) or restore (true) the site's link to the hub. */
  setLink(enabled: boolean): Promise<void>;
  /** A caller who presses 0 at the menu (the retail queue) and waits `patienceMs`. */
  placeRetailCall(ani: string, patienceMs?: number): CallLeg;
  /** Log the agent in and make it ready; it answers every offer at once. Returns its offers. */
  readyAgent(agentId: string): Promise<ScreenPop[]>;
  logoutAll(): Promise<void>;
  close(): Promise<void>;
}

export async function startFederatedSite(
  p: TestProvince,
  siteId: string,
  opts: {
    edit?: (doc: Record<string, unknown>) => void;
    /**
     * The callers move through this in-process network when the origin hands them over, after
     * the admit's ack (as over SIP), instead of travelling in the request.
     */
    network?: SimVoiceNetwork;
  } = {},
): Promise<FederatedSite> {
  p.pki.issue('site', siteId);
  const toxiproxy = new Toxiproxy(process.env.TOXIPROXY_URL!);
  let proxy = await toxiproxy.createProxy({
    name: `${siteId}-hub-${Math.random().toString(16).slice(2, 10)}`,
    listen: '127.0.0.1:0',
    upstream: p.address,
    enabled: true,
  });
  const db = await freshDatabase(`ovf_${siteId}`);
  const pool = createPool(db.url, { applicationName: `test/ovf-${siteId}` });
  const template = exampleSiteConfig(siteId);
  const doc = parseYaml(readFileSync(template, 'utf8')) as Record<string, unknown>;
  const tls = p.pki.paths('site', siteId);
  doc.cti = { host: '127.0.0.1', port: 0 };
  doc.hub = {
    address: proxy.listen,
    id: 'hub',
    tls: { ca: tls.caPath, cert: tls.certPath, key: tls.keyPath },
    events: 'link',
    snapshotIntervalMs: 200,
  };
  opts.edit?.(doc);
  const config = compileSiteConfig(doc, dirname(template), 'site');
  const scheduler = new RealScheduler();
  const media = new SimMedia(scheduler);
  if (opts.network) {
    opts.network.join(siteId, media);
    media.useHandOverRoute(opts.network);
  } else media.useHandOverRoute(carriedHandOver);
  const lines: string[] = [];
  const watchers = new Set<(l: string) => void>();
  const log = createLogger(
    { site: siteId },
    {
      level: 'info',
      write: (l) => {
        lines.push(l);
        for (const w of watchers) w(l);
      },
    },
  );
  const site = new Site({
    config,
    pool,
    databaseUrl: db.url,
    scheduler,
    media,
    bank: new PgLedgerBankHost(pool),
    log,
    cti: false,
    web: false,
    drainMs: 500,
    jobPollingSeconds: 1,
    ...(opts.network ? {} : { simCallers: media }),
  });
  await site.start();
  const deskStops: Array<() => void> = [];
  return {
    siteId,
    db,
    pool,
    config,
    site,
    media,
    get proxy() {
      return proxy;
    },
    lines,
    onLine(f) {
      watchers.add(f);
      return () => watchers.delete(f);
    },
    async setLink(enabled) {
      proxy = await proxy.update({ enabled, listen: proxy.listen, upstream: proxy.upstream });
    },
    placeRetailCall(ani, patienceMs = 600_000) {
      return media.place({
        ani,
        dnis: '95599',
        patienceMs,
        thinkMs: 20,
        respond: (prompt) => (prompt === 'main.menu' ? '0' : 'timeout'),
      });
    },
    async readyAgent(agentId) {
      const pops: ScreenPop[] = [];
      deskStops.push(
        site.desk.subscribe(agentId, (e: DeskEvent) => {
          if (e.type !== 'offer') return;
          pops.push(e.pop);
          void site.desk.answer(agentId, e.pop.callId).catch(() => undefined);
        }),
      );
      await site.desk.login(agentId);
      await site.desk.setReady(agentId);
      return pops;
    },
    async logoutAll() {
      for (const s of deskStops.splice(0)) s();
      for (const a of config.agents) {
        const v = site.engine.agent(a.id);
        if (!v || v.state === 'logged-out') continue;
        if (v.state === 'ready' || v.state === 'not-ready') await site.desk.logout(a.id);
      }
    },
    async close() {
      for (const s of deskStops.splice(0)) s();
      await site.stop();
      await pool.end();
      await db.drop();
      await proxy.remove();
    },
  };
}
