/**
 * A callback dialled out over SIP (issue 12): the example site in this process on its own
 * PostgreSQL database, built as main.ts builds it without --simulate (site-node/sip-site.ts),
 * its `sip.dialOut` through the trunk whose outbound proxy is a SIPp UAS playing the customer.
 * A callback request is scheduled as a ticket (its pg-boss job hands it to the site), the
 * callback takes its place in retail, an agent (a SIPp phone registered with digest, ready at
 * the gRPC desk) is reserved, and the site dials the customer:
 * - the customer answers (customer-answers.xml): the call is offered to a02, its phone rings and
 *   answers, RTP flows both ways through the site, the customer hangs up; the ticket is closed
 *   `callback-placed` and the callback's CDR says answered by a02;
 * - the customer's line is busy (customer-busy.xml, 486): each try is `callback-no-answer`, the
 *   callback goes back to its place and is tried again, then closed `callback-failed`.
 * And the whole path from a real caller: a SIPp caller walks the IVR to retail, waits (a01 signed
 * in, not ready), presses the queue's callback key (caller-asks-callback.xml) and is let go;
 * once a01 is ready the site calls the customer back through the trunk and bridges a01's phone.
 * docs/sip.md "The site over SIP" (`dial`).
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { getCdr, getTicket, seedCustomers, type TicketRecord } from '../../site-node/store/index.js';
import type { SipVoice } from '../../site-node/telephony/sip-voice.js';
import { startSipSite, type SipSite } from '../../site-node/sip-site.js';
import { compileSiteConfig } from '../../site-node/config.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { RtpMeter } from '../support/rtp-meter.js';
import {
  describeSipp,
  freeUdpPort,
  startSipp,
  type SippOptions,
  type SippResult,
  type SippRun,
} from '../support/sipp.js';
import { RETAIL_ANI } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';

const EXAMPLE = new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
const REALM = 'chongqing.cc.example';
const PASSWORD = 'phone-test-password';
const LOCAL = '127.0.0.1';
const SECRET_ENV = 'DIALOUT_SITE_SIP_NONCE_SECRET';
/** The bank's number callbacks show. */
const CALLER_ID = '95588';
/** SITE_SIP_TEST_LOG=debug shows the site's log on stderr when a run needs explaining. */
const log = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;

let db: TestDatabase;
let real: SipSite;
let voice: SipVoice;
let desk: GrpcAgentDesk;
let sipPort: number;
/** The carrier's outbound proxy: where the customer's SIPp listens. */
let customerPort: number;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sipp(o: SippOptions): Promise<SippRun> {
  const run = await startSipp({ timeoutSec: 90, ...o });
  cleanups.push(() => run.dispose());
  return run;
}

async function meter(): Promise<RtpMeter> {
  const m = await RtpMeter.start();
  cleanups.push(async () => m.close());
  return m;
}

function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

beforeAll(async () => {
  sipPort = await freeUdpPort();
  customerPort = await freeUdpPort();
  const rtpBase = 36000 + 2 * Math.floor(Math.random() * 2000);
  db = await freshDatabase('site_callback_sip');
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete doc.cti!.tls; // the desk in plaintext on loopback (--insecure-loopback)
  // Two tries, 1 s apart: the busy customer's second try comes soon.
  const queues = (doc.acd as { queues: Array<Record<string, unknown>> }).queues;
  queues.find((q) => q.id === 'retail')!.callback = { key: '1', maxTries: 2, retryDelayMs: '1s' };
  doc.sip = {
    listen: [{ transport: 'udp', host: LOCAL, port: sipPort }],
    publicAddress: LOCAL,
    rtpPorts: { from: rtpBase, to: rtpBase + 99 },
    realm: REALM,
    digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
    trunks: [
      {
        name: 'loopback',
        sources: [`${LOCAL}/32`],
        dnis: ['95588'],
        maxChannels: 10,
        outbound: { host: LOCAL, port: customerPort },
      },
    ],
    dialOut: { trunk: 'loopback', callerId: CALLER_ID },
    // One agent with a phone per test that bridges: a phone's registration outlives its SIPp.
    phones: ['a01', 'a02'].map((agent, i) => ({
      agent,
      extension: `100${i + 1}`,
      ha1: { MD5: ha1('MD5', `100${i + 1}`, REALM, PASSWORD) },
    })),
    timers: { ringTimeout: 4000 },
  };
  // The phone-banking flow records complaints; none of these calls is recorded.
  doc.recordings = { dir: mkdtempSync(join(tmpdir(), 'site-callback-sip-recordings-')) };
  const config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');
  process.env[SECRET_ENV] = 'an-integration-test-nonce-secret-of-40-chars';
  real = await startSipSite({
    config,
    databaseUrl: db.url,
    log,
    insecureLoopback: true,
    drainMs: 500,
    announceEveryMs: 1500,
  });
  voice = real.voice;
  for (const u of [...config.agents, ...config.supervisors]) {
    await real.site.credentials.setPassword(u.id, testPassword(u.id), 'test');
  }
  // The customer called back: c-1001, whose number is the retail walk's caller's; the walk
  // checks its balance with PIN 135790 on the reference ledger.
  await seedDemoLedger(real.pool, DEMO_LEDGER_CUSTOMERS.slice(0, 1));
  await seedCustomers(real.site.store, [{ ...DEMO_PROFILES[0]!, homeSiteId: config.siteId }]);
  desk = new GrpcAgentDesk({ address: `127.0.0.1:${real.site.ctiPort}`, password: testPassword });
}, 60_000);

afterAll(async () => {
  desk?.close();
  await real?.stop();
  await db?.drop();
});

/** An agent's SIPp phone (agent-phone.xml: answers, voice until the BYE), registered with digest. */
async function registeredPhone(agentId: string, keys: Record<string, number>): Promise<SippRun> {
  const extension = `100${agentId.slice(-1)}`;
  const phone = await sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 200, ...keys } });
  const register = await sipp({
    scenario: 'agent-register.xml',
    remote: `${LOCAL}:${sipPort}`,
    calls: 1,
    timeoutSec: 20,
    auth: { username: extension, password: PASSWORD },
    extraArgs: ['-auth_uri', REALM],
    keys: { extension, domain: REALM, contact_port: phone.port, expires: 300 },
  });
  assertAllSucceeded(`register ${extension}`, await register.done, 1);
  await waitFor(`${extension} registered`, () => voice.registrar?.phoneState(agentId) === 'registered');
  return phone;
}

/** The agent signed in and ready; it answers every offer at the desk. Logged out after. */
async function readyAgent(agentId: string): Promise<DeskEvent[]> {
  const events = await signedInAgent(agentId);
  await desk.setReady(agentId);
  return events;
}

/** The agent signed in, not ready; it answers every offer at the desk. Logged out after. */
async function signedInAgent(agentId: string): Promise<DeskEvent[]> {
  const events: DeskEvent[] = [];
  const unsubscribe = desk.subscribe(agentId, (e) => {
    events.push(e);
    if (e.type === 'offer') void desk.answer(agentId, e.pop.callId).catch(() => {});
  });
  cleanups.push(async () => {
    unsubscribe();
    const v = await desk.agent(agentId);
    if (v.state === 'wrap-up' && v.callId) await desk.completeWrapup(agentId, v.callId, 'resolved');
    await desk.logout(agentId);
  });
  await desk.login(agentId);
  return events;
}

let requests = 0;
/** A callback request for c-1001, due now, in retail: its ticket and its pg-boss job. */
async function requestCallback(): Promise<TicketRecord> {
  return real.site.jobs.scheduleCallback({
    phone: RETAIL_ANI,
    atMs: Date.now(),
    queueId: 'retail',
    customerId: 'c-1001',
    idempotencyKey: `dial-out-test-${++requests}`,
    data: { reason: 'test' },
  });
}

async function timelineOf(callId: string): Promise<string[]> {
  const r = await real.pool.query<{ event: string }>(
    `SELECT event FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
    [callId],
  );
  return r.rows.map((x) => x.event);
}

async function closedTicket(ticketId: string): Promise<TicketRecord> {
  return waitFor(
    'the callback request closed',
    async () => {
      const t = await getTicket(real.pool, ticketId);
      return t?.status === 'closed' && t;
    },
    30_000,
  );
}

/** The walk's pauses: keys come fast, the site skips a prompt a key already answered. */
const QUICK_WALK = { greeting_ms: 1500, pin_ms: 800, balance_ms: 800, menu_ms: 800, digit_ms: 250 };

/** The one call the site opened since `sinceMs` (this file's tests run one at a time). */
async function callSince(sinceMs: number): Promise<string> {
  return waitFor('the call in PG', async () => {
    const r = await real.pool.query<{ id: string }>(
      `SELECT id FROM calls WHERE created_at >= $1 AND dnis <> 'callback'`,
      [new Date(sinceMs)],
    );
    assert.ok(r.rows.length <= 1, `one call since the test began: ${JSON.stringify(r.rows)}`);
    return r.rows[0]?.id;
  });
}

describe('a callback dialled out over SIP', () => {
  test("a caller waiting in the queue presses the callback key and is let go; the site calls them back through the trunk, to the agent's phone", async () => {
    const sinceMs = Date.now();
    const phone = await registeredPhone('a01', {});
    // Signed in, not ready: the caller waits in retail (an agent for its skill, none to offer to).
    const events = await signedInAgent('a01');
    const customer = await sipp({
      scenario: 'customer-answers.xml',
      localPort: customerPort,
      calls: 1,
      keys: { ring_ms: 300, talk_ms: 4000 },
    });
    // queue_ms from the 0: the IVR's "please hold" (about 5 s), then the queue offers the key.
    const caller = await sipp({
      scenario: 'caller-asks-callback.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: { ...QUICK_WALK, dnis: '95588', ani: RETAIL_ANI, queue_ms: 8000 },
    });
    assertAllSucceeded('caller asking for a callback (the site hangs up)', await caller.done, 1);
    const callId = await callSince(sinceMs);
    const r = await real.pool.query<{ id: string }>(
      `SELECT id FROM tickets WHERE kind = 'callback-request' AND call_id = $1`,
      [callId],
    );
    assert.equal(
      r.rows.length,
      1,
      `one callback request, from the key press; the call's timeline: ${(await timelineOf(callId)).join(', ')}`,
    );
    const ticketId = r.rows[0]!.id;
    const callbackId = await waitFor('the callback in its queue', () =>
      real.site.callbacks.virtualCallOf(ticketId),
    );
    assert.deepEqual(
      (await timelineOf(callId)).filter((e) => e.startsWith('callback')),
      ['callback-requested'],
    );

    await desk.setReady('a01');
    assertAllSucceeded('customer answering the callback', await customer.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const offer = events.find((e) => e.type === 'offer');
    assert.ok(offer?.type === 'offer' && offer.pop.callId === callbackId, JSON.stringify(events));
    assert.equal((await closedTicket(ticketId)).closeReason, 'callback-placed');
    await waitFor('a01 in wrap-up', async () => (await desk.agent('a01')).state === 'wrap-up');
    await desk.completeWrapup('a01', callbackId, 'resolved');
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callbackId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01', JSON.stringify(cdr));
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 150_000);

  test("the customer answers: offered to the reserved agent, the agent's phone bridged, RTP both ways, the customer hangs up; the ticket closed placed, the CDR answered", async () => {
    // Meters on both directions: the site sends the customer's media through toAgent to the
    // phone, and the phone's (and the hold music) through toCustomer to the customer.
    const toAgent = await meter();
    const toCustomer = await meter();
    const phone = await registeredPhone('a02', { sdp_port: toAgent.port });
    toAgent.target = { host: LOCAL, port: phone.mediaPort };
    const customer = await sipp({
      scenario: 'customer-answers.xml',
      localPort: customerPort,
      calls: 1,
      keys: { ring_ms: 300, talk_ms: 6000, sdp_port: toCustomer.port },
    });
    toCustomer.target = { host: LOCAL, port: customer.mediaPort };
    const events = await readyAgent('a02');

    const ticket = await requestCallback();
    const callId = await waitFor('the callback in its queue', () =>
      real.site.callbacks.virtualCallOf(ticket.ticketId),
    );
    assertAllSucceeded('customer answering, then hanging up', await customer.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    const offer = events.find((e) => e.type === 'offer');
    assert.ok(offer?.type === 'offer', `a02 was offered the callback: ${JSON.stringify(events)}`);
    assert.equal(offer.pop.callId, callId);
    const placed = await closedTicket(ticket.ticketId);
    assert.equal(placed.closeReason, 'callback-placed', JSON.stringify(placed));
    await waitFor('a02 in wrap-up', async () => (await desk.agent('a02')).state === 'wrap-up');
    await desk.completeWrapup('a02', callId, 'resolved');
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a02', JSON.stringify(cdr));
    assert.equal(cdr.customerId, 'c-1001', JSON.stringify(cdr));
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
    const kinds = await timelineOf(callId);
    for (const k of ['callback-dial', 'callback-answered', 'offer', 'answer', 'caller-hangup'])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds.join(', ')}`);
    assert.ok(!kinds.includes('callback-no-answer'), kinds.join(', '));

    // The customer's voice reached the agent's phone, and the site's audio the customer.
    const up = toAgent.forward.summary();
    const down = toCustomer.forward.summary();
    const info = JSON.stringify({ up, down });
    assert.ok((up.byPayloadType['8'] ?? 0) >= 50, `the customer's voice reached the phone: ${info}`);
    assert.ok((down.byPayloadType['8'] ?? 0) >= 50, `audio reached the customer: ${info}`);
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test("the customer's line is busy (486): not answered, the callback back at its place and tried again, then closed failed", async () => {
    const customer = await sipp({ scenario: 'customer-busy.xml', localPort: customerPort, calls: 2 });
    await readyAgent('a03');
    const ticket = await requestCallback();
    const callId = await waitFor('the callback in its queue', () =>
      real.site.callbacks.virtualCallOf(ticket.ticketId),
    );
    const closed = await closedTicket(ticket.ticketId);
    assert.equal(closed.closeReason, 'callback-failed', JSON.stringify(closed));
    assert.equal(closed.data.tries, 1, 'the first unanswered try was recorded for a restart');
    assertAllSucceeded('busy customer', await customer.done, 2);
    await real.site.flushWrites();
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.finalState, 'failed', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'callback-failed:no-answer', JSON.stringify(cdr));
    assert.deepEqual(
      (await timelineOf(callId)).filter((e) => e.startsWith('callback-')),
      [
        'callback-dial',
        'callback-no-answer',
        'callback-dial',
        'callback-no-answer',
        'callback-failed:no-answer',
      ],
    );
    // The reserved agent is released after each try, never offered a call.
    assert.equal((await desk.agent('a03')).state, 'ready');
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);
});
