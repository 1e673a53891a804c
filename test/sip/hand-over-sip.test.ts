/**
 * A caller handed from one site to another over SIP (docs/sip.md "Handing a caller to another
 * site"): two SIP media ports, each with its own SIP stack, media engine (in its worker) and
 * registrar on its own PostgreSQL database, both on loopback, each knowing the other's SIP
 * address from one topology. A SIPp caller reaches the origin A, which answers and holds it,
 * then hands it over with a token; the target B claims the token, holds the leg, then rings its
 * agent's SIPp phone (registered with digest) and bridges it. RTP flows caller -> A -> B ->
 * agent and back (meters in front of both SIPps), the caller hangs up, and both sites end
 * their legs. The test plays each site's call flow (onInbound, onHandedOver, onFarEndHangup):
 * the full federated run (hub, overflow protocol, CDRs) is not covered here.
 */
import { afterAll, afterEach, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDomainError } from '../../shared/errors.js';
import { createLogger, silentLogger } from '../../shared/log.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { Topology } from '../../shared/topology/schema.js';
import {
  DEFAULT_REGISTRAR_LIMITS,
  DEFAULT_SIP_LIMITS,
  type SiteSipConfig,
} from '../../site-node/config-sip.js';
import { loadPromptCatalogueFile } from '../../site-node/ivr/flow.js';
import { siteTestDb, type SiteTestDb } from '../../site-node/store/testing.js';
import { PgRegistrationStore } from '../../site-node/store/sip-registrations-repo.js';
import { parseCidr } from '../../site-node/telephony/cidr.js';
import { InviteGate } from '../../site-node/telephony/invite-gate.js';
import { startMediaEngine, type MediaEngine } from '../../site-node/telephony/media-engine.js';
import type { CallLeg, InboundCall } from '../../site-node/telephony/media-port.js';
import { peerSites } from '../../site-node/telephony/peer-sites.js';
import { PhoneRegistrar } from '../../site-node/telephony/phone-registrar.js';
import { PromptLibrary } from '../../site-node/telephony/prompt-library.js';
import { SipMediaPort } from '../../site-node/telephony/sip-media-port.js';
import { DEFAULT_PROMPT_MANIFEST } from '../../site-node/telephony/sip-voice.js';
import { TrunkAcl } from '../../site-node/telephony/trunk-acl.js';
import type { RtpMeter } from '../support/rtp-meter.js';
import { assertAllSucceeded, LOCAL, SipPeers } from '../support/sip-peers.js';
import type { SippRun } from '../support/sipp.js';
import { callerKeys, WALK_WITHOUT_PROMPTS } from '../support/sipp-walk.js';
import { waitFor } from '../support/wait.js';

const REALM = 'b.cc.example';
const PASSWORD = 'phone-1001-handover-password';
/** The sites' hold music: 20 ms frames of one byte, so the caller's meter tells it from voice. */
const MUSIC_BYTE = 0x55;
const log = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;

interface TestSite {
  id: string;
  t: SiteTestDb;
  port: SipMediaPort;
  stack: SipStack;
  engine: MediaEngine;
  registrar: PhoneRegistrar;
  gate: InviteGate;
  inbound: InboundCall[];
  farEnd: CallLeg[];
}

let dir: string;
let a: TestSite;
let b: TestSite;
let topology: Topology | null = null;

function sipConfig(rtpBase: number, phones: SiteSipConfig['phones']): SiteSipConfig {
  return {
    listen: [{ transport: 'udp', host: LOCAL, port: 0 }],
    publicAddress: LOCAL,
    rtpPorts: { from: rtpBase, to: rtpBase + 99 },
    rtpLatching: 'sdp-host',
    realm: REALM,
    digest: { secret: { env: 'UNUSED' }, nonceLifetimeMs: 300_000, algorithms: ['MD5'], nonceMemory: 100 },
    trunks: [
      { name: 'loopback', sources: [parseCidr(`${LOCAL}/32`, 'sources')], dnis: ['95588'], maxChannels: 5 },
    ],
    phones,
    timers: { t1Ms: 100, sessionIntervalS: 1800, rtpInactivityMs: 30_000, ringTimeoutMs: 4000 },
    registrar: DEFAULT_REGISTRAR_LIMITS,
    limits: DEFAULT_SIP_LIMITS,
  };
}

async function startSite(id: string, rtpBase: number, phones: SiteSipConfig['phones']): Promise<TestSite> {
  const sip = sipConfig(rtpBase, phones);
  const t = await siteTestDb(`handover_${id}`, { siteId: id });
  const siteLog = log.child({ site: id });
  const engine = await startMediaEngine(
    { host: LOCAL, portMin: sip.rtpPorts.from, portMax: sip.rtpPorts.to, rtpTimeoutMs: 30_000 },
    siteLog,
  );
  const catalogue = loadPromptCatalogueFile(
    new URL('../../site-node/ivr/prompts.yaml', import.meta.url).pathname,
  );
  const peers = peerSites(id, () => topology);
  const scheduler = new RealScheduler();
  const port = new SipMediaPort({
    sip,
    engine,
    prompts: PromptLibrary.load(DEFAULT_PROMPT_MANIFEST, catalogue),
    scheduler,
    log: siteLog,
    holdMusic: [{ file: join(dir, 'music.alaw'), codec: 'PCMA' }],
    peers,
  });
  const registrar = await PhoneRegistrar.open({
    sip,
    secret: Buffer.from('an-integration-test-nonce-secret-of-40-chars'),
    store: new PgRegistrationStore(t.pool),
    clock: scheduler,
    log: siteLog,
  });
  registrar.start();
  const gate = new InviteGate(new TrunkAcl(sip.trunks), registrar, siteLog, scheduler, { peers });
  const stack = await SipStack.start({ udp: { host: LOCAL, port: 0 }, log: siteLog }, port);
  port.attach({ stack, registrar, gate });
  const s: TestSite = { id, t, port, stack, engine, registrar, gate, inbound: [], farEnd: [] };
  port.onInbound((c) => s.inbound.push(c));
  port.onFarEndHangup((leg) => s.farEnd.push(leg));
  return s;
}

async function stopSite(s: TestSite | undefined): Promise<void> {
  if (!s) return;
  await s.port.stop(1000);
  s.registrar.stop();
  s.gate.stop();
  await s.stack.close();
  await s.engine.stop();
  await s.t.close();
}

/** The SIPp caller and phone, and the meters in front of them. */
const peers = new SipPeers(60);
afterEach(async () => {
  await peers.cleanup();
  a.inbound.length = 0;
  a.farEnd.length = 0;
  b.inbound.length = 0;
  b.farEnd.length = 0;
});

/** PCMA packets whose payload is not the sites' one-byte music: someone's voice. */
function voiceCounter(m: RtpMeter): { voice: number; music: number } {
  const n = { voice: 0, music: 0 };
  m.tap = (msg) => {
    if (msg.length <= 12 || (msg[1]! & 0x7f) !== 8) return;
    const payload = msg.subarray(12);
    if (payload.every((x) => x === MUSIC_BYTE)) n.music++;
    else n.voice++;
  };
  return n;
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'handover-sip-'));
  writeFileSync(join(dir, 'music.alaw'), Buffer.alloc(1600, MUSIC_BYTE));
  const base = 34000 + 2 * Math.floor(Math.random() * 1500);
  a = await startSite('wanzhou', base, []);
  b = await startSite('chongqing', base + 200, [
    { agentId: 'a01', extension: '1001', ha1: { MD5: ha1('MD5', '1001', REALM, PASSWORD) } },
  ]);
  topology = {
    version: 1,
    province: 'test',
    hubSite: 'chongqing',
    utcOffsetMinutes: 480,
    sites: [a, b].map((s) => ({
      id: s.id,
      kind: 'full' as const,
      city: s.id,
      endpoints: { cti: `${LOCAL}:7443`, sip: `${LOCAL}:${s.stack.address('udp').port}` },
      capacity: { trunks: 10, agents: 10, ivrPorts: 10 },
      queues: ['retail'],
    })),
    overflow: [],
    cover: [],
  };
}, 60_000);

afterAll(async () => {
  await stopSite(a);
  await stopSite(b);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

/** B's agent phone (agent-phone.xml) registered as 1001 with digest, its media behind a meter. */
async function agentPhone(): Promise<{ phone: SippRun; toAgent: RtpMeter }> {
  const toAgent = await peers.meter();
  const phone = await peers.sipp({
    scenario: 'agent-phone.xml',
    keys: { ring_ms: 200, sdp_port: toAgent.port },
  });
  toAgent.target = { host: LOCAL, port: phone.mediaPort };
  await peers.registerPhone({
    remote: `${LOCAL}:${b.stack.address('udp').port}`,
    extension: '1001',
    password: PASSWORD,
    realm: REALM,
    contactPort: phone.port,
  });
  await waitFor('1001 registered at B', () => b.registrar.phoneState('a01') === 'registered');
  return { phone, toAgent };
}

/** A SIPp caller to A's trunk, its media behind a meter that tells music from voice. */
async function caller(
  talkMs: number,
): Promise<{ run: SippRun; toCaller: RtpMeter; heard: { voice: number; music: number } }> {
  const toCaller = await peers.meter();
  const heard = voiceCounter(toCaller);
  const run = await peers.sipp({
    scenario: 'caller.xml',
    remote: `${LOCAL}:${a.stack.address('udp').port}`,
    calls: 1,
    keys: { ...callerKeys(WALK_WITHOUT_PROMPTS, { dnis: '95588', talkMs }), sdp_port: toCaller.port },
  });
  toCaller.target = { host: LOCAL, port: run.mediaPort };
  return { run, toCaller, heard };
}

describe.skipIf(!process.env.TEST_PG_URL)('a caller handed from site A to site B over SIP', () => {
  test('B claims the token and its agent answers: RTP both ways through A and B; the caller hangs up, every leg ends', async () => {
    const { phone, toAgent } = await agentPhone();
    const claimed: Array<{ token: string; leg: CallLeg }> = [];
    b.port.onHandedOver((token, leg) => {
      if (token !== 'tok-1') return false;
      claimed.push({ token, leg });
      void b.port.hold(leg); // as the call flow's attachLeg does
      return true;
    });
    const { run, heard } = await caller(8000);
    await waitFor('the call at A', () => a.inbound.length === 1);
    const callerLeg = a.inbound[0]!.leg;
    await a.port.answer(callerLeg);
    await a.port.hold(callerLeg);
    await waitFor('A’s hold music at the caller', () => heard.music > 10);

    await a.port.handOver(callerLeg, { toSiteId: 'chongqing', token: 'tok-1' });
    assert.equal(claimed.length, 1, 'B claimed the leg once');
    assert.deepEqual(b.inbound, [], 'a leg handed over is not a new call at B');
    // From now on A's call flow holds nothing: its hang-up is a no-op, the caller stays.
    await a.port.hangup(callerLeg);
    assert.equal(a.port.openLegs, 2, 'the caller’s leg and the leg to B, relayed');

    const agentLeg = await b.port.bridgeToAgent(claimed[0]!.leg, 'a01');
    await waitFor(
      'the caller’s voice at the agent, through A and B',
      () => (toAgent.forward.summary().byPayloadType['8'] ?? 0) > 50,
    );
    await waitFor('the agent’s voice at the caller, through B and A', () => heard.voice > 50);

    // The caller hangs up: A's relay hangs up B's leg, B's call flow hears its caller left.
    assertAllSucceeded('caller', await run.done, 1);
    await waitFor('B heard the caller leave', () => b.farEnd.length === 1);
    assert.equal(b.farEnd[0]!.legId, claimed[0]!.leg.legId);
    await b.port.hangup(agentLeg);
    assertAllSucceeded('agent phone', await phone.stop(), 1);
    await waitFor('every leg closed at A and B', () => a.port.openLegs === 0 && b.port.openLegs === 0);
    assert.deepEqual(a.farEnd, [], 'the caller’s hang-up is not A’s call flow’s business any more');
  });

  test('B refuses the token, and a site with no route: the caller stays on hold at A', async () => {
    b.port.onHandedOver(() => false);
    const { run, heard } = await caller(6000);
    await waitFor('the call at A', () => a.inbound.length === 1);
    const callerLeg = a.inbound[0]!.leg;
    await a.port.answer(callerLeg);
    await a.port.hold(callerLeg);

    const noRoute = await a.port
      .handOver(callerLeg, { toSiteId: 'fuling', token: 't' })
      .catch((e: unknown) => e);
    assert.ok(isDomainError(noRoute, 'unavailable'), String(noRoute));
    assert.match((noRoute as Error).message, /site fuling is not in topology version 1/);

    const refused = await a.port
      .handOver(callerLeg, { toSiteId: 'chongqing', token: 'tok-unknown' })
      .catch((e: unknown) => e);
    assert.ok(isDomainError(refused, 'unavailable'), String(refused));
    assert.match((refused as Error).message, /site chongqing did not take call .*\(unavailable 404\)/);
    await waitFor('B ended the refused leg', () => b.port.openLegs === 0);
    assert.deepEqual(b.inbound, []);
    assert.deepEqual(b.farEnd, [], 'a refused hand-over is never the site’s');

    // Still A's: on hold (music keeps coming), and its caller's hang-up is A's call flow's.
    const before = heard.music;
    await waitFor('hold music after the refusal', () => heard.music > before + 20);
    assertAllSucceeded('caller', await run.done, 1);
    await waitFor('A heard the caller leave', () => a.farEnd.length === 1);
    assert.equal(a.farEnd[0]!.legId, callerLeg.legId);
    await waitFor('every leg closed at A', () => a.port.openLegs === 0);
  });
});
