/**
 * `kill -9` of a site taking its calls over SIP (issue 12; the SIP counterpart of
 * test/integration/site-crash.test.ts). The real site process (`site-node/main.ts` with a
 * `sip:` section, no `--simulate`; the config of test/support/site-sip.ts, written to a file) on
 * its own PostgreSQL database; SIPp as the carrier's callers and the agents' phones, the agents
 * at the gRPC desk. Before the kill: a caller walks the IVR (1, PIN, 9, 0) to an agent and hangs
 * up (answered); callers report a lost card (3, then 1 to confirm), one of them to the end;
 * another walks to an agent and is talking at the kill, more card-loss callers are in the IVR
 * and callers file a complaint (6, then 1). The site is killed
 * with SIGKILL, restarted on the same config and database, and the test checks:
 *   - the crash invariants of the simulated test (test/support/crash-checks.ts): nothing
 *     committed lost, the calls live at the kill closed `failed` / `site-restart` with one CDR,
 *     the agents signed in reset;
 *   - every caller the site told "the card ending ... is stopped" (`cardloss.stopped`, as the
 *     site logged it) has its card's stop committed, and every caller told "your complaint is
 *     registered as ..." (`feedback.complaint_recorded`) its ticket;
 *   - the callers live at the kill: their BYE reaches a site that no longer knows the dialog,
 *     answered 481, not 200;
 *   - the phones' registrations came back from PostgreSQL (no REGISTER after the restart): an
 *     agent signing in again has its phone, and a new call walks to it and ends answered;
 *   - after a clean stop, no call is live and every call has its CDR.
 * docs/sip.md "The tests", docs/operations.md "Running a site with real voice".
 */
import { afterAll, beforeAll, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { stringify } from 'yaml';
import { applyLedgerMigrations } from '../../shared/bank-host/migrate.js';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { systemClock } from '../../shared/clock.js';
import { createPool } from '../../shared/pg/pool.js';
import { compileSiteConfig, type SiteConfig } from '../../site-node/config.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { DeskRoster } from '../../site-node/cti/desk-access.js';
import { DeskCredentials } from '../../site-node/cti/desk-credentials.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { TEST_SCRYPT, testPassword } from '../../site-node/cti/testing.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { ledgerCustomers, makePopulation } from '../../site-node/sim/population.js';
import { getCdr, seedCustomers } from '../../site-node/store/index.js';
import { migrateSiteStore, storeContext } from '../../site-node/store/context.js';
import { PgDeskCredentialStore } from '../../site-node/store/desk-auth-repo.js';
import { assertNothingLive, assertRecovered, committedAtKill } from '../support/crash-checks.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { startSiteProcess, type SiteProcess } from '../support/site-process.js';
import { assertAllSucceeded, LOCAL, SipPeers } from '../support/sip-peers.js';
import {
  EXAMPLE,
  extensionOf,
  NONCE_SECRET,
  PHONE_PASSWORD,
  QUICK_WALK,
  REALM,
  SECRET_ENV,
  siteSipDoc,
  walk,
} from '../support/site-sip.js';
import { describeSipp, freeUdpPort, type SippOptions, type SippRun } from '../support/sipp.js';
import { waitFor } from '../support/wait.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The card-loss callers: each a customer of its own (one card each), known by number. */
const CARD_LOSS_CALLERS = 4;
/** Callers filing a complaint, live at the kill: customers of their own, after the card-loss ones. */
const COMPLAINT_CALLERS = 2;
/** From the 0 to the BYE: the "please hold" prompt (about 5 s), the phone's ring, then talk. */
const ANSWERED_TALK_MS = 9000;
/** The callers live at the kill stay this long, so their BYE reaches the restarted site. */
const LIVE_MS = 40_000;

let db: TestDatabase;
let pool: pg.Pool;
let dir: string;
let configFile: string;
let config: SiteConfig;
let sipPort: number;
const people = makePopulation('chongqing', CARD_LOSS_CALLERS + COMPLAINT_CALLERS, 11);
const cardLossCallers = people.slice(0, CARD_LOSS_CALLERS);
const complainers = people.slice(CARD_LOSS_CALLERS);
const sites: SiteProcess[] = [];
/** The SIPp callers and phones; the callers live at the kill outlast the restart. */
const peers = new SipPeers(120);
const desks: GrpcAgentDesk[] = [];
const heartbeats: NodeJS.Timeout[] = [];

beforeAll(async () => {
  db = await freshDatabase('crash_sip');
  pool = createPool(db.url, { applicationName: 'test/site-crash-sip' });
  dir = mkdtempSync(join(tmpdir(), 'site-crash-sip-'));
  sipPort = await freeUdpPort();
  const rtp = 38000 + 2 * Math.floor(Math.random() * 1000);
  const doc = siteSipDoc({
    sipPort,
    rtpBase: rtp,
    phones: ['a01', 'a02'],
    timers: { ringTimeout: 4000 },
    maxChannels: 20,
    // The flow records complaints: the complainers killed mid-call leave recordings the restart
    // marks failed (site-restart).
    recordingsDir: join(dir, 'recordings'),
  });
  // The config is written elsewhere: the flow by its absolute path.
  doc.ivr!.flow = join(ROOT, 'site-node/ivr/flows/phone-banking.yaml');
  configFile = join(dir, 'site.yaml');
  writeFileSync(configFile, stringify(doc));
  config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');

  // What an operator does before the first start: the schemas, the bank's and the site's
  // customers, the desk passwords (site-node/admin/set-password.ts does the last).
  await migrateSiteStore(pool);
  await applyLedgerMigrations(pool);
  await seedDemoLedger(pool, [...DEMO_LEDGER_CUSTOMERS.slice(0, 1), ...ledgerCustomers(people)]);
  await seedCustomers(storeContext(pool, config.siteId, systemClock), [
    { ...DEMO_PROFILES[0]!, homeSiteId: config.siteId },
    ...people.map((p) => ({ ...p.profile, segment: 'retail' as const })),
  ]);
  const credentials = new DeskCredentials(
    new PgDeskCredentialStore(pool),
    new DeskRoster({ agents: config.agents, supervisors: config.supervisors, teams: config.teams }),
    systemClock,
    TEST_SCRYPT,
  );
  for (const u of [...config.agents, ...config.supervisors]) {
    await credentials.setPassword(u.id, testPassword(u.id), 'test');
  }
}, 120_000);

afterAll(async () => {
  // SITE_CRASH_SIP_LOG=<file>: both processes' logs (debug), when a run needs explaining.
  const keep = process.env['SITE_CRASH_SIP_LOG'];
  if (keep) writeFileSync(keep, sites.map((s) => s.stderr.join('\n')).join('\n--- restart ---\n'));
  for (const h of heartbeats) clearInterval(h);
  for (const d of desks) d.close();
  for (const s of sites) {
    s.child.kill('SIGKILL');
    await s.exited;
  }
  await peers.cleanup();
  await pool?.end();
  rmSync(dir, { recursive: true, force: true });
  await db?.drop();
});

async function startSite(): Promise<{ site: SiteProcess; desk: GrpcAgentDesk }> {
  const site = await startSiteProcess(
    ['--config', configFile, '--database', db.url, '--insecure-loopback', '--stats-every', '600'],
    {
      // debug: the site logs each prompt it played, by leg; the card-loss check reads them.
      env: { LOG_LEVEL: 'debug', [SECRET_ENV]: NONCE_SECRET },
    },
  );
  sites.push(site);
  assert.deepEqual(site.ready.sip, [`udp:${LOCAL}:${sipPort}`]);
  const desk = new GrpcAgentDesk({
    address: `${LOCAL}:${String(site.ready.ctiPort)}`,
    password: testPassword,
  });
  desks.push(desk);
  return { site, desk };
}

/** An agent phone (agent-phone.xml) registered with digest (agent-register.xml). */
async function registeredPhone(agentId: string): Promise<SippRun> {
  const phone = await peers.sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 200 } });
  await peers.registerPhone({
    remote: `${LOCAL}:${sipPort}`,
    extension: extensionOf(agentId),
    password: PHONE_PASSWORD,
    realm: REALM,
    contactPort: phone.port,
    expires: 600,
  });
  return phone;
}

/** The calls offered to the agents (by the desk events), in order. */
interface Offer {
  agentId: string;
  callId: string;
}

/** Agents signed in and ready, with their phones as the site sees them; every offer answered. */
async function readyAgents(desk: GrpcAgentDesk, agents: string[], offers: Offer[]): Promise<string[]> {
  const phones: string[] = [];
  for (const agentId of agents) {
    desk.subscribe(agentId, (e: DeskEvent) => {
      if (e.type !== 'offer') return;
      offers.push({ agentId, callId: e.pop.callId });
      void desk.answer(agentId, e.pop.callId).catch(() => {});
    });
    phones.push((await desk.login(agentId)).phone ?? 'unknown');
    await desk.setReady(agentId);
  }
  // As a desk does: a heartbeat well within the lease (cti.lease, 30 s), or the agents lapse
  // to not-ready while the test waits for its calls. Ends with the desk (closed at the kill).
  const beat = setInterval(() => {
    for (const agentId of agents) void desk.heartbeat(agentId).catch(() => {});
  }, 5000);
  heartbeats.push(beat);
  return phones;
}

/** The agent to whom `offer` went goes to wrap-up once the call ends; the wrap-up done, the CDR is in. */
async function wrapUp(desk: GrpcAgentDesk, offer: Offer) {
  await waitFor(
    `${offer.agentId} in wrap-up`,
    async () => (await desk.agent(offer.agentId)).state === 'wrap-up',
  );
  await desk.completeWrapup(offer.agentId, offer.callId, 'resolved');
  return waitFor(`the CDR of ${offer.callId}`, () => getCdr(pool, offer.callId));
}

const cardLoss = (ani: string, stayMs: number): SippOptions => ({
  scenario: 'caller-card-loss.xml',
  remote: `${LOCAL}:${sipPort}`,
  calls: 1,
  keys: { dnis: '95588', ani, greeting_ms: QUICK_WALK.greeting_ms, confirm_ms: 800, stay_ms: stayMs },
});

const complaint = (ani: string, stayMs: number): SippOptions => ({
  scenario: 'caller-complaint-leaves.xml',
  remote: `${LOCAL}:${sipPort}`,
  calls: 1,
  keys: { dnis: '95588', ani, greeting_ms: QUICK_WALK.greeting_ms, menu_ms: 800, stay_ms: stayMs },
});

const walkTo = (talkMs: number): SippOptions => ({
  scenario: 'caller.xml',
  remote: `${LOCAL}:${sipPort}`,
  calls: 1,
  keys: walk(talkMs),
});

/**
 * The legs the site told `promptId` (its `sip prompt played` log lines: logged when the prompt
 * ended, so a caller who heard only its start is not counted).
 */
function toldBy(log: string[], promptId: string): Set<string> {
  const legs = new Set<string>();
  for (const line of log) {
    if (!line.includes(promptId)) continue;
    const l = JSON.parse(line) as { msg?: string; promptId?: string; legId?: string };
    if (l.msg === 'sip prompt played' && l.promptId === promptId && l.legId) legs.add(l.legId);
  }
  return legs;
}

const STOPPED = 'cardloss.stopped';
const RECORDED = 'feedback.complaint_recorded';

/**
 * The call (and its caller's number) a caller's leg of the first process belongs to. Asked
 * before the restart: a new process numbers its legs from 1 again.
 */
async function callOfLeg(legId: string): Promise<{ id: string; ani: string }> {
  const r = await pool.query<{ id: string; ani: string }>(
    `SELECT id, ani FROM calls WHERE legs @> $1::jsonb`,
    [JSON.stringify([{ legId }])],
  );
  assert.equal(r.rows.length, 1, `one call has leg ${legId}: ${JSON.stringify(r.rows)}`);
  return r.rows[0]!;
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await pool.query<{ n: string }>(sql, params)).rows[0]!.n);
}

test('kill -9 of a site over SIP: nothing committed lost, no caller told of a stop not committed, phones back from PG, a new call answered', async () => {
  const first = await startSite();
  await registeredPhone('a01');
  await registeredPhone('a02');
  const offers: Offer[] = [];
  assert.deepEqual(await readyAgents(first.desk, ['a01', 'a02'], offers), ['registered', 'registered']);

  // Together, both committed before the kill: a call walks to an agent and ends answered, and
  // a card-loss report is heard to the end ("stopped", then the branch notice).
  const done = await peers.sipp(walkTo(ANSWERED_TALK_MS));
  const reported = await peers.sipp(cardLoss(cardLossCallers[0]!.profile.phones[0]!, 14_000));
  assertAllSucceeded('caller (answered)', await done.done, 1);
  assert.equal(offers.length, 1, JSON.stringify(offers));
  const answered = await wrapUp(first.desk, offers[0]!);
  assert.equal(answered.outcome, 'answered', JSON.stringify(answered));
  assertAllSucceeded('card-loss caller (to the end)', await reported.done, 1);
  await waitFor(
    'the first card-loss call ended',
    async () =>
      (await count(`SELECT count(*) AS n FROM calls WHERE ani = $1 AND ended_at IS NOT NULL`, [
        cardLossCallers[0]!.profile.phones[0]!,
      ])) === 1,
  );

  // Live at the kill: a caller talking to an agent, card-loss callers in the IVR and callers
  // filing a complaint (then queued for complaints, which no agent signed in serves), each
  // started once the one before is in PostgreSQL (the first walks to its agent meanwhile).
  const talking = await peers.sipp(walkTo(LIVE_MS));
  await waitFor(
    'the call of the caller who will talk',
    async () => (await count(`SELECT count(*) AS n FROM calls WHERE ended_at IS NULL`)) === 1,
  );
  const inIvr: SippRun[] = [];
  for (const p of [...cardLossCallers.slice(1), ...complainers]) {
    const ani = p.profile.phones[0]!;
    inIvr.push(await peers.sipp(complainers.includes(p) ? complaint(ani, LIVE_MS) : cardLoss(ani, LIVE_MS)));
    await waitFor(
      `the card-loss call from ${ani}`,
      async () => (await count(`SELECT count(*) AS n FROM calls WHERE ani = $1`, [ani])) === 1,
    );
  }
  // Mid-traffic: the kill once the first caller talks to its agent, a live card-loss caller has
  // been told its card is stopped and a complaint its reference; the others are a step or two
  // behind (keying, waiting for the bank or the ticket, hearing the prompt).
  await waitFor(
    'a caller talking to an agent',
    async () => (await count(`SELECT count(*) AS n FROM calls WHERE state = 'connected'`)) === 1,
    30_000,
  );
  await waitFor(
    'live callers told their card is stopped and their complaint registered',
    () => toldBy(first.site.stderr, STOPPED).size >= 2 && toldBy(first.site.stderr, RECORDED).size >= 1,
    30_000,
  );

  first.site.child.kill('SIGKILL');
  assert.equal(await first.site.exited, null, 'the site was killed, not stopped');
  await first.site.stderrClosed;
  for (const h of heartbeats.splice(0)) clearInterval(h);
  first.desk.close();
  const before = await committedAtKill(pool);
  assert.ok(before.inFlight.length >= 2, `calls live at the kill: ${before.inFlight.join(', ')}`);
  assert.ok(before.agentsIn.length >= 1, 'agents signed in at the kill');

  // Every caller told "stopped" has its card's stop committed (the ledger, before the prompt).
  const told = toldBy(first.site.stderr, STOPPED);
  assert.ok(told.size >= 2, `callers told "stopped": ${[...told].join(', ')}`);
  const cardOf = new Map(cardLossCallers.map((p) => [p.profile.phones[0]!, p.profile.cards[0]!]));
  for (const legId of told) {
    const call = await callOfLeg(legId);
    const card = cardOf.get(call.ani);
    assert.ok(card, `leg ${legId} is a card-loss caller's: ${call.ani}`);
    assert.ok(before.stoppedCards.includes(card), `${call.ani} was told its card ${card} is stopped`);
  }
  // Every caller told "your complaint is registered as ..." has that ticket committed.
  const registered = toldBy(first.site.stderr, RECORDED);
  assert.ok(registered.size >= 1, `callers told "registered": ${[...registered].join(', ')}`);
  for (const legId of registered) {
    const call = await callOfLeg(legId);
    const r = await pool.query<{ id: string }>(
      `SELECT id FROM tickets WHERE call_id = $1 AND kind = 'complaint'`,
      [call.id],
    );
    assert.equal(r.rows.length, 1, `${call.ani} was told its complaint is registered`);
    assert.ok(before.tickets.includes(r.rows[0]!.id));
  }
  // The report heard to the end has its ticket for the branch.
  const ticket = await pool.query<{ n: string }>(
    `SELECT count(*) AS n FROM tickets t JOIN calls c ON c.id = t.call_id WHERE t.kind = 'card-loss' AND c.ani = $1`,
    [cardLossCallers[0]!.profile.phones[0]!],
  );
  assert.equal(Number(ticket.rows[0]!.n), 1, 'the completed report has its card-loss ticket');

  const second = await startSite();
  // Recovery runs before the site reports ready.
  await assertRecovered(pool, before);
  for (const id of before.inFlight) {
    const cdr = await getCdr(pool, id);
    assert.equal(cdr?.outcome, 'failed', JSON.stringify(cdr));
    assert.equal(cdr?.endReason, 'site-restart', JSON.stringify(cdr));
  }

  // The callers live at the kill: the restarted site knows no dialog of theirs, so their BYE
  // is answered 481 (docs/sip.md "The site over SIP"), a failed call for SIPp.
  for (const [what, run] of [
    ['caller talking', talking],
    ...inIvr.map((r, i) => [`card-loss caller ${i + 2}`, r] as const),
  ] as const) {
    const r = await run.done;
    assert.equal(r.stats?.failed, 1, describeSipp(what, r));
    assert.match(r.errors, /481/, describeSipp(what, r));
  }

  // The phones did not register again: their bindings came back from PostgreSQL.
  const offersAfter: Offer[] = [];
  assert.deepEqual(await readyAgents(second.desk, ['a01', 'a02'], offersAfter), ['registered', 'registered']);
  const callsBefore = await count(`SELECT count(*) AS n FROM calls`);
  const after = await peers.sipp(walkTo(ANSWERED_TALK_MS));
  assertAllSucceeded('caller after the restart', await after.done, 1);
  assert.equal(offersAfter.length, 1, JSON.stringify(offersAfter));
  const cdr = await wrapUp(second.desk, offersAfter[0]!);
  assert.equal(await count(`SELECT count(*) AS n FROM calls`), callsBefore + 1);
  assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
  assert.equal(cdr.agentId, offersAfter[0]!.agentId, JSON.stringify(cdr));
  assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
  for (const a of ['a01', 'a02']) await second.desk.logout(a);

  second.site.child.kill('SIGTERM');
  assert.equal(
    await second.site.exited,
    0,
    `clean stop:\n${second.site.stderr
      .filter((l) => !l.includes('"level":"debug"'))
      .slice(-10)
      .join('\n')}`,
  );
  await assertNothingLive(pool);
}, 300_000);
