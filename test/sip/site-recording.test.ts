/**
 * Complaint calls recorded over real SIP (issue 12, docs/sip.md "Call recording"): the example
 * site in this process on its own PostgreSQL database, built as main.ts builds it without
 * --simulate (site-node/sip-site.ts), with a recordings folder. A SIPp caller presses 6 then 1
 * (a complaint: the phone-banking flow records from its complaint ticket node), talks through
 * the IVR's confirmation and the complaints queue to a04's SIPp phone, both sending SIPp's G.711
 * clip, and hangs up. The CDR in PostgreSQL names the WAV only once it is written; the WAV is
 * stereo 8 kHz, as long as the recording ran, the caller's channel heard from the complaint on
 * and the agent's from the bridge. A call the flow does not flag (balance, then an agent in the
 * retail queue) has no recording.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import wavefile from 'wavefile';
import { parse as parseYaml } from 'yaml';
import { seedDemoLedger } from '../../shared/bank-host/pg-ledger.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { compileSiteConfig } from '../../site-node/config.js';
import type { DeskEvent } from '../../site-node/cti/agent-desk.js';
import { GrpcAgentDesk } from '../../site-node/cti/grpc-desk-client.js';
import { testPassword } from '../../site-node/cti/testing.js';
import { DEMO_PROFILES } from '../../site-node/ivr/test-support.js';
import { startSipSite, type SipSite } from '../../site-node/sip-site.js';
import { getCdr, seedCustomers, type Cdr } from '../../site-node/store/index.js';
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
const PASSWORD = 'phone-test-password';
const LOCAL = '127.0.0.1';
const SECRET_ENV = 'H6_SITE_SIP_NONCE_SECRET';
/** SITE_SIP_TEST_LOG=debug shows the site's log on stderr when a run needs explaining. */
const log = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;
/** From the 1 (a complaint) to the # that skips the IVR's confirmation. */
const SKIP_MS = 1_000;
/** From the # to the caller's BYE: the queue, then the agent. */
const TALK_MS = 12_000;

let db: TestDatabase;
let real: SipSite;
let desk: GrpcAgentDesk;
let sipPort: number;
let recordings: string;

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
  const rtpBase = 36000 + 2 * Math.floor(Math.random() * 2000);
  db = await freshDatabase('site_recording');
  recordings = join(mkdtempSync(join(tmpdir(), 'site-recording-')), 'recordings');
  const doc = parseYaml(readFileSync(EXAMPLE, 'utf8')) as Record<string, Record<string, unknown>>;
  delete doc.cti!.tls; // the desk in plaintext on loopback (--insecure-loopback)
  // The test's desk sends no heartbeats: its agents keep their lease for the test's length.
  doc.cti!.lease = { timeout: '10m', logoutAfter: '20m' };
  doc.sip = {
    listen: [{ transport: 'udp', host: LOCAL, port: sipPort }],
    publicAddress: LOCAL,
    rtpPorts: { from: rtpBase, to: rtpBase + 99 },
    realm: REALM,
    digest: { secretEnv: SECRET_ENV, algorithms: ['MD5'] },
    trunks: [{ name: 'loopback', sources: [`${LOCAL}/32`], dnis: ['95588'], maxChannels: 10 }],
    phones: ['a01', 'a04'].map((agent) => ({
      agent,
      extension: `100${agent.slice(-1)}`,
      ha1: { MD5: ha1('MD5', `100${agent.slice(-1)}`, REALM, PASSWORD) },
    })),
  };
  // Absolute here; not there yet: the site creates it at start.
  doc.recordings = { dir: recordings };
  const config = compileSiteConfig(doc, dirname(EXAMPLE), 'site');
  process.env[SECRET_ENV] = 'an-integration-test-nonce-secret-of-40-chars';
  real = await startSipSite({ config, databaseUrl: db.url, log, insecureLoopback: true, drainMs: 500 });
  assert.ok(statSync(recordings).isDirectory(), 'the recordings folder is created at start');
  for (const u of [...config.agents, ...config.supervisors]) {
    await real.site.credentials.setPassword(u.id, testPassword(u.id), 'test');
  }
  // The caller: the demo customer c-1001 (retail), known by number, PIN 135790.
  await seedDemoLedger(real.pool, DEMO_LEDGER_CUSTOMERS.slice(0, 1));
  await seedCustomers(real.site.store, [{ ...DEMO_PROFILES[0]!, homeSiteId: config.siteId }]);
  desk = new GrpcAgentDesk({ address: `127.0.0.1:${real.site.ctiPort}`, password: testPassword });
}, 60_000);

afterAll(async () => {
  desk?.close();
  await real?.stop();
  await db?.drop();
  if (recordings) rmSync(dirname(recordings), { recursive: true, force: true });
});

/** The agent's SIPp phone (agent-phone.xml: answers, sends voice until the BYE), registered. */
async function registeredPhone(agentId: string): Promise<SippRun> {
  const extension = `100${agentId.slice(-1)}`;
  const phone = await sipp({ scenario: 'agent-phone.xml', keys: { ring_ms: 200 } });
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
  await waitFor(`${extension} registered`, () => real.voice.registrar?.phoneState(agentId) === 'registered');
  return phone;
}

/** The agent signed in, ready, answering every offer at the desk; logged out after the test. */
async function readyAgent(agentId: string): Promise<DeskEvent[]> {
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
  await desk.setReady(agentId);
  return events;
}

function offeredCall(events: DeskEvent[]): string {
  const offer = events.find((e) => e.type === 'offer');
  assert.ok(offer?.type === 'offer', `the agent was offered the call: ${JSON.stringify(events)}`);
  return offer.pop.callId;
}

/** The served call's CDR, once the agent's wrap-up closed it. */
async function servedCdr(agentId: string, callId: string): Promise<Cdr> {
  await waitFor(`${agentId} in wrap-up`, async () => (await desk.agent(agentId)).state === 'wrap-up');
  await desk.completeWrapup(agentId, callId, 'complaint-logged');
  return waitFor('the CDR', () => getCdr(real.pool, callId));
}

/** Root mean square of a stretch of 16-bit samples: about 0 for silence, hundreds for speech. */
function rms(samples: ArrayLike<number>, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += samples[i]! * samples[i]!;
  return Math.sqrt(sum / Math.max(1, to - from));
}

describe('call recording over SIP', () => {
  test('a complaint call is recorded from the complaint on: the CDR names the WAV once written; stereo 8 kHz, the caller left, the agent right from the bridge', async () => {
    const phone = await registeredPhone('a04');
    const events = await readyAgent('a04');
    const caller = await sipp({
      scenario: 'caller-complaint.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: {
        dnis: '95588',
        ani: RETAIL_ANI,
        greeting_ms: 1500,
        menu_ms: 800,
        skip_ms: SKIP_MS,
        talk_ms: TALK_MS,
      },
    });
    const callId = await waitFor(
      'the offer',
      () => events.some((e) => e.type === 'offer') && offeredCall(events),
      TALK_MS,
    );
    const path = join(recordings, `${callId}.wav`);
    // Recording, not written yet: the file is in the engine's memory until the caller leaves,
    // and the call's recording names no path until then.
    const running = await waitFor(
      'the recording row',
      async () =>
        (
          await real.pool.query(`SELECT state, reason, path FROM call_recordings WHERE call_id = $1`, [
            callId,
          ])
        ).rows[0] as { state: string; reason: string; path: string | null } | undefined,
    );
    assert.deepEqual(running, { state: 'recording', reason: 'node:complaint_ticket', path: null });
    assert.equal(existsSync(path), false, 'no file before the call ends');

    assertAllSucceeded('complaining caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const cdr = await servedCdr('a04', callId);
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'complaints', JSON.stringify(cdr));
    assert.equal(cdr.agentId, 'a04', JSON.stringify(cdr));
    const rec = await waitFor('the recording saved', async () => {
      const r = (await getCdr(real.pool, callId))?.recording;
      return r?.state === 'saved' ? r : undefined;
    });
    assert.equal(rec.reason, 'node:complaint_ticket');
    assert.equal(rec.path, path);
    assert.equal(rec.bytes, statSync(path).size);
    // From the 1 to the BYE: SKIP_MS, TALK_MS and the 200 ms the caller waits after its last key.
    const expected = SKIP_MS + 200 + TALK_MS;
    assert.ok(Math.abs(rec.durationMs! - expected) < 1_500, `about ${expected} ms: ${JSON.stringify(rec)}`);
    assert.ok(
      rec.durationMs! > cdr.talkMs,
      `the recording began before the agent: ${JSON.stringify({ rec, cdr })}`,
    );

    const wav = new wavefile.WaveFile(readFileSync(path));
    const fmt = wav.fmt as { numChannels: number; sampleRate: number; bitsPerSample: number };
    assert.deepEqual(
      [fmt.numChannels, fmt.sampleRate, fmt.bitsPerSample],
      [2, 8000, 16],
      JSON.stringify(fmt),
    );
    const [caller0, agent1] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
    assert.equal(Math.round(caller0.length / 8), rec.durationMs);
    // The caller talks from the # (the clip begins 200 ms after it) to the end.
    const second = 8000;
    const talkFrom = Math.round(((SKIP_MS + 200) / 1000) * second);
    assert.ok(
      rms(caller0, talkFrom, talkFrom + 2 * second) > 100,
      `caller heard from the #: ${rms(caller0, talkFrom, talkFrom + 2 * second)}`,
    );
    assert.ok(rms(caller0, caller0.length - 4 * second, caller0.length) > 100, 'caller heard at the end');
    // The agent's channel is silent until the bridge, then has the phone's voice.
    const bridgeAt = agent1.findIndex((s) => s !== 0);
    assert.ok(bridgeAt > 0, 'the agent was heard');
    const bridgedFor = (agent1.length - bridgeAt) / 8;
    assert.ok(
      Math.abs(bridgedFor - cdr.talkMs) < 2_500,
      `the agent's side lasts about the talk: ${bridgedFor} ms against ${cdr.talkMs} ms`,
    );
    assert.ok(
      rms(agent1, bridgeAt, agent1.length) > 100,
      `agent heard: ${rms(agent1, bridgeAt, agent1.length)}`,
    );
    assert.equal(rms(agent1, 0, bridgeAt), 0, 'nothing on the agent channel before the bridge');
    await waitFor('every leg closed', () => real.voice.port.openLegs === 0);
    assert.equal(real.voice.port.recordings.running, 0);
  }, 150_000);

  test('a call the flow does not flag (balance, then an agent in retail) has no recording and no file', async () => {
    const before = new Set(readdirSync(recordings));
    const phone = await registeredPhone('a01');
    const events = await readyAgent('a01');
    const caller = await sipp({
      scenario: 'caller.xml',
      remote: `${LOCAL}:${sipPort}`,
      calls: 1,
      keys: callerKeys(
        { greeting_ms: 1500, pin_ms: 800, balance_ms: 800, menu_ms: 800, digit_ms: 250 },
        { dnis: '95588', ani: RETAIL_ANI, talkMs: 6000 },
      ),
    });
    assertAllSucceeded('caller', await caller.done, 1);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    const callId = offeredCall(events);
    const cdr = await servedCdr('a01', callId);
    assert.equal(cdr.outcome, 'answered', JSON.stringify(cdr));
    assert.equal(cdr.queueId, 'retail', JSON.stringify(cdr));
    assert.equal(cdr.recording, undefined, JSON.stringify(cdr));
    await waitFor('every leg closed', () => real.voice.port.openLegs === 0);
    assert.deepEqual(new Set(readdirSync(recordings)), before, 'no file written');
    assert.equal(existsSync(join(recordings, `${callId}.wav`)), false);
  }, 150_000);
});
