/**
 * Issue 9, item 2: a site stopped and started mid-day shows the same figures. A simulated site
 * (real PostgreSQL, real ACD and IVR, simulated callers and agents, sped up) takes calls until
 * every kind of fact has happened; it stops; a new site starts on the same database at the same
 * site time, and its snapshot is compared with the old one figure by figure.
 *
 * Counted figures (rebuilt from the stored events, so they must be equal): the day's summary
 * (offered, answered, abandoned, self-service, blocked, fallbacks, service level, ASA, abandon
 * rate, tickets, card-loss reports, callbacks) and each queue's sliding window (its counts,
 * service levels, ASA, abandon rate) and AHT. Live figures (calls in progress, IVR sessions,
 * waiting calls, oldest wait, agents by state, EWT, pending writes) are closed by recovery at
 * start and are not compared.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type pg from 'pg';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';
import { compileSiteConfig, type SiteConfig } from '../../site-node/config.js';
import { Site, type SiteSnapshot } from '../../site-node/runtime/site.js';
import { startSimulatedSite } from '../../site-node/sim/simulated-site.js';
import { SimMedia } from '../../site-node/sim/sim-media.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { createPool } from '../../shared/pg/pool.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { silentLogger } from '../../shared/log.js';

const ROOT = new URL('../..', import.meta.url).pathname;
let db: TestDatabase;
let pool: pg.Pool | undefined;
let site: Site | undefined;

function exampleConfig(): SiteConfig {
  const example = `${ROOT}deploy/examples/site-chongqing.yaml`;
  const doc = parseYaml(readFileSync(example, 'utf8')) as Record<string, unknown>;
  // Few trunks and IVR ports, so that callers are also refused (both kinds of blocked call).
  doc.trunks = 14;
  doc.ivrPorts = 10;
  // Short limits, so that the ACD's fallbacks happen too: a VIP caller overflows to retail
  // after 30 s, a retail caller beyond 3 waiting is offered a callback (refused on entry), and
  // one who waits 60 s is offered a callback (timed out).
  const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
  Object.assign(
    queues.find((q) => q.id === 'vip')!,
    { maxWaitMs: '30s', onMaxWait: 'overflow-queue:retail' },
  );
  Object.assign(
    queues.find((q) => q.id === 'retail')!,
    { maxQueueLength: 3, maxWaitMs: '60s' },
  );
  return compileSiteConfig(doc, dirname(example), 'site');
}

/** What a restart must keep: everything but the live figures (see the header). */
function counted(s: SiteSnapshot): unknown {
  return {
    summary: s.summary,
    queues: s.queues.map((q) => ({
      queueId: q.queueId,
      window: q.window,
      serviceLevel: q.serviceLevel,
      serviceLevels: q.serviceLevels,
      asaMs: q.asaMs,
      abandonRate: q.abandonRate,
      ahtMs: q.ahtMs,
    })),
  };
}

beforeAll(async () => {
  db = await freshDatabase('statsrestart');
});

afterAll(async () => {
  await site?.stop();
  await pool?.end();
  await db?.drop();
});

test('a site stopped and started again shows every counted figure it showed before', async () => {
  const config = exampleConfig();
  const sim = await startSimulatedSite({
    config,
    databaseUrl: db.url,
    speed: 40,
    callsPerHour: 3000,
    customers: 40,
    seed: 11,
    log: silentLogger,
    cti: false,
  });
  try {
    await waitFor(
      'answered, abandoned, blocked, self-service calls, and both kinds of fallback',
      () => {
        const snap = sim.site.snapshot();
        const s = snap.summary;
        // Both kinds of fallback in the windows: a caller who waited too long, one turned away.
        const windows = snap.queues.map((q) => q.window);
        return (
          windows.some((w) => w.timedOut > 0) &&
          windows.some((w) => w.rejected > 0) &&
          s.answered >= 15 &&
          s.abandoned >= 1 &&
          s.blocked >= 1 &&
          s.selfService >= 5 &&
          s.fallbacks >= 2 &&
          s.tickets >= 1
        );
      },
      90_000,
      200,
    );
  } finally {
    await sim.stop();
  }
  const before = sim.site.snapshot();
  assert.ok(before.summary.offered > 0);
  // Every fact written: a caller who left as the agent was being bridged had its wrap-up
  // written before its answer, refused (`is offered, not connected`) on a loaded machine.
  assert.equal(before.failedWrites, 0);
  const windows = before.queues.map((q) => q.window);
  assert.ok(windows.some((w) => w.timedOut > 0) && windows.some((w) => w.rejected > 0));

  // The same site, started again on the same database at the same site time.
  pool = createPool(db.url, { applicationName: 'statsrestart-2' });
  const scheduler = new VirtualScheduler(before.atMs);
  site = new Site({
    config,
    pool,
    databaseUrl: db.url,
    scheduler,
    media: new SimMedia(scheduler),
    bank: new PgLedgerBankHost(pool, { clock: scheduler }),
    log: silentLogger,
    cti: false,
    web: false,
  });
  await site.start();
  const after = site.snapshot();
  assert.equal(after.atMs, before.atMs);
  assert.deepEqual(counted(after), counted(before));
});
