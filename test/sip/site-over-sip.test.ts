/**
 * A real call through a real site (issue 12): the example site in this process on its own
 * PostgreSQL database, built as main.ts builds it without --simulate (site-node/sip-site.ts:
 * the SIP media port instead of the simulated one). A SIPp agent phone registers with digest and answers; the agent signs in and
 * goes ready through the gRPC desk and answers the offer there; a SIPp caller from the trunk
 * walks the IVR with RFC 4733 keys (1, PIN 135790#, 9, 0), waits, talks and hangs up.
 * Callers who hang up before an agent: in the IVR, and in the queue with no agent ready.
 * docs/sip.md "The site over SIP".
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
import { getCdr, seedCustomers } from '../../site-node/store/index.js';
import type { SipVoice } from '../../site-node/telephony/sip-voice.js';
import { startSipSite, type SipSite } from '../../site-node/sip-site.js';
import { compileSiteConfig } from '../../site-node/config.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import {
  describeSipp,
  freeUdpPort,
  startSipp,
  type SippOptions,
  type SippResult,
  type SippRun,
} from '../support/sipp.js';
import { callerKeys, RETAIL_ANI } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';

const EXAMPLE = new URL('../../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
const REALM = 'chongqing.cc.example';
const PASSWORD = 'phone-1001-test-password';
const LOCAL = '127.0.0.1';
const SECRET_ENV = 'I1_SITE_SIP_NONCE_SECRET';
/** Keys come fast: the site skips a prompt when a key is already waiting (type-ahead). */
/** SITE_SIP_TEST_LOG=debug shows the site's log on stderr when a run needs explaining. */
const log = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;
const QUICK_WALK = { greeting_ms: 1500, pin_ms: 800, balance_ms: 800, menu_ms: 800, digit_ms: 250 };

let db: TestDatabase;
let real: SipSite;
let voice: SipVoice;
let desk: GrpcAgentDesk;
let sipPort: number;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sipp(o: SippOptions): Promise<SippRun> {
  const run = await startSipp({ timeoutSec: 90, ...o });
  cleanups.push(() => run.dispose());
  return run;
}

function assertAllSucceeded(what: string, r: SippResult, calls: number): void {
  assert.equal(r.code, 0, describeSipp(what, r));
  assert.equal(r.stats?.successful, calls, describeSipp(what, r));
  assert.equal(r.stats.failed, 0, describeSipp(what, r));
}

beforeAll(async () => {
  sipPort = await freeUdpPort();
  const rtpBase = 32000 + 2 * Math.floor(Math.random() * 2000);
  db = await freshDatabase('site_over_sip');
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete doc.cti!.tls; // the desk in plaintext on loopback (--insecure-loopback)
  doc.sip = {
    listen: [{ transport: 'udp', host: LOCAL, port: sipPort }],
    publicAddress: LOCAL,
    rtpPorts: { from: rtpBase, to: rtpBase + 99 },
    realm: REALM,
    digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
    trunks: [{ name: 'loopback', sources: [`${LOCAL}/32`], dnis: ['95588'], maxChannels: 10 }],
    phones: ['a01', 'a02', 'a03', 'a04'].map((agent, i) => ({
      agent,
      extension: `100${i + 1}`,
      ha1: { MD5: ha1('MD5', `100${i + 1}`, REALM, PASSWORD) },
    })),
    timers: { ringTimeout: 4000 },
  };
  // The phone-banking flow records complaints: a site with real voice needs somewhere to put
  // them (test/sip/site-recording.test.ts tests them; none of these calls is recorded).
  doc.recordings = { dir: mkdtempSync(join(tmpdir(), 'site-over-sip-recordings-')) };
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
  // The walk's caller: the demo customer c-1001, known by number, PIN 135790.
  await seedDemoLedger(real.pool, DEMO_LEDGER_CUSTOMERS.slice(0, 1));
  await seedCustomers(real.site.store, [{ ...DEMO_PROFILES[0]!, homeSiteId: config.siteId }]);
  desk = new GrpcAgentDesk({ address: `127.0.0.1:${real.site.ctiPort}`, password: testPassword });
}, 60_000);

afterAll(async () => {
  desk?.close();
  await real?.stop();
  await db?.drop();
});

/** An agent phone (agent-phone.xml or a variant) and its registration (agent-register.xml). */
async function registeredPhone(
  agentId: string,
  scenario = 'agent-phone.xml',
  keys: Record<string, number> = {},
): Promise<SippRun> {
  const extension = `100${agentId.slice(-1)}`;
  const phone = await sipp({ scenario, keys: { ring_ms: 200, ...keys } });
  const register = await sipp({
    scenario: 'agent-register.xml',
    remote: `${LOCAL}:${sipPort}`,
    calls: 1,
    timeoutSec: 20,
    auth: { username: extension, password: PASSWORD },
    // SIPp signs the address it sends to unless told; the site checks the digest's uri is the
    // REGISTER's Request-URI (sip:realm).
    extraArgs: ['-auth_uri', REALM],
    keys: { extension, domain: REALM, contact_port: phone.port, expires: 300 },
  });
  assertAllSucceeded(`register ${extension}`, await register.done, 1);
  await waitFor(`${extension} registered`, () => voice.registrar?.phoneState(agentId) === 'registered');
  return phone;
}

/** The agent signed in at the desk and ready; it answers every offer at the desk. Logged out after. */
async function readyAgent(
  agentId: string,
  phone: 'registered' | 'not-registered' = 'registered',
): Promise<DeskEvent[]> {
  const events = await signedInAgent(agentId, phone);
  await desk.setReady(agentId);
  return events;
}

/** The agent signed in at the desk, not ready; it answers every offer at the desk. Logged out after. */
async function signedInAgent(agentId: string, phone: 'registered' | 'not-registered'): Promise<DeskEvent[]> {
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
  const view = await desk.login(agentId);
  assert.equal(view.phone, phone);
  return events;
}

function offeredCall(events: DeskEvent[]): string {
  const offer = events.find((e) => e.type === 'offer');
  assert.ok(offer?.type === 'offer', `the agent was offered the call: ${JSON.stringify(events)}`);
  return offer.pop.callId;
}

/**
 * The one call the site opened since `sinceMs`: a call that reaches no agent has no offer at the
 * desk to name it, and this file's tests run one at a time.
 */
async function callSince(sinceMs: number): Promise<string> {
  return waitFor('the call in PG', async () => {
    const r = await real.pool.query<{ id: string }>(`SELECT id FROM calls WHERE created_at >= $1`, [
      new Date(sinceMs),
    ]);
    assert.ok(r.rows.length <= 1, `one call since the test began: ${JSON.stringify(r.rows)}`);
    return r.rows[0]?.id;
  });
}

async function timelineOf(callId: string): Promise<string[]> {
  const r = await real.pool.query<{ event: string }>(
    `SELECT event FROM call_timeline WHERE call_id = $1 ORDER BY seq`,
    [callId],
  );
  return r.rows.map((x) => x.event);
}

const walk = (talkMs: number): Record<string, string | number> =>
  callerKeys(QUICK_WALK, { dnis: '95588', ani: RETAIL_ANI, talkMs });

describe('a real site over SIP', () => {
  test('a caller walks the IVR to an agent whose phone registered and answers; the caller hangs up; CDR and timeline in PG', async () => {
    const phone = await registeredPhone('a01');
    const events = await readyAgent('a01');
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walk(6000),
    });
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);

    const callId = offeredCall(events);
    const pop = events.find((e) => e.type === 'offer');
    assert.equal(pop?.type === 'offer' ? pop.pop.customer?.customerId : undefined, 'c-1001');
    await waitFor('a01 in wrap-up', async () => (await desk.agent('a01')).state === 'wrap-up');
    await desk.completeWrapup('a01', callId, 'resolved');
    assert.equal((await desk.agent('a01')).state, 'ready');
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a01');
    assert.ok(cdr.answeredAtMs !== undefined, JSON.stringify(cdr));
    assert.ok(cdr.answeredAtMs >= cdr.startedAtMs && cdr.endedAtMs > cdr.answeredAtMs, JSON.stringify(cdr));
    assert.ok(cdr.talkMs > 0, JSON.stringify(cdr));
    assert.equal(cdr.recording, undefined, 'a balance enquiry is not recorded');
    const kinds = await timelineOf(callId);
    for (const k of ['offer', 'answer'])
      assert.ok(kinds.includes(k), `timeline has ${k}: ${kinds.join(', ')}`);
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test("the agent's phone rings out: the agent goes not-ready (phone-no-answer), the caller back to the queue, then abandons", async () => {
    const phone = await registeredPhone('a02', 'agent-phone-no-answer.xml');
    const events = await readyAgent('a02');
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walk(16000),
    });
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
    );
    const view = await waitFor(
      'a02 not-ready',
      async () => {
        const v = await desk.agent('a02');
        return v.state === 'not-ready' ? v : undefined;
      },
      20_000,
    );
    assert.equal(view.reasonCode, 'phone-no-answer');
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone (rang, cancelled)', await phone.stop(), 1);
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.answeredAtMs, undefined, JSON.stringify(cdr));
    assert.ok((await timelineOf(callId)).includes('agent-phone-failed'));
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test("the agent's phone hangs up first: the site's BYE reaches the caller, the agent goes to wrap-up", async () => {
    const phone = await registeredPhone('a04', 'agent-phone-hangs-up.xml', { talk_ms: 3000 });
    const events = await readyAgent('a04');
    const { talk_ms: _talk, ...walkKeys } = walk(0);
    const caller = await sipp({
      scenario: 'caller-receives-bye.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walkKeys,
    });
    assertAllSucceeded('caller whose far end hangs up', await caller.done, 1);
    assertAllSucceeded('agent phone hanging up', await phone.stop(), 1);
    const callId = offeredCall(events);
    await waitFor('a04 in wrap-up', async () => (await desk.agent('a04')).state === 'wrap-up');
    await desk.completeWrapup('a04', callId, 'resolved');
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04');
    // The agent's hang-up, not the caller's: the phone's BYE is the agent's.
    const kinds = await timelineOf(callId);
    assert.ok(kinds.includes('agent-hangup') && !kinds.includes('caller-hangup'), kinds.join(', '));
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test('a caller who hangs up in the IVR: the call ends self-service, never queued, no agent offered it', async () => {
    const sinceMs = Date.now();
    // Ready with no phone: the desk would still see an offer (the last test), so none here means
    // the call never left the IVR.
    const events = await readyAgent('a03', 'not-registered');
    const caller = await sipp({
      scenario: 'caller-hangs-up-in-ivr.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: {
        dnis: '95588',
        ani: RETAIL_ANI,
        greeting_ms: QUICK_WALK.greeting_ms,
        pin_ms: QUICK_WALK.pin_ms,
      },
    });
    assertAllSucceeded('caller hanging up in the IVR', await caller.done, 1);
    const callId = await callSince(sinceMs);
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    // The call ended in the IVR: a self-service call, the caller's hang-up its reason, no wait.
    assert.equal(cdr.outcome, 'self-service', JSON.stringify(cdr));
    assert.equal(cdr.finalState, 'ended', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'ivr:caller-hung-up', JSON.stringify(cdr));
    assert.equal(cdr.abandoned, false, JSON.stringify(cdr));
    assert.equal(cdr.queuedAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.offeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.agentId, undefined, JSON.stringify(cdr));
    assert.equal(cdr.waitMs, 0, JSON.stringify(cdr));
    assert.deepEqual(await timelineOf(callId), ['created', 'ivr:caller-hung-up']);
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
    assert.deepEqual(
      events.filter((e) => e.type === 'offer'),
      [],
    );
    assert.equal((await desk.agent('a03')).state, 'ready');
  }, 120_000);

  test('a caller who hangs up while queued, no agent ready: the CDR says abandoned, with its wait', async () => {
    const sinceMs = Date.now();
    // Signed in but not ready: the queue has an agent for its skill and none to offer to.
    const events = await signedInAgent('a03', 'not-registered');
    assert.equal((await desk.agent('a03')).state, 'not-ready');
    // talk_ms from the 0: the site's "please hold" prompt (about 5 s) plays in the IVR first,
    // then the caller waits in the queue for the rest.
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walk(10_000),
    });
    const callId = await callSince(sinceMs);
    await waitFor('the caller queued', async () => (await timelineOf(callId)).includes('ivr-transfer'));
    assertAllSucceeded('caller hanging up in the queue', await caller.done, 1);
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.finalState, 'abandoned', JSON.stringify(cdr));
    assert.equal(cdr.abandoned, true, JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'abandoned-queued', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'retail', JSON.stringify(cdr));
    assert.equal(cdr.customerId, 'c-1001', JSON.stringify(cdr));
    assert.equal(cdr.agentId, undefined, JSON.stringify(cdr));
    assert.equal(cdr.offeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.answeredAtMs, undefined, JSON.stringify(cdr));
    assert.equal(cdr.talkMs, 0, JSON.stringify(cdr));
    // The wait is the time in the queue: from queued to the caller's BYE.
    assert.ok(cdr.queuedAtMs !== undefined, JSON.stringify(cdr));
    assert.ok(cdr.waitMs > 0, JSON.stringify(cdr));
    assert.equal(cdr.waitMs, cdr.endedAtMs - cdr.queuedAtMs, JSON.stringify(cdr));
    assert.deepEqual(await timelineOf(callId), ['created', 'ivr-transfer', 'abandoned-queued']);
    assert.deepEqual(
      events.filter((e) => e.type === 'offer'),
      [],
    );
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test('a caller who asks for an agent and hangs up during "please hold": one self-service call, in the CDR and in the counts', async () => {
    const sinceMs = Date.now();
    const selfServiceBefore = real.site.snapshot().summary.selfService;
    await signedInAgent('a03', 'not-registered');
    // 1 s after the 0, while the site's "please hold" (about 5 s) still plays in the IVR: the
    // caller has left before the queue. It was counted nowhere while its CDR said self-service.
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walk(1_000),
    });
    assertAllSucceeded('caller hanging up during the hold prompt', await caller.done, 1);
    const callId = await callSince(sinceMs);
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'self-service', JSON.stringify(cdr));
    assert.equal(cdr.endReason, 'ivr:caller-hung-up', JSON.stringify(cdr));
    assert.equal(cdr.queuedAtMs, undefined, JSON.stringify(cdr));
    assert.deepEqual(await timelineOf(callId), ['created', 'ivr:caller-hung-up']);
    assert.equal(real.site.snapshot().summary.selfService, selfServiceBefore + 1);
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);

  test('an agent whose phone is not registered answers at the desk: not-ready (phone-not-registered), the caller back to the queue', async () => {
    const events = await readyAgent('a03', 'not-registered');
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: walk(8000),
    });
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
    );
    const view = await waitFor('a03 not-ready', async () => {
      const v = await desk.agent('a03');
      return v.state === 'not-ready' ? v : undefined;
    });
    assert.equal(view.reasonCode, 'phone-not-registered');
    assertAllSucceeded('caller', await caller.done, 1);
    const cdr = await waitFor('the CDR', () => getCdr(real.pool, callId));
    assert.equal(cdr.outcome, 'abandoned', JSON.stringify(cdr));
    assert.ok((await timelineOf(callId)).includes('agent-phone-failed'));
    await waitFor('every leg closed', () => voice.port.openLegs === 0);
  }, 120_000);
});
