/**
 * The SIP media port's `dial` on real sockets (loopback): the site's stack with the port as its
 * TU and the in-thread media engine, and a carrier's proxy (its own stack) that plays the
 * customer: answers, is busy, refuses 503, or rings until the site gives up. Also a proxy
 * nobody runs (the INVITE times out), a number that is not digits, and a full trunk. The
 * callback around it, on a real site with SIPp, is test/sip/site-callback-over-sip.test.ts.
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../shared/clock.js';
import { isDomainError } from '../../shared/errors.js';
import { silentLogger } from '../../shared/log.js';
import { LocalMediaEngine } from '../../shared/media/engine/engine.js';
import { RtpPeer } from '../../shared/media/engine/testing.js';
import { answerOffer } from '../../shared/media/sdp.js';
import { RealScheduler } from '../../shared/scheduler.js';
import { buildInvite } from '../../shared/sip/dialog/requests.js';
import { OFFER } from '../../shared/sip/dialog/testing.js';
import { fromHeader } from '../../shared/sip/headers.js';
import type { SipRequest } from '../../shared/sip/message.js';
import { buildResponse } from '../../shared/sip/response.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { ServerTransaction, TransactionUser } from '../../shared/sip/stack/transaction-user.js';
import { DEFAULT_REGISTRAR_LIMITS, DEFAULT_SIP_LIMITS, type SiteSipConfig } from '../config-sip.js';
import { loadPromptCatalogueFile } from '../ivr/flow.js';
import { pgSkip, siteTestDb, type SiteTestDb } from '../store/testing.js';
import { PgRegistrationStore } from '../store/sip-registrations-repo.js';
import { parseCidr } from './cidr.js';
import { InviteGate } from './invite-gate.js';
import type { CallLeg } from './media-port.js';
import { PhoneRegistrar } from './phone-registrar.js';
import { PromptLibrary } from './prompt-library.js';
import { CLIP_FILES, type ManifestClip } from './prompt-manifest.js';
import { clipKey, planPrompt } from './prompt-pieces.js';
import { SipMediaPort } from './sip-media-port.js';
import { TrunkAcl } from './trunk-acl.js';

const LOCAL = '127.0.0.1';
const CUSTOMER = '13800000001';

type Behaviour = 'answer' | 'busy' | 'fail-503' | 'ring';

/** The carrier's proxy, as the customer's line behaves: one behaviour per INVITE, in order. */
class CustomerLine implements TransactionUser {
  readonly invites: SipRequest[] = [];
  readonly byes: SipRequest[] = [];
  readonly next: Behaviour[] = [];
  stack!: SipStack;
  rtp!: RtpPeer;
  private readonly ringing = new Map<string, ServerTransaction>();

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    if (request.method === 'BYE') {
      this.byes.push(request);
      return tx.respond(buildResponse(request, 200, {}));
    }
    if (request.method !== 'INVITE') return tx.respond(buildResponse(request, 200, {}));
    this.invites.push(request);
    const toTag = `cust${this.invites.length}`;
    const me = this.stack.address('udp');
    switch (this.next.shift() ?? 'answer') {
      case 'busy':
        return tx.respond(buildResponse(request, 486, { toTag }));
      case 'fail-503':
        return tx.respond(buildResponse(request, 503, { toTag }));
      case 'ring':
        this.ringing.set(fromHeader(request).tag ?? '', tx);
        return tx.respond(buildResponse(request, 180, { toTag }));
      case 'answer': {
        const { sdp } = answerOffer(request.body.toString('utf8'), {
          address: LOCAL,
          port: this.rtp.port,
          sessionId: '1',
          sessionVersion: 1,
          codecs: ['PCMA'],
        });
        tx.respond(buildResponse(request, 180, { toTag }));
        return tx.respond(
          buildResponse(request, 200, {
            toTag,
            headers: [
              { name: 'Contact', value: `<sip:${CUSTOMER}@${me.host}:${me.port}>` },
              { name: 'Content-Type', value: 'application/sdp' },
            ],
            body: Buffer.from(sdp),
          }),
        );
      }
    }
  }
  onAck(): void {}
  onCancel(invite: SipRequest): void {
    const tag = fromHeader(invite).tag ?? '';
    this.ringing.get(tag)?.respond(buildResponse(invite, 487, { toTag: 'cancelled' }));
    this.ringing.delete(tag);
  }
  onStrayResponse(): void {}

  static async start(): Promise<CustomerLine> {
    const c = new CustomerLine();
    c.rtp = await RtpPeer.open();
    c.stack = await SipStack.start({ udp: { host: LOCAL, port: 0 }, log: silentLogger }, c);
    return c;
  }
}

function sipConfig(proxyPort: number, maxChannels: number): SiteSipConfig {
  return {
    listen: [{ transport: 'udp', host: LOCAL, port: 0 }],
    publicAddress: LOCAL,
    rtpPorts: { from: 46200, to: 46299 },
    rtpLatching: 'sdp-host',
    realm: 'site.test',
    digest: { secret: { env: 'UNUSED' }, nonceLifetimeMs: 300_000, algorithms: ['MD5'], nonceMemory: 100 },
    trunks: [
      {
        name: 'carrier',
        sources: [parseCidr(`${LOCAL}/32`, 'sources')],
        dnis: ['95588'],
        maxChannels,
        outbound: { host: LOCAL, port: proxyPort, transport: 'udp' },
      },
    ],
    dialOut: { trunk: 'carrier', callerId: '95588' },
    phones: [],
    timers: { t1Ms: 100, sessionIntervalS: 1800, rtpInactivityMs: 30_000, ringTimeoutMs: 2000 },
    registrar: DEFAULT_REGISTRAR_LIMITS,
    limits: DEFAULT_SIP_LIMITS,
  };
}

const until = async (what: string, ok: () => boolean, ms = 5000): Promise<void> => {
  for (let i = 0; i < ms / 10 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!ok()) throw new Error(`never: ${what}`);
};

describe.skipIf(pgSkip)('SipMediaPort.dial on loopback', () => {
  let t: SiteTestDb;
  let dir: string;
  let engine: LocalMediaEngine;
  let registrar: PhoneRegistrar;
  let line: CustomerLine;
  const ports: Array<{ port: SipMediaPort; stack: SipStack; gate: InviteGate }> = [];
  const farEnd: CallLeg[] = [];
  let prompts: PromptLibrary;

  /** A port whose dialOut trunk's proxy is at `proxyPort`, with `maxChannels` channels. */
  async function sitePort(proxyPort: number, maxChannels = 5): Promise<SipMediaPort> {
    const sip = sipConfig(proxyPort, maxChannels);
    const port = new SipMediaPort({
      sip,
      engine,
      prompts,
      scheduler: new RealScheduler(),
      log: silentLogger,
    });
    port.onFarEndHangup((leg) => farEnd.push(leg));
    port.onInbound(() => {});
    const gate = new InviteGate(new TrunkAcl(sip.trunks), registrar, silentLogger, systemClock);
    // The stack's T1 as the site's (sip-voice.ts): timer B, the INVITE's timeout, is 64*T1.
    const stack = await SipStack.start(
      { udp: { host: LOCAL, port: 0 }, timers: { t1Ms: sip.timers.t1Ms }, log: silentLogger },
      port,
    );
    port.attach({ stack, registrar, gate });
    ports.push({ port, stack, gate });
    return port;
  }

  beforeAll(async () => {
    t = await siteTestDb('sip_dial');
    dir = mkdtempSync(join(tmpdir(), 'sip-dial-'));
    const manifest = join(dir, 'manifest.json');
    const catalogue = loadPromptCatalogueFile(new URL('../ivr/prompts.yaml', import.meta.url).pathname);
    // A small build: every clip of `welcome` is bytes 0x11 (160 = 20 ms).
    const clips: Record<string, ManifestClip> = {};
    planPrompt(catalogue, 'welcome', {}, 'zh').forEach((c, i) => {
      const sub = `11${i}`.padEnd(16, '0');
      mkdirSync(join(dir, sub));
      writeFileSync(join(dir, sub, CLIP_FILES.PCMA), Buffer.alloc(320, 0x11));
      writeFileSync(join(dir, sub, CLIP_FILES.PCMU), Buffer.alloc(320, 0x11));
      clips[clipKey(c)] = { dir: sub, text: c.text, voice: 'cmn', durationMs: 40 };
    });
    writeFileSync(manifest, JSON.stringify({ version: 1, sampleRate: 8000, tools: 't', clips }));
    prompts = PromptLibrary.load(manifest, catalogue);
    engine = new LocalMediaEngine(
      { host: LOCAL, portMin: 46200, portMax: 46299, rtpTimeoutMs: 30_000 },
      silentLogger,
    );
    registrar = await PhoneRegistrar.open({
      sip: sipConfig(5060, 5),
      secret: Buffer.from('a-unit-test-nonce-secret-of-32-chars!'),
      store: new PgRegistrationStore(t.pool),
      clock: systemClock,
      log: silentLogger,
    });
    line = await CustomerLine.start();
  });

  afterEach(async () => {
    farEnd.length = 0;
    line.invites.length = 0;
    line.byes.length = 0;
    line.next.length = 0;
    for (const p of ports.splice(0)) {
      await p.port.stop(1000);
      await p.stack.close();
      p.gate.stop();
    }
  });

  afterAll(async () => {
    await line?.stack.close();
    line?.rtp.close();
    registrar?.stop();
    await engine?.stop();
    await t?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const proxy = (): number => line.stack.address('udp').port;

  test("answered: INVITE sip:<number>@<proxy> From the bank's number; the caller's leg carries RTP; the site's hang-up is a BYE", async () => {
    const port = await sitePort(proxy());
    const leg = await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 5000 });
    expect(leg).not.toBe('no-answer');
    const answered = leg as CallLeg;
    expect(answered.role).toBe('caller');
    expect(answered.endpoint).toMatchObject({ transport: 'rtp', host: LOCAL, codec: 'PCMA' });
    const invite = line.invites[0]!;
    expect(invite.uri).toBe(`sip:${CUSTOMER}@${LOCAL}:${proxy()}`);
    expect(fromHeader(invite).uri).toBe(`sip:95588@${LOCAL}`);
    // The engine points the leg's RTP at the customer's SDP: a prompt reaches them.
    await port.play(answered, 'welcome');
    await until('the customer hears the prompt', () => line.rtp.audio().includes(0x11));
    await port.hangup(answered);
    await until("the site's BYE", () => line.byes.length === 1);
    await until('the leg closed', () => port.openLegs === 0);
    expect(farEnd).toEqual([]);
  });

  test('busy (486) is no-answer; so is a line that rings out (CANCEL, 487); a 503 is unavailable naming the trunk', async () => {
    const port = await sitePort(proxy());
    line.next.push('busy', 'ring', 'fail-503');
    expect(await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 5000 })).toBe('no-answer');
    expect(await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 500 })).toBe('no-answer');
    const e = await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 5000 }).catch((x: unknown) => x);
    expect(isDomainError(e, 'unavailable') && e.message).toMatch(/trunk carrier refused the call: 503/);
    expect(line.invites).toHaveLength(3);
    await until('every leg closed', () => port.openLegs === 0);
  });

  test('a number that is not digits is refused invalid-argument; no INVITE leaves', async () => {
    const port = await sitePort(proxy());
    for (const bad of [`${CUSTOMER}@evil.example`, `${CUSTOMER};transport=tcp`, `<sip:${CUSTOMER}>`]) {
      const e = await port.dial(bad, { callerId: 'callback', timeoutMs: 5000 }).catch((x: unknown) => x);
      expect(isDomainError(e, 'invalid-argument') && e.field).toBe('number');
    }
    expect(line.invites).toEqual([]);
    expect(port.openLegs).toBe(0);
  });

  test('a full trunk refuses the next dial (unavailable) while the first rings; a channel frees when it ends', async () => {
    const port = await sitePort(proxy(), 1);
    line.next.push('ring');
    const first = port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 1500 });
    await until('the first rings', () => line.invites.length === 1);
    const e = await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 1500 }).catch((x: unknown) => x);
    expect(isDomainError(e, 'unavailable') && e.message).toMatch(
      /trunk carrier is full: all its 1 channels in use/,
    );
    expect(line.invites).toHaveLength(1);
    expect(await first).toBe('no-answer');
    line.next.push('busy');
    expect(await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 1500 })).toBe('no-answer');
  });

  test('a call the trunk brought in holds one of its channels: with one channel, the dial is refused', async () => {
    const port = await sitePort(proxy(), 1);
    const inbound: CallLeg[] = [];
    port.onInbound((c) => inbound.push(c.leg));
    const me = line.stack.address('udp');
    const site = ports[0]!.stack.address('udp');
    const invite = buildInvite(
      {
        requestUri: `sip:95588@${LOCAL}:${site.port}`,
        fromUri: `sip:${CUSTOMER}@${me.host}`,
        fromTag: 'in1',
        toUri: `sip:95588@${LOCAL}`,
        callId: 'inbound-call-1',
        seq: 1,
        contact: `sip:carrier@${me.host}:${me.port}`,
      },
      { transport: 'UDP', sentBy: `${me.host}:${me.port}` },
      'z9hG4bKinbound1',
      { headers: [{ name: 'Content-Type', value: 'application/sdp' }], body: Buffer.from(OFFER) },
    );
    let final = 0;
    line.stack.request(invite, site, {
      onResponse: (r) => r.status >= 200 && (final = r.status),
      onTimeout: () => {},
      onTransportError: () => {},
    });
    await until('the inbound call', () => inbound.length === 1);
    const e = await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 1500 }).catch((x: unknown) => x);
    expect(isDomainError(e, 'unavailable') && e.message).toMatch(
      /trunk carrier is full: all its 1 channels in use/,
    );
    expect(line.invites).toEqual([]);
    await port.reject(inbound[0]!, 'busy');
    await until('the 486', () => final === 486);
    await until('the leg closed', () => port.openLegs === 0);
    line.next.push('busy');
    expect(await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 1500 })).toBe('no-answer');
  });

  test('a proxy nobody runs: the INVITE times out (64*T1) and the dial is unavailable, naming the trunk', async () => {
    const silent = await SipStack.start({ udp: { host: LOCAL, port: 0 }, log: silentLogger }, line);
    const deadPort = silent.address('udp').port;
    await silent.close();
    const port = await sitePort(deadPort);
    const e = await port.dial(CUSTOMER, { callerId: 'callback', timeoutMs: 20_000 }).catch((x: unknown) => x);
    expect(isDomainError(e, 'unavailable') && e.message).toMatch(/trunk carrier did not take the INVITE/);
    await until('the leg closed', () => port.openLegs === 0);
  }, 30_000);
});
