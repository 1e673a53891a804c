/**
 * The example site (deploy/examples/site-chongqing.yaml) running in this process on a database
 * of its own, with simulated media, the reference ledger, a few known customers and a gRPC
 * agent desk client: the start of every test that drives a real site through its desk.
 * The desk is served in plaintext on loopback (`insecureLoopback`; the example's `cti.tls`
 * files are not made here) and every agent and supervisor has the password
 * `testPassword(id)` (site-node/cti/testing.ts), with which `desk` signs agents in at login.
 * `edit` changes the parsed config file before it is compiled (a shorter wait, a lease);
 * `speed` runs the site's clock sped up, as the simulation does; `answers` picks who picks up
 * a callback; `drainMs` how long its stop lets calls finish.
 */
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type pg from 'pg';
import { parse as parseYaml } from 'yaml';
import { PgLedgerBankHost, seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { createPool } from '../../shared/pg/pool.js';
import { tlsClientCredentials } from '../../shared/grpc/tls.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { compileSiteConfig, type SiteConfig } from '../../site-node/config.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { Site } from '../../site-node/runtime/site.js';
import { ledgerCustomers, makePopulation, type SimCustomer } from '../../site-node/sim/population.js';
import { SimMedia } from '../../site-node/sim/sim-media.js';
import { seedCustomers } from '../../site-node/store/index.js';
import type { PhonePresence } from '../../site-node/telephony/phone-registrar.js';
import { freshDatabase, type TestDatabase } from './pg.js';

const EXAMPLE = new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;

export interface ExampleSite {
  db: TestDatabase;
  pool: pg.Pool;
  config: SiteConfig;
  site: Site;
  media: SimMedia;
  scheduler: RealScheduler;
  /** Known customers (retail), seeded in the site's cache and the ledger. */
  people: SimCustomer[];
  desk: GrpcAgentDesk;
  close(): Promise<void>;
}

export async function startExampleSite(opts: {
  label: string;
  edit?: (doc: Record<string, unknown>) => void;
  /** The site's logger (default silent); a test that checks what the site logs passes one. */
  log?: Logger;
  /** Simulated ms per real ms (RealScheduler); default 1, real time. */
  speed?: number;
  /** Whether the customer at a number answers when the site calls back; default: everyone does. */
  answers?: (number: string) => boolean;
  /** How long a stop lets live calls finish (Site `drainMs`); default 1 s. */
  drainMs?: number;
  /** Serve the desk with this `cti.tls` (paths) instead of plaintext on loopback. */
  tls?: { ca: string; cert: string; key: string };
  /** The agents' phones (site-node/telephony/phone-registrar.ts), for a site with real voice. */
  phones?: PhonePresence;
}): Promise<ExampleSite> {
  const db = await freshDatabase(opts.label);
  const pool = createPool(db.url, { applicationName: `test/${opts.label}` });
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;
  const cti = doc.cti as Record<string, unknown>;
  delete cti.tls;
  if (opts.tls) cti.tls = opts.tls;
  opts.edit?.(doc);
  const config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');
  const scheduler = new RealScheduler({ speed: opts.speed ?? 1 });
  // Whoever the site calls back answers at once (unless `answers` says not) and waits for the agent.
  const media = new SimMedia(scheduler, (n) =>
    opts.answers && !opts.answers(n)
      ? undefined
      : { ani: n, dnis: 'callback', patienceMs: 600_000, thinkMs: 20, respond: () => 'timeout' },
  );
  const site = new Site({
    config,
    pool,
    databaseUrl: db.url,
    scheduler,
    media,
    bank: new PgLedgerBankHost(pool),
    log: opts.log ?? silentLogger,
    drainMs: opts.drainMs ?? 1000,
    jobPollingSeconds: 1,
    insecureLoopback: opts.tls === undefined,
    ...(opts.phones ? { phones: opts.phones } : {}),
  });
  await site.start();
  await Promise.all(
    [...config.agents, ...config.supervisors].map((u) =>
      site.credentials.setPassword(u.id, testPassword(u.id), 'test'),
    ),
  );
  const people = makePopulation(config.siteId, 3, 5);
  await seedDemoLedger(pool, ledgerCustomers(people));
  await seedCustomers(
    site.store,
    people.map((p) => ({ ...p.profile, segment: 'retail' as const })),
  );
  const desk = new GrpcAgentDesk({
    address: `127.0.0.1:${site.ctiPort}`,
    password: testPassword,
    ...(opts.tls
      ? {
          credentials: tlsClientCredentials(readFileSync(opts.tls.ca), {
            expectServer: { kind: 'site', id: config.siteId },
          }),
        }
      : {}),
  });
  return {
    db,
    pool,
    config,
    site,
    media,
    scheduler,
    people,
    desk,
    async close() {
      desk.close();
      await site.stop();
      await pool.end();
      await db.drop();
    },
  };
}
