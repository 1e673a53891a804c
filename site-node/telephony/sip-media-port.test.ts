/**
 * The SIP media port on real sockets (loopback): the site's stack with the port as its TU, the
 * in-thread media engine, the registrar on PostgreSQL, and a carrier's stack sending INVITEs
 * as a trunk would. The paths the end-to-end test (test/sip/site-over-sip.test.ts) does not
 * walk: refusals, CANCEL, the site's hang-up, requests outside any dialog, stop.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../shared/clock.js';
import { isDomainError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import { LocalMediaEngine } from '../../shared/media/engine/engine.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { createUacDialog } from '../../shared/sip/dialog/dialog.js';
import { buildAck, buildCancel, buildInvite } from '../../shared/sip/dialog/requests.js';
import { OFFER } from '../../shared/sip/dialog/testing.js';
import { cseq } from '../../shared/sip/headers.js';
import type { SipRequest, SipResponse } from '../../shared/sip/message.js';
import { buildResponse } from '../../shared/sip/response.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { ServerTransaction, TransactionUser } from '../../shared/sip/stack/transaction-user.js';
import { DEFAULT_REGISTRAR_LIMITS, DEFAULT_SIP_LIMITS, type SiteSipConfig } from '../config-sip.js';
import { loadPromptCatalogueFile } from '../ivr/flow.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { PgRegistrationStore } from '../store/sip-registrations-repo.js';
import { parseCidr } from './cidr.js';
import { InviteGate } from './invite-gate.js';
import { AgentPhoneFailed, type CallLeg, type InboundCall } from './media-port.js';
import { PhoneRegistrar } from './phone-registrar.js';
import { PromptLibrary } from './prompt-library.js';
import { CLIP_FILES, type ManifestClip } from './prompt-manifest.js';
import { clipKey, planPrompt } from './prompt-pieces.js';
import { RtpPeer } from '../../shared/media/engine/testing.js';
import { SipMediaPort } from './sip-media-port.js';
import { TrunkAcl } from './trunk-acl.js';

const LOCAL = '127.0.0.1';

const SIP: SiteSipConfig = {
  listen: [{ transport: 'udp', host: LOCAL, port: 0 }],
  publicAddress: LOCAL,
  rtpPorts: { from: 46000, to: 46099 },
  rtpLatching: 'sdp-host',
  realm: 'site.test',
  digest: { secret: { env: 'UNUSED' }, nonceLifetimeMs: 300_000, algorithms: ['MD5'], nonceMemory: 100 },
  trunks: [
    { name: 'loopback', sources: [parseCidr(`${LOCAL}/32`, 'sources')], dnis: ['95588'], maxChannels: 5 },
  ],
  phones: [{ agentId: 'a01', extension: '1001', ha1: { MD5: '0123456789abcdef0123456789abcdef' } }],
  timers: { t1Ms: 100, sessionIntervalS: 1800, rtpInactivityMs: 30_000, ringTimeoutMs: 2000 },
  registrar: DEFAULT_REGISTRAR_LIMITS,
  limits: DEFAULT_SIP_LIMITS,
};

/** A carrier's user agent: its own stack; requests it receives are kept and answered 200. */
class Carrier implements TransactionUser {
  readonly received: SipRequest[] = [];
  stack!: SipStack;
  onRequest(request: SipRequest, tx: ServerTransaction): void {
    this.received.push(request);
    tx.respond(buildResponse(request, 200, {}));
  }
  onAck(): void {}
  onCancel(): void {}
  onStrayResponse(): void {}

  static async start(host = LOCAL): Promise<Carrier> {
    const c = new Carrier();
    c.stack = await SipStack.start({ udp: { host, port: 0 }, log: silentLogger }, c);
    return c;
  }

  invite(
    to: number,
    body = OFFER,
  ): { invite: SipRequest; responses: SipResponse[]; final: Promise<SipResponse> } {
    const me = this.stack.address('udp');
    const invite = buildInvite(
      {
        requestUri: `sip:95588@${LOCAL}:${to}`,
        fromUri: `sip:13800000001@${me.host}`,
        fromTag: `c${Math.random().toString(16).slice(2, 8)}`,
        toUri: `sip:95588@${LOCAL}`,
        callId: `call-${Math.random().toString(16).slice(2)}`,
        seq: 1,
        contact: `sip:carrier@${me.host}:${me.port}`,
      },
      { transport: 'UDP', sentBy: `${me.host}:${me.port}` },
      `z9hG4bK${Math.random().toString(16).slice(2)}`,
      { headers: [{ name: 'Content-Type', value: 'application/sdp' }], body: Buffer.from(body) },
    );
    const responses: SipResponse[] = [];
    const final = new Promise<SipResponse>((resolve, reject) =>
      this.stack.request(
        invite,
        { host: LOCAL, port: to },
        {
          onResponse: (r) => {
            responses.push(r);
            if (r.status >= 200) resolve(r);
          },
          onTimeout: () => reject(new Error('INVITE timed out')),
          onTransportError: () => reject(new Error('INVITE not sent')),
        },
      ),
    );
    return { invite, responses, final };
  }

  /** A request outside any INVITE (OPTIONS, MESSAGE, a BYE of no dialog): its final response. */
  send(to: number, method: string, toTag?: string): Promise<SipResponse> {
    const me = this.stack.address('udp');
    const req = buildInvite(
      {
        requestUri: `sip:site@${LOCAL}:${to}`,
        fromUri: `sip:carrier@${me.host}`,
        fromTag: 'f1',
        toUri: `sip:site@${LOCAL}`,
        callId: `x-${Math.random().toString(16).slice(2)}`,
        seq: 1,
        contact: `sip:carrier@${me.host}:${me.port}`,
      },
      { transport: 'UDP', sentBy: `${me.host}:${me.port}` },
      `z9hG4bK${Math.random().toString(16).slice(2)}`,
    );
    const headers = req.headers.map((h) => {
      if (h.name === 'CSeq') return { ...h, value: `1 ${method}` };
      if (h.name === 'To' && toTag) return { ...h, value: `${h.value};tag=${toTag}` };
      return h;
    });
    return new Promise((resolve, reject) =>
      this.stack.request(
        { ...req, method, headers },
        { host: LOCAL, port: to },
        {
          onResponse: (r) => r.status >= 200 && resolve(r),
          onTimeout: () => reject(new Error(`${method} timed out`)),
          onTransportError: () => reject(new Error(`${method} not sent`)),
        },
      ),
    );
  }
}

const until = async (what: string, ok: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`never: ${what}`);
};

describe.skipIf(pgSkip)('SipMediaPort on loopback', () => {
  let t: SiteTestDb;
  let dir: string;
  let port: SipMediaPort;
  let site: SipStack;
  let engine: LocalMediaEngine;
  let registrar: PhoneRegistrar;
  let gate: InviteGate;
  let carrier: Carrier;
  const calls: InboundCall[] = [];
  const farEnd: CallLeg[] = [];

  beforeAll(async () => {
    t = await siteTestDb('sip_port');
    dir = mkdtempSync(join(tmpdir(), 'sip-port-'));
    const manifest = join(dir, 'manifest.json');
    const catalogue = loadPromptCatalogueFile(new URL('../ivr/prompts.yaml', import.meta.url).pathname);
    // A small build: every clip of `welcome` is bytes 0x11, of `agent.hold` 0x22 (160 = 20 ms).
    const clips: Record<string, ManifestClip> = {};
    for (const [promptId, byte] of [
      ['welcome', 0x11],
      ['agent.hold', 0x22],
    ] as const) {
      planPrompt(catalogue, promptId, {}, 'zh').forEach((c, i) => {
        const sub = `${byte.toString(16)}${i}`.padEnd(16, '0');
        mkdirSync(join(dir, sub));
        writeFileSync(join(dir, sub, CLIP_FILES.PCMA), Buffer.alloc(320, byte));
        writeFileSync(join(dir, sub, CLIP_FILES.PCMU), Buffer.alloc(320, byte));
        clips[clipKey(c)] = { dir: sub, text: c.text, voice: 'cmn', durationMs: 40 };
      });
    }
    writeFileSync(manifest, JSON.stringify({ version: 1, sampleRate: 8000, tools: 't', clips }));
    engine = new LocalMediaEngine(
      { host: LOCAL, portMin: SIP.rtpPorts.from, portMax: SIP.rtpPorts.to, rtpTimeoutMs: 30_000 },
      silentLogger,
    );
    port = new SipMediaPort({
      sip: SIP,
      engine,
      prompts: PromptLibrary.load(manifest, catalogue),
      scheduler: new RealScheduler(),
      log: silentLogger,
    });
    port.onInbound((c) => calls.push(c));
    port.onFarEndHangup((leg) => farEnd.push(leg));
    registrar = await PhoneRegistrar.open({
      sip: SIP,
      secret: Buffer.from('a-unit-test-nonce-secret-of-32-chars!'),
      store: new PgRegistrationStore(t.pool),
      clock: systemClock,
      log: silentLogger,
    });
    gate = new InviteGate(new TrunkAcl(SIP.trunks), registrar, silentLogger, systemClock);
    site = await SipStack.start({ udp: { host: LOCAL, port: 0 }, log: silentLogger }, port);
    port.attach({ stack: site, registrar, gate });
    carrier = await Carrier.start();
  });

  afterEach(() => {
    calls.length = 0;
    farEnd.length = 0;
  });

  afterAll(async () => {
    await carrier?.stack.close();
    await site?.close();
    gate?.stop();
    registrar?.stop();
    await engine?.stop();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const sitePort = (): number => site.address('udp').port;

  /** The carrier's ACK of the site's 200 (without it the site resends the 200, then ends the leg). */
  const acknowledge = (invite: SipRequest, ok: SipResponse): Promise<void> => {
    const me = carrier.stack.address('udp');
    return carrier.stack.sendAck(
      buildAck(
        createUacDialog(invite, ok),
        cseq(invite).seq,
        { transport: 'UDP', sentBy: `${me.host}:${me.port}` },
        `z9hG4bKack${cseq(invite).seq}${Math.random().toString(36).slice(2)}`,
      ),
      { host: LOCAL, port: sitePort() },
    );
  };

  test('an INVITE from the trunk reaches the site with an RTP endpoint; reject busy is 486', async () => {
    const call = carrier.invite(sitePort());
    await until('the call', () => calls.length === 1);
    const c = calls[0]!;
    expect([c.ani, c.dnis, c.leg.role]).toEqual(['13800000001', '95588', 'caller']);
    expect(c.leg.endpoint).toMatchObject({ transport: 'rtp', host: LOCAL, codec: 'PCMA' });
    await port.reject(c.leg, 'busy');
    expect((await call.final).status).toBe(486);
    await until('the leg closed', () => port.openLegs === 0);
    expect(farEnd).toEqual([]);
  });

  test('a CANCEL before the answer: 487, and the site hears the far end hang up', async () => {
    const call = carrier.invite(sitePort());
    await until('the call', () => calls.length === 1 && call.responses.length > 0);
    carrier.stack.request(
      buildCancel(call.invite),
      { host: LOCAL, port: sitePort() },
      {
        onResponse: () => {},
        onTimeout: () => {},
        onTransportError: () => {},
      },
    );
    expect((await call.final).status).toBe(487);
    await until('the far end reported', () => farEnd.length === 1);
    expect(farEnd[0]!.legId).toBe(calls[0]!.leg.legId);
    expect(await port.collectDigits(calls[0]!.leg, { maxDigits: 1, timeoutMs: 1000 })).toBe('hung-up');
  });

  test("a CANCEL while the call's RTP port opens: 487 once the leg starts, never a 200, and the site hears it", async () => {
    // The real engine, its open() held until the CANCEL has been answered: the race the
    // end-to-end test (test/sip/site-cancel-race.test.ts) meets on a fresh site's first call.
    const open = engine.open.bind(engine);
    let release = (): void => {};
    const held = new Promise<void>((r) => (release = r));
    engine.open = async () => {
      await held;
      return open();
    };
    try {
      const call = carrier.invite(sitePort());
      await until('the 100 Trying', () => call.responses.length > 0);
      const cancelled = new Promise<SipResponse>((resolve, reject) =>
        carrier.stack.request(
          buildCancel(call.invite),
          { host: LOCAL, port: sitePort() },
          {
            onResponse: (r) => r.status >= 200 && resolve(r),
            onTimeout: () => reject(new Error('CANCEL timed out')),
            onTransportError: () => reject(new Error('CANCEL not sent')),
          },
        ),
      );
      expect((await cancelled).status).toBe(200);
      release();
      expect((await call.final).status).toBe(487);
      await until('the far end reported', () => farEnd.length === 1);
      expect(farEnd[0]!.legId).toBe(calls[0]!.leg.legId);
      await until('the leg closed', () => port.openLegs === 0);
    } finally {
      release();
      engine.open = open;
    }
  }, 10_000);

  test('answered, acknowledged, then hung up by the site: 200 with SDP, then our BYE', async () => {
    const call = carrier.invite(sitePort());
    await until('the call', () => calls.length === 1);
    await port.answer(calls[0]!.leg);
    const ok = await call.final;
    expect(ok.status).toBe(200);
    expect(ok.body.toString()).toMatch(/m=audio \d+ RTP\/AVP 8/);
    await acknowledge(call.invite, ok);
    await port.hangup(calls[0]!.leg);
    await until('our BYE', () => carrier.received.some((r) => r.method === 'BYE'));
    await until('the leg closed', () => port.openLegs === 0);
    expect(farEnd).toEqual([]);
    // Once ended: a no-op, nothing to answer, nothing to play.
    await port.hangup(calls[0]!.leg);
    await port.play(calls[0]!.leg, 'welcome');
    await expect(port.answer(calls[0]!.leg)).rejects.toSatisfy((e) =>
      isDomainError(e, 'failed-precondition'),
    );
  });

  test('on hold the caller hears the music; a prompt meanwhile takes its place, then the music comes back', async () => {
    const far = await RtpPeer.open();
    try {
      const call = carrier.invite(
        sitePort(),
        OFFER.replace('192.0.2.10', LOCAL).replace('192.0.2.10', LOCAL).replace('40000', String(far.port)),
      );
      await until('the call', () => calls.length === 1);
      const leg = calls[0]!.leg;
      await port.answer(leg);
      const ok = await call.final;
      expect(ok.status).toBe(200);
      await acknowledge(call.invite, ok);
      await port.hold(leg);
      const hears = (byte: number, from: number): boolean => far.audio(from).includes(byte);
      await until('the music', () => hears(0x22, 0));
      const before = far.heard.length;
      await port.play(leg, 'welcome');
      // play resolves once the engine sent the prompt; the datagrams may still be on their way.
      await until('the prompt', () => hears(0x11, before));
      const after = far.heard.length;
      await until('the music again', () => hears(0x22, after));
      await port.hangup(leg);
      await until('the leg closed', () => port.openLegs === 0);
    } finally {
      far.close();
    }
  });

  test("a trunk's channels: past its maxChannels an INVITE is 503, and a call's end gives its channel back", async () => {
    const max = SIP.trunks[0]!.maxChannels;
    await until('the earlier calls ended', () => port.openLegs === 0);
    const ringing = Array.from({ length: max }, () => carrier.invite(sitePort()));
    await until('every channel in use', () => calls.length === max);
    expect(gate.channels.inUse('loopback')).toBe(max);
    expect((await carrier.invite(sitePort()).final).status).toBe(503);
    expect(calls.length).toBe(max);
    await port.reject(calls[0]!.leg, 'busy');
    expect((await ringing[0]!.final).status).toBe(486);
    await until('the channel given back', () => gate.channels.inUse('loopback') === max - 1);
    const next = carrier.invite(sitePort());
    await until('the next call', () => calls.length === max + 1);
    for (const c of calls.slice(1)) await port.reject(c.leg, 'busy');
    for (const r of [...ringing.slice(1), next]) expect((await r.final).status).toBe(486);
    await until('every channel free', () => gate.channels.inUse('loopback') === 0);
  });

  test('an offer without G.711 is 488 and never reaches the site', async () => {
    const call = carrier.invite(sitePort(), OFFER.replace('RTP/AVP 8 0 101', 'RTP/AVP 18'));
    expect((await call.final).status).toBe(488);
    expect(calls).toEqual([]);
  });

  test('an INVITE from an address that is neither a trunk nor a phone: 403', async () => {
    const stranger = await Carrier.start('127.0.0.2');
    try {
      expect((await stranger.invite(sitePort()).final).status).toBe(403);
    } finally {
      await stranger.stack.close();
    }
    expect(calls).toEqual([]);
  });

  test('outside any dialog: OPTIONS 200, another method 481, a request of an unknown dialog 481', async () => {
    expect((await carrier.send(sitePort(), 'OPTIONS')).status).toBe(200);
    expect((await carrier.send(sitePort(), 'MESSAGE')).status).toBe(481);
    expect((await carrier.send(sitePort(), 'BYE', 'nosuchtag')).status).toBe(481);
  });

  test('an agent whose phone is not registered, dial and hand-over: refused, naming why', async () => {
    const call = carrier.invite(sitePort());
    await until('the call', () => calls.length === 1);
    const leg = calls[0]!.leg;
    const e = await port.bridgeToAgent(leg, 'a01').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(AgentPhoneFailed);
    expect((e as AgentPhoneFailed).reason).toBe('phone-not-registered');
    await expect(port.dial('13800000001', { callerId: 'x', timeoutMs: 1000 })).rejects.toSatisfy((x) =>
      isDomainError(x, 'unavailable'),
    );
    // No peers given: no other site is known.
    await expect(port.handOver(leg, { toSiteId: 'wanzhou', token: 't' })).rejects.toThrow(
      /cannot be handed to site wanzhou: this site knows no other site/,
    );
    await port.hangup(leg);
    expect((await call.final).status).toBe(480);
  });

  test('once stopping, an INVITE from the trunk is 503', async () => {
    await port.stop(1000);
    expect((await carrier.invite(sitePort()).final).status).toBe(503);
    expect(calls).toEqual([]);
  });
});
