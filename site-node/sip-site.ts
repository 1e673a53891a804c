/**
 * A site with real voice (docs/sip.md "The site over SIP", docs/operations.md): the runtime on
 * its database, the reference ledger as the bank, and the SIP media port from the config's
 * `sip:` section instead of the simulated callers. What `main.ts` runs without `--simulate`.
 *
 * Start order: the engine and the port (the Site needs its media port), the Site (it migrates
 * the database), then the registrar on that database and the SIP stack: no call arrives before
 * the site can take it. Stop order: the Site (it stops taking calls and hangs up the live ones
 * through the port, whose BYEs still need the stack), then the port's stragglers, the stack,
 * the engine and the pool.
 */
import type pg from 'pg';
import { BANK_POOL_MAX, DEFAULT_STORE_WRITES, SITE_POOL_MAX, type SiteConfig } from './config.js';
import { Site } from './runtime/site.js';
import { PgLedgerBankHost } from '../shared/bank-host/pg-ledger.js';
import { createSitePool } from './store/site-pool.js';
import type { Logger } from '../shared/log.js';
import { RealScheduler } from '../shared/scheduler.js';
import { createSipVoice, type SipVoice } from './telephony/sip-voice.js';
import { queueAnnouncement } from './telephony/queue-announcement.js';

export interface SipSiteOptions {
  config: SiteConfig;
  databaseUrl: string;
  log: Logger;
  /** Plaintext agent desk on a loopback `cti.host` (`--insecure-loopback`). */
  insecureLoopback?: boolean;
  /** How long a stop lets live calls finish (Site `drainMs`); default the Site's 30 s. */
  drainMs?: number;
  /** How often a caller on hold hears its position and expected wait; default 30 s. */
  announceEveryMs?: number;
  /** The prompt build's manifest; default .cache/prompts/manifest.json (`npm run prompts`). */
  promptManifest?: string;
}

export interface SipSite {
  site: Site;
  voice: SipVoice;
  pool: pg.Pool;
  stop(): Promise<void>;
}

export async function startSipSite(o: SipSiteOptions): Promise<SipSite> {
  const scheduler = new RealScheduler();
  // The site (and its ACD) exists only after the port: the announcement asks it when it plays.
  const late: { site?: Site } = {};
  const voice = await createSipVoice({
    config: o.config,
    scheduler,
    log: o.log,
    port: {
      queueAnnouncement: (callId) => (late.site ? queueAnnouncement(late.site.engine, callId) : []),
      ...(o.announceEveryMs === undefined ? {} : { announceEveryMs: o.announceEveryMs }),
    },
    ...(o.promptManifest === undefined ? {} : { promptManifest: o.promptManifest }),
    // Hand-overs find the other sites in the topology the hub link runs (none without a hub).
    topology: () => late.site?.hubLink?.topology ?? null,
  });
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
  const site = new Site({
    config: o.config,
    pool,
    databaseUrl: o.databaseUrl,
    scheduler,
    media: voice.port,
    bank: new PgLedgerBankHost(bankPool, { clock: scheduler }),
    log: o.log,
    insecureLoopback: o.insecureLoopback ?? false,
    ...(o.drainMs === undefined ? {} : { drainMs: o.drainMs }),
    // The registrar opens after the site migrated its database; until then no phone is known.
    phones: { phoneState: (agentId) => voice.registrar?.phoneState(agentId) ?? 'not-registered' },
  });
  late.site = site;
  try {
    await site.start();
    await voice.listen(pool, (agentId) => site.desk.phoneChanged(agentId));
  } catch (e) {
    await site.stop().catch(() => {});
    await voice.stop().catch(() => {});
    await pool.end().catch(() => {});
    await bankPool.end().catch(() => {});
    throw e;
  }
  let stopping: Promise<void> | undefined;
  return {
    site,
    voice,
    pool,
    stop() {
      stopping ??= (async () => {
        await site.stop();
        await voice.stop();
        await pool.end();
        await bankPool.end();
      })();
      return stopping;
    },
  };
}
