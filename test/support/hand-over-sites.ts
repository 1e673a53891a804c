/**
 * Two SIP sites on loopback that hand callers to each other (test/sip/hand-over-*.test.ts,
 * docs/sip.md "Handing a caller to another site"): each a SIP media port with its own SIP
 * stack, media engine (in its worker) and registrar on its own PostgreSQL database, both
 * knowing the other's SIP address from one topology. Both listen on UDP (the SIPp caller and
 * phone speak it); with `sipTransport: 'tcp'` both listen on TCP too, on another port, and the
 * topology names each site's TCP address with `endpoints.sipTransport: tcp`, so a hand-over's
 * INVITE has no way to arrive but TCP. The tests play each site's call flow (onInbound,
 * onHandedOver, onFarEndHangup); the helpers give them a SIPp caller at A and B's agent phone,
 * each behind an RTP meter.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger, silentLogger, type Logger } from '../../shared/log.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { SipTransportName } from '../../shared/sip/transport/types.js';
import type { SiteSipTransport, Topology } from '../../shared/topology/schema.js';
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
import type { RtpMeter } from './rtp-meter.js';
import { LOCAL, type SipPeers } from './sip-peers.js';
import type { SippRun } from './sipp.js';
import { callerKeys, WALK_WITHOUT_PROMPTS } from './sipp-walk.js';
import { waitFor } from './wait.js';

const REALM = 'b.cc.example';
const PASSWORD = 'phone-1001-handover-password';
/** The sites' hold music: 20 ms frames of one byte, so the caller's meter tells it from voice. */
const MUSIC_BYTE = 0x55;
const log: Logger = process.env['SITE_SIP_TEST_LOG']
  ? createLogger({}, { level: process.env['SITE_SIP_TEST_LOG'] as 'debug' })
  : silentLogger;

export interface TestSite {
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

export interface HandOverSites {
  /** The origin (wanzhou): the caller reaches it on its trunk. */
  a: TestSite;
  /** The target (chongqing): its agent 1001 (a01) answers. */
  b: TestSite;
  /** The topology both run; a test may change it. */
  topology: Topology;
  /** Forget the calls the last test saw (afterEach). */
  reset(): void;
  stop(): Promise<void>;
}

function sipConfig(
  rtpBase: number,
  listen: readonly SipTransportName[],
  phones: SiteSipConfig['phones'],
): SiteSipConfig {
  return {
    listen: listen.map((transport) => ({ transport, host: LOCAL, port: 0 })),
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

async function startSite(
  id: string,
  db: string,
  rtpBase: number,
  listen: readonly SipTransportName[],
  phones: SiteSipConfig['phones'],
  ctx: { dir: string; topology: () => Topology | null },
): Promise<TestSite> {
  const sip = sipConfig(rtpBase, listen, phones);
  const t = await siteTestDb(`${db}_${id}`, { siteId: id });
  const siteLog = log.child({ site: id });
  const engine = await startMediaEngine(
    { host: LOCAL, portMin: sip.rtpPorts.from, portMax: sip.rtpPorts.to, rtpTimeoutMs: 30_000 },
    siteLog,
  );
  const catalogue = loadPromptCatalogueFile(
    new URL('../../site-node/ivr/prompts.yaml', import.meta.url).pathname,
  );
  const peers = peerSites(id, listen, ctx.topology);
  const scheduler = new RealScheduler();
  const port = new SipMediaPort({
    sip,
    engine,
    prompts: PromptLibrary.load(DEFAULT_PROMPT_MANIFEST, catalogue),
    scheduler,
    log: siteLog,
    holdMusic: [{ file: join(ctx.dir, 'music.alaw'), codec: 'PCMA' }],
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
  const stack = await SipStack.start(
    {
      udp: { host: LOCAL, port: 0 },
      ...(listen.includes('tcp') ? { tcp: { host: LOCAL, port: 0 } } : {}),
      log: siteLog,
    },
    port,
  );
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

/**
 * Sites A (wanzhou) and B (chongqing, agent 1001) reaching each other over `sipTransport`;
 * `db` tells this file's databases from another's.
 */
export async function startHandOverSites(o: {
  db: string;
  sipTransport: SiteSipTransport;
}): Promise<HandOverSites> {
  const dir = mkdtempSync(join(tmpdir(), `${o.db}-`));
  writeFileSync(join(dir, 'music.alaw'), Buffer.alloc(1600, MUSIC_BYTE));
  const listen: SipTransportName[] = o.sipTransport === 'tcp' ? ['udp', 'tcp'] : ['udp'];
  let topology: Topology | null = null;
  const ctx = { dir, topology: () => topology };
  const base = 34000 + 2 * Math.floor(Math.random() * 1500);
  const started: TestSite[] = [];
  try {
    started.push(await startSite('wanzhou', o.db, base, listen, [], ctx));
    started.push(
      await startSite(
        'chongqing',
        o.db,
        base + 200,
        listen,
        [{ agentId: 'a01', extension: '1001', ha1: { MD5: ha1('MD5', '1001', REALM, PASSWORD) } }],
        ctx,
      ),
    );
  } catch (e) {
    for (const s of started) await stopSite(s);
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  const [a, b] = started as [TestSite, TestSite];
  const t: Topology = {
    version: 1,
    province: 'test',
    hubSite: 'chongqing',
    utcOffsetMinutes: 480,
    sites: [a, b].map((s) => ({
      id: s.id,
      kind: 'full' as const,
      city: s.id,
      endpoints: {
        cti: `${LOCAL}:7443`,
        sip: `${LOCAL}:${s.stack.address(o.sipTransport).port}`,
        sipTransport: o.sipTransport,
      },
      capacity: { trunks: 10, agents: 10, ivrPorts: 10 },
      queues: ['retail'],
    })),
    overflow: [],
    cover: [],
  };
  topology = t;
  return {
    a,
    b,
    topology: t,
    reset() {
      for (const s of [a, b]) {
        s.inbound.length = 0;
        s.farEnd.length = 0;
      }
    },
    async stop() {
      await stopSite(a);
      await stopSite(b);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** PCMA packets whose payload is not the sites' one-byte music: someone's voice. */
export function voiceCounter(m: RtpMeter): { voice: number; music: number } {
  const n = { voice: 0, music: 0 };
  m.tap = (msg) => {
    if (msg.length <= 12 || (msg[1]! & 0x7f) !== 8) return;
    const payload = msg.subarray(12);
    if (payload.every((x) => x === MUSIC_BYTE)) n.music++;
    else n.voice++;
  };
  return n;
}

/** B's agent phone (agent-phone.xml) registered as 1001 with digest, its media behind a meter. */
export async function agentPhone(
  peers: SipPeers,
  b: TestSite,
): Promise<{ phone: SippRun; toAgent: RtpMeter }> {
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

/** A SIPp caller to A's trunk (UDP), its media behind a meter that tells music from voice. */
export async function caller(
  peers: SipPeers,
  a: TestSite,
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

/** The caller's call at A, answered and on hold (A's music reaching the caller). */
export async function callerOnHoldAtA(a: TestSite, heard: { music: number }): Promise<CallLeg> {
  await waitFor('the call at A', () => a.inbound.length === 1);
  const leg = a.inbound[0]!.leg;
  await a.port.answer(leg);
  await a.port.hold(leg);
  await waitFor('A’s hold music at the caller', () => heard.music > 10);
  assert.equal(a.inbound.length, 1);
  return leg;
}
