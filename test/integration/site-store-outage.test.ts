/**
 * Issue 9, item 1: the site's writes are durable or refused, never dropped. A site (real ACD,
 * IVR and store; simulated callers and agents, sped up) takes calls on a PostgreSQL server of
 * the test's own; the server is stopped for about ten seconds under traffic and started again.
 *
 * Then: every call the site took has exactly one call row, ended, with its CDR (none left
 * open, none missing); every caller who heard that a ticket or callback was recorded has it;
 * callers turned away meanwhile heard busy and are counted (one `call.refused` event each, so
 * the day's figures rebuilt from the events agree); and the snapshot said the store was down
 * and admission closed while it was.
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type pg from 'pg';
import { startPrivatePostgres, type PrivatePostgres } from '../support/private-pg.js';
import { waitFor } from '../support/wait.js';
import { compileSiteConfig } from '../../site-node/config.js';
import { Site } from '../../site-node/runtime/site.js';
import { SimMedia, type SimCaller } from '../../site-node/sim/sim-media.js';
import { SimAgents } from '../../site-node/cti/sim-agents.js';
import type { CallLeg } from '../../site-node/telephony/media-port.js';
import { PgLedgerBankHost } from '../../shared/bank-host/pg-ledger.js';
import { createPool } from '../../shared/pg/pool.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { silentLogger } from '../../shared/log.js';

const ROOT = new URL('../..', import.meta.url).pathname;
const SPEED = 10;
const OUTAGE_MS = 10_000;

/** SimMedia that remembers, per leg, what its caller heard and whether it was refused. */
class RecordingMedia extends SimMedia {
  readonly heard = new Map<string, { callId: string; prompts: string[]; rejected?: string }>();
  private entry(leg: CallLeg) {
    let e = this.heard.get(leg.legId);
    if (!e) this.heard.set(leg.legId, (e = { callId: leg.callId, prompts: [] }));
    if (leg.callId) e.callId = leg.callId;
    return e;
  }
  // SimMedia's own reject takes no reason; the site passes one (the MediaPort's).
  override async reject(leg: CallLeg, reason?: 'busy' | 'unavailable'): Promise<void> {
    this.entry(leg).rejected = reason ?? 'unspecified';
    await super.reject(leg);
  }
  override async play(leg: CallLeg, promptId: string): Promise<void> {
    this.entry(leg).prompts.push(promptId);
    await super.play(leg, promptId);
  }
}

type Intent = 'complaint' | 'suggestion' | 'callback' | 'agent';
const INTENTS: Intent[] = ['complaint', 'callback', 'agent', 'suggestion'];

function caller(n: number): SimCaller {
  const intent = INTENTS[n % INTENTS.length]!;
  const ani = `1390000${String(1000 + (n % 9000)).padStart(4, '0')}`;
  return {
    ani,
    dnis: '95588',
    patienceMs: 600_000,
    thinkMs: 300,
    respond: (prompt) => {
      switch (prompt) {
        case 'identify.enter_card':
          return ''; // '#' alone: skip
        case 'main.menu':
          return intent === 'agent' ? '0' : '6';
        case 'feedback.menu':
          return intent === 'complaint' ? '1' : intent === 'suggestion' ? '2' : '3';
        default:
          return 'timeout';
      }
    },
  };
}

let server: PrivatePostgres;
let pool: pg.Pool | undefined;
let site: Site | undefined;
let agents: SimAgents | undefined;
let scheduler: RealScheduler | undefined;

beforeAll(async () => {
  server = await startPrivatePostgres('outage');
});

afterAll(async () => {
  await agents?.stop().catch(() => {});
  await site?.stop().catch(() => {});
  scheduler?.cancelAll();
  await pool?.end().catch(() => {});
  await server?.destroy();
});

test('a site whose database is away for ten seconds loses no fact and refuses, with busy, what it cannot keep', async () => {
  const example = `${ROOT}deploy/examples/site-chongqing.yaml`;
  const doc = parseYaml(readFileSync(example, 'utf8')) as Record<string, unknown>;
  // A small buffer and short waits, so that both kinds of store refusal happen in ten seconds.
  doc.store = {
    bufferCapacity: 80,
    closeAdmissionWhileDownAt: 12,
    firstRowWait: '1s',
    recordWait: '2s',
    drainAtStop: '10s',
  };
  const config = compileSiteConfig(doc, dirname(example), 'site');
  pool = createPool(server.url, { applicationName: 'test/outage', max: 12, connectionTimeoutMs: 2_000 });
  scheduler = new RealScheduler({ speed: SPEED });
  const media = new RecordingMedia(scheduler);
  site = new Site({
    config,
    pool,
    databaseUrl: server.url,
    scheduler,
    media,
    bank: new PgLedgerBankHost(pool, { clock: scheduler }),
    log: silentLogger,
    cti: false,
    web: false,
    drainMs: 60_000,
    jobPollingSeconds: 1,
  });
  await site.start();
  agents = new SimAgents(
    { desk: site.desk, scheduler, log: silentLogger },
    {
      agentIds: config.agents.map((a) => a.id),
      seed: 7,
      ringDelay: { kind: 'uniform', minMs: 500, maxMs: 1_500 },
      handleTime: { kind: 'uniform', minMs: 5_000, maxMs: 15_000 },
      wrapupTime: { kind: 'fixed', ms: 2_000 },
    },
  );
  await agents.start();

  // Traffic: a caller every 100 ms of real time, complaints, suggestions, callbacks and agents.
  let placed = 0;
  const traffic = setInterval(() => media.place(caller(placed++)), 100);
  const seen = { down: false, closed: false };
  const watch = setInterval(() => {
    const s = site!.snapshot().store;
    if (s?.state === 'down') seen.down = true;
    if (s?.admission === 'closed') seen.closed = true;
  }, 20);
  try {
    // Calls in every phase when the store goes: in the IVR, waiting, with agents.
    await waitFor('tickets recorded and calls in progress before the outage', async () => {
      const r = await pool!.query(`SELECT count(*)::int AS n FROM tickets`);
      return r.rows[0].n >= 4 && site!.snapshot().liveCalls >= 15;
    });
    const stoppedAt = Date.now();
    await server.stop();
    await waitFor('store-related refusals during the outage', () =>
      [...media.heard.values()].some((h) => h.rejected === 'busy'),
    );
    await waitFor('ten seconds of outage', () => Date.now() - stoppedAt >= OUTAGE_MS, OUTAGE_MS + 5_000);
    await server.start();
    await waitFor('the store back in the snapshot', () => site!.snapshot().store?.state === 'up', 30_000);
    const takenSoFar = () => [...media.heard.values()].filter((h) => !h.rejected && h.callId).length;
    const before = takenSoFar();
    await waitFor('calls taken again after the outage', () => takenSoFar() >= before + 10, 30_000);
  } finally {
    clearInterval(traffic);
  }
  // Every call placed finishes, and every write lands.
  await waitFor(
    'every call finished and every write landed',
    () => site!.snapshot().liveCalls === 0 && site!.snapshot().pendingWrites === 0,
    90_000,
    100,
  );
  clearInterval(watch);
  const snapshot = site.snapshot();

  const heard = [...media.heard.values()];
  const refused = heard.filter((h) => h.rejected);
  const taken = heard.filter((h) => !h.rejected && h.callId);
  assert.ok(taken.length > 0);

  // Every call the site took: one call row, terminal, with its CDR.
  const rows = await pool.query<{ id: string; state: string; cdr: string | null }>(
    `SELECT c.id, c.state, d.call_id AS cdr FROM calls c LEFT JOIN cdrs d ON d.call_id = c.id`,
  );
  const byId = new Map(rows.rows.map((r) => [r.id, r]));
  const missing = taken.filter((h) => !byId.has(h.callId)).map((h) => h.callId);
  assert.deepEqual(missing, [], 'calls the site took without a call row');
  const open = rows.rows.filter((r) => ['ivr', 'queued', 'offered', 'connected', 'wrapup'].includes(r.state));
  assert.deepEqual(open, [], 'calls left open');
  const noCdr = rows.rows.filter((r) => r.cdr === null).map((r) => r.id);
  assert.deepEqual(noCdr, [], 'calls without a CDR');
  assert.equal(rows.rows.length, taken.length, 'one row per call taken, no more');

  // Every caller told "recorded" has the ticket (complaint, suggestion) or callback request.
  const tickets = await pool.query<{ call_id: string; kind: string }>(`SELECT call_id, kind FROM tickets`);
  const has = (callId: string, kind: string) =>
    tickets.rows.some((t) => t.call_id === callId && t.kind === kind);
  const told: Array<[string, string]> = [
    ['feedback.complaint_recorded', 'complaint'],
    ['feedback.suggestion_recorded', 'suggestion'],
    ['callback.scheduled', 'callback-request'],
    // Turned away by a full queue or a long wait with a callback, or pressed the key in queue.
    ['acd.callback_offered', 'callback-request'],
    ['acd.callback_confirmed', 'callback-request'],
  ];
  for (const [prompt, kind] of told) {
    const lost = taken.filter((h) => h.prompts.includes(prompt) && !has(h.callId, kind)).map((h) => h.callId);
    assert.deepEqual(lost, [], `callers told ${prompt} whose ${kind} does not exist`);
  }

  assert.ok(refused.length > 0, 'callers were refused while the store was away');
  assert.ok(
    refused.every((h) => h.rejected === 'busy'),
    'refused callers heard busy',
  );
  // Refusals are counted, live and in the events the day's figures are rebuilt from.
  const events = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM outbox WHERE type = 'call.refused'`,
  );
  assert.equal(events.rows[0]!.n, refused.length, 'one call.refused event per caller refused');
  // A caller refused after the site had given the call an id (its first row not committed in
  // time) finds its refusal under that id: the call's one terminal record.
  const refusedIds = new Set(
    (
      await pool.query<{ id: string }>(`SELECT aggregate_id AS id FROM outbox WHERE type = 'call.refused'`)
    ).rows.map((r) => r.id),
  );
  const lostIds = refused.filter((h) => h.callId && !refusedIds.has(h.callId)).map((h) => h.callId);
  assert.deepEqual(lostIds, [], 'refused calls with an id whose refusal is not under that id');
  // Blocked also counts callers announced busy for want of an IVR port (they have a call row).
  assert.ok(snapshot.summary.blocked >= refused.length, 'refused callers counted as blocked');
  assert.equal(snapshot.summary.offered, placed);

  assert.ok(seen.down, 'the snapshot said the store was down');
  assert.ok(seen.closed, 'the snapshot said admission was closed');
  assert.equal(snapshot.failedWrites, 0, 'no write given up on');
}, 240_000);
