import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { pgSkip, siteTestDb, ManualClock, type SiteTestDb } from '../store/testing.js';
import { PgRegistrationStore } from '../store/sip-registrations-repo.js';
import { createLogger } from '../../shared/log.js';
import { ha1 } from '../../shared/sip/digest-hash.js';
import { headerValues, type SipRequest, type SipResponse } from '../../shared/sip/message.js';
import { parseSipMessage } from '../../shared/sip/parse.js';
import { wire } from '../../shared/sip/testing.js';
import { DEFAULT_REGISTRAR_LIMITS, type SiteSipConfig } from '../config-sip.js';
import { parseCidr } from './cidr.js';
import { InviteGate } from './invite-gate.js';
import { PhoneRegistrar, type RegistrationSource } from './phone-registrar.js';
import { TrunkAcl } from './trunk-acl.js';
import { waitFor } from '../../test/support/wait.js';

const REALM = 'chongqing.cc.example';
const PASSWORDS: Record<string, string> = { '1001': 'purple-Tiger-42', '1002': 'green-Lion-7788' };
const T0 = Date.UTC(2026, 11, 2, 9, 0, 0);

const SIP: Pick<SiteSipConfig, 'realm' | 'phones' | 'registrar' | 'digest'> = {
  realm: REALM,
  digest: {
    secret: { env: 'X' },
    nonceLifetimeMs: 300_000,
    algorithms: ['SHA-256', 'MD5'],
    nonceMemory: 100,
  },
  registrar: { ...DEFAULT_REGISTRAR_LIMITS, maxContactsPerAor: 2 },
  phones: [
    { agentId: 'a01', extension: '1001' },
    { agentId: 'a02', extension: '1002' },
  ].map((p) => ({
    ...p,
    ha1: {
      MD5: ha1('MD5', p.extension, REALM, PASSWORDS[p.extension]!),
      'SHA-256': ha1('SHA-256', p.extension, REALM, PASSWORDS[p.extension]!),
    },
  })),
};
const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
const PHONE_A: RegistrationSource = { transport: 'udp', host: '192.0.2.10', port: 5060 };
const PHONE_B: RegistrationSource = { transport: 'udp', host: '192.0.2.11', port: 5062 };

/** A desk phone talking to the site as baresip does: challenged first, then with credentials. */
class Phone {
  private cseq = 0;
  private nc = 0;
  private challenge: { nonce: string; opaque: string } | undefined;
  readonly callId: string;

  constructor(
    readonly user: string,
    private readonly password: string,
    readonly contact: string,
    callId?: string,
  ) {
    this.callId = callId ?? `reg-${user}-${contact.length}@192.0.2.10`;
  }

  request(
    o: {
      to?: string;
      from?: string;
      expires?: number;
      contact?: string;
      method?: string;
      extra?: string;
      /** Credentials for this realm instead of the site's, or with this nc (a replay, or going back). */
      realm?: string;
      nc?: number;
    } = {},
  ): SipRequest {
    const method = o.method ?? 'REGISTER';
    const uri = method === 'REGISTER' ? `sip:${REALM}` : `sip:95588@${REALM}`;
    this.cseq++;
    let auth = '';
    if (this.challenge) {
      this.nc++;
      const realm = o.realm ?? REALM;
      const h = (s: string) => createHash('md5').update(s).digest('hex');
      const nc = (o.nc ?? this.nc).toString(16).padStart(8, '0');
      const a1 = h(`${this.user}:${realm}:${this.password}`);
      const response = h(`${a1}:${this.challenge.nonce}:${nc}:abc123:auth:${h(`${method}:${uri}`)}`);
      auth =
        `Authorization: Digest username="${this.user}",realm="${realm}",nonce="${this.challenge.nonce}",` +
        `uri="${uri}",response="${response}",algorithm=MD5,cnonce="abc123",qop=auth,nc=${nc},` +
        `opaque="${this.challenge.opaque}"\n`;
    }
    const to = o.to ?? this.user;
    const msg =
      `${method} ${uri} SIP/2.0\n` +
      `Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK${this.user}${this.cseq};rport\n` +
      `Max-Forwards: 70\n` +
      `From: <sip:${o.from ?? (method === 'REGISTER' ? to : this.user)}@${REALM}>;tag=ph${this.user}\n` +
      `To: <sip:${method === 'REGISTER' ? to : '95588'}@${REALM}>\n` +
      `Call-ID: ${this.callId}\n` +
      `CSeq: ${this.cseq} ${method}\n` +
      (o.contact === '' ? '' : `Contact: ${o.contact ?? `<${this.contact}>`}\n`) +
      (o.expires === undefined ? '' : `Expires: ${o.expires}\n`) +
      `User-Agent: baresip v3.10.0\n` +
      auth +
      (o.extra ?? '') +
      `Content-Length: 0\n\n`;
    return parseSipMessage(wire(msg)) as SipRequest;
  }

  /** Reads the MD5 challenge of a 401. */
  heed(r: SipResponse): void {
    assert.equal(r.status, 401);
    const value = headerValues(r, 'WWW-Authenticate').find((v) => v.includes('algorithm=MD5'))!;
    const field = (n: string) => new RegExp(`${n}="([^"]*)"`).exec(value)![1]!;
    this.challenge = { nonce: field('nonce'), opaque: field('opaque') };
    this.nc = 0;
  }
}

/** Log lines as objects, to check what was said and how often. */
function capture() {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(
    {},
    { level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  return { log, lines, said: (msg: string) => lines.filter((l) => l.msg === msg) };
}

describe.skipIf(pgSkip)('the location service on PostgreSQL', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(T0);
  beforeAll(async () => {
    t = await siteTestDb('sip_registrar', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  const changed: string[] = [];
  const open = (log = capture().log) =>
    PhoneRegistrar.open({
      onPhoneChange: (agentId) => changed.push(agentId),
      sip: SIP,
      secret: SECRET,
      store: new PgRegistrationStore(t.pool),
      clock,
      log,
      refusalWindowMs: 60_000,
    });
  const stored = async () =>
    (
      await t.pool.query<{ aor: string; contact: string; received_host: string; expires_at: Date }>(
        `SELECT aor, contact, received_host, expires_at FROM sip_registrations ORDER BY aor, contact`,
      )
    ).rows;

  let firstPhone: Phone | undefined;

  /** Registers (challenge, then credentials) and returns the final answer. */
  async function register(reg: PhoneRegistrar, phone: Phone, source: RegistrationSource, o = {}) {
    const first = await reg.handleRegister(phone.request(o), source);
    if (first.status !== 401) return first;
    phone.heed(first);
    return reg.handleRegister(phone.request(o), source);
  }

  test('a phone is challenged, then registered; the binding is stored before the 200', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const phone = new Phone(
      '1001',
      PASSWORDS['1001']!,
      'sip:1001@192.0.2.10:5060;transport=UDP;rinstance=7f',
    );
    const challenged = await reg.handleRegister(phone.request(), PHONE_A);
    assert.equal(challenged.status, 401);
    assert.deepEqual(
      headerValues(challenged, 'WWW-Authenticate').map((v) => /algorithm=([^,]+)/.exec(v)![1]),
      ['SHA-256', 'MD5'],
    );
    assert.equal(headerValues(challenged, 'To')[0]!.includes(';tag='), true);
    assert.equal(reg.phoneState('a01'), 'not-registered');
    phone.heed(challenged);
    const ok = await reg.handleRegister(phone.request(), PHONE_A);
    assert.equal(ok.status, 200);
    // Scheme and host lower-cased, transport kept, the phone's own parameters dropped.
    assert.deepEqual(headerValues(ok, 'Contact'), ['<sip:1001@192.0.2.10:5060;transport=udp>;expires=3600']);
    assert.deepEqual(await stored(), [
      {
        aor: `sip:1001@${REALM}`,
        contact: 'sip:1001@192.0.2.10:5060;transport=udp',
        received_host: '192.0.2.10',
        expires_at: new Date(T0 + 3_600_000),
      },
    ]);
    assert.equal(reg.phoneState('a01'), 'registered');
    assert.equal(reg.phoneState('a02'), 'not-registered');
    assert.equal(reg.phoneState('s01'), 'no-phone');
    assert.deepEqual(reg.phoneOf('a01'), [
      {
        contact: 'sip:1001@192.0.2.10:5060;transport=udp',
        target: { transport: 'udp', host: '192.0.2.10', port: 5060 },
        received: PHONE_A,
        expiresAtMs: T0 + 3_600_000,
        q: undefined,
      },
    ]);
    assert.deepEqual(reg.phoneOf('s01'), []);
    assert.equal(c.said('phone registered').length, 1);
    assert.deepEqual(changed.splice(0), ['a01']);
    assert.equal(c.said('sip phone challenged').length, 1);
    assert.equal(c.said('sip phone refused').length, 0);
    // Nothing in the log is a credential.
    assert.ok(!JSON.stringify(c.lines).includes('response='));
    firstPhone = phone;
    reg.stop();
  });

  test('a restart (a new service on the same database) still finds the binding', async () => {
    const reg = await open();
    assert.equal(reg.phoneState('a01'), 'registered');
    assert.equal(reg.phoneOf('a01')[0]!.contact, 'sip:1001@192.0.2.10:5060;transport=udp');
    // Same secret: the phone's nonce is still good after the restart, and its refresh is taken
    // without a new challenge.
    const refresh = await reg.handleRegister(firstPhone!.request(), PHONE_A);
    assert.equal(refresh.status, 200);
    assert.deepEqual((await stored()).length, 1);
    reg.stop();
  });

  test("a wrong password is 403; a second phone may not register someone else's extension", async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const wrong = new Phone('1001', 'not-the-password', 'sip:1001@192.0.2.10');
    const r = await register(reg, wrong, PHONE_A);
    assert.equal(r.status, 403);
    const thief = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.11:5062');
    const stolen = await register(reg, thief, PHONE_B, { to: '1001' });
    assert.equal(stolen.status, 403);
    assert.deepEqual(await stored(), []);
    assert.equal(reg.phoneState('a01'), 'not-registered');
    const refused = c.said('sip phone refused');
    assert.deepEqual(
      refused.map((l) => [l.why, l.extension, l.source, l.status]),
      [
        ['wrong-password', '1001', 'udp:192.0.2.10:5060', 403],
        ['other-extension', '1002', 'udp:192.0.2.11:5062', 403],
      ],
    );
    assert.match(String(refused[1]!.detail), /phone 1002 may not register extension 1001/);
    reg.stop();
  });

  test('an extension not on the site is 404 before any challenge; a bad Contact is 400', async () => {
    const c = capture();
    const reg = await open(c.log);
    const stranger = new Phone('2001', 'whatever-password', 'sip:2001@192.0.2.30');
    const r = await reg.handleRegister(stranger.request(), PHONE_A);
    assert.equal(r.status, 404);
    assert.equal(c.said('sip phone refused')[0]!.why, 'unknown-extension');
    const phone = new Phone('1002', PASSWORDS['1002']!, 'sips:1002@192.0.2.11');
    const bad = await register(reg, phone, PHONE_B);
    assert.equal(bad.status, 400);
    assert.match(bad.reason, /Contact sips:1002@192\.0\.2\.11 is not a sip: URI over UDP or TCP/);
    const tls = await reg.handleRegister(
      phone.request({ contact: '<sip:1002@192.0.2.11;transport=tls>' }),
      PHONE_B,
    );
    assert.equal(tls.status, 400);
    assert.deepEqual(await stored(), []);
    reg.stop();
  });

  test('refusals from one source are logged once a window, then summed up', async () => {
    const c = capture();
    const reg = await open(c.log);
    for (let i = 0; i < 50; i++) {
      const scanner = new Phone(String(3000 + i), 'x', 'sip:x@198.51.100.66');
      assert.equal((await reg.handleRegister(scanner.request(), PHONE_B)).status, 404);
    }
    assert.equal(c.said('sip phone refused').length, 1);
    clock.advance(61_000);
    await reg.handleRegister(new Phone('3999', 'x', 'sip:x@198.51.100.66').request(), PHONE_B);
    const summary = c.said('more sip phone refusals');
    assert.equal(summary.length, 1);
    // The flood goes on: the 51st is counted into the window's summary, not logged.
    assert.equal(summary[0]!.count, 50);
    assert.equal(summary[0]!.source, PHONE_B.host);
    assert.equal(c.said('sip phone refused').length, 1);
    reg.stop();
  });

  test('a phone that restarted on a new port is rung there, not at its old binding (refreshed last first)', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const reg = await open();
    const before = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.20:5060');
    assert.equal((await register(reg, before, PHONE_B, { expires: 300 })).status, 200);
    clock.advance(1_000);
    const after = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.20:5099');
    assert.equal((await register(reg, after, PHONE_B, { expires: 300 })).status, 200);
    assert.deepEqual(
      reg.phoneOf('a02').map((p) => p.contact),
      ['sip:1002@192.0.2.20:5099', 'sip:1002@192.0.2.20:5060'],
    );
    clock.advance(1_000);
    // The old one refreshes (it was alive after all): it is the last refreshed now.
    assert.equal((await register(reg, before, PHONE_B, { expires: 300 })).status, 200);
    assert.equal(reg.phoneOf('a02')[0]!.contact, 'sip:1002@192.0.2.20:5060');
    changed.splice(0);
    reg.stop();
  });

  test('expiry: a lapsed binding is not rung, and the sweep removes it from the store', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const phone = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@10.1.2.3:5060');
    const ok = await register(reg, phone, PHONE_B, { expires: 120 });
    assert.equal(ok.status, 200);
    // Behind a NAT: the Contact names a private address that is not the source, so the phone is
    // reached where its REGISTER came from.
    assert.deepEqual(reg.phoneOf('a02')[0]!.target, PHONE_B);
    assert.equal(await reg.sweep(), 0);
    clock.advance(120_000);
    assert.deepEqual(reg.phoneOf('a02'), []);
    assert.equal(reg.phoneState('a02'), 'not-registered');
    assert.equal((await stored()).length, 1);
    assert.equal(await reg.sweep(), 1);
    assert.deepEqual(await stored(), []);
    assert.equal(c.said('phone unregistered')[0]!.change, 'expired');
    assert.deepEqual(changed.splice(0), ['a02', 'a02']);
    // The restarted service does not bring it back.
    const again = await open();
    assert.deepEqual(again.phoneOf('a02'), []);
    again.stop();
    reg.stop();
  });

  test("refresh, unregister and the registrar's own refusals, each stored or not as answered", async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const reg = await open();
    const phone = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    assert.equal((await register(reg, phone, PHONE_A, { expires: 600 })).status, 200);
    clock.advance(10_000);
    const refreshed = await reg.handleRegister(phone.request({ expires: 900 }), PHONE_A);
    assert.equal(refreshed.status, 200);
    assert.deepEqual(
      (await stored()).map((r) => r.expires_at.getTime()),
      [clock.now() + 900_000],
    );
    // Too brief: 423 with Min-Expires, nothing changes.
    const brief = await reg.handleRegister(phone.request({ expires: 5 }), PHONE_A);
    assert.equal(brief.status, 423);
    assert.deepEqual(headerValues(brief, 'Min-Expires'), ['60']);
    // More contacts than the cap (2): 403, nothing changes.
    const many = await reg.handleRegister(
      phone.request({ contact: '<sip:1001@192.0.2.10:5070>, <sip:1001@192.0.2.10:5080>' }),
      PHONE_A,
    );
    assert.equal(many.status, 403);
    assert.equal((await stored()).length, 1);
    // Unregister everything.
    const gone = await reg.handleRegister(phone.request({ contact: '*', expires: 0 }), PHONE_A);
    assert.equal(gone.status, 200);
    assert.deepEqual(headerValues(gone, 'Contact'), []);
    assert.deepEqual(await stored(), []);
    assert.equal(reg.phoneState('a01'), 'not-registered');
    reg.stop();
  });

  test('a store failure answers 500 and changes nothing, in memory or stored', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const phone = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    assert.equal((await register(reg, phone, PHONE_A, { expires: 600 })).status, 200);
    const before = reg.phoneOf('a01');
    await t.pool.query('ALTER TABLE sip_registrations RENAME TO sip_registrations_away');
    try {
      const moved = await reg.handleRegister(
        phone.request({ contact: '<sip:1001@192.0.2.10:5099>', expires: 600 }),
        PHONE_A,
      );
      assert.equal(moved.status, 500);
      assert.deepEqual(headerValues(moved, 'Retry-After'), ['5']);
      assert.deepEqual(reg.phoneOf('a01'), before);
      clock.advance(600_000);
      assert.equal(await reg.sweep(), 0); // fails too, and keeps the binding for the next sweep
    } finally {
      await t.pool.query('ALTER TABLE sip_registrations_away RENAME TO sip_registrations');
    }
    assert.equal(c.said('sip registration not stored').length, 1);
    assert.equal(c.said('sip registration sweep failed').length, 1);
    assert.deepEqual(
      (await stored()).map((r) => r.contact),
      ['sip:1001@192.0.2.10'],
    );
    // The store is back: the next sweep does what the failed one could not.
    assert.equal(await reg.sweep(), 1);
    assert.deepEqual(await stored(), []);
    reg.stop();
  });

  test("a trunk's INVITE must dial one of its numbers and find a channel free; each is given back once", async () => {
    const c = capture();
    const reg = await open(c.log);
    const gate = new InviteGate(
      new TrunkAcl([
        { name: 'telecom', sources: [parseCidr('203.0.113.0/28', 'f')], dnis: ['95588'], maxChannels: 2 },
      ]),
      reg,
      c.log,
      clock,
    );
    const carrier: RegistrationSource = { transport: 'udp', host: '203.0.113.5', port: 5060 };
    const phone = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    const invite = (dnis: string) => {
      const r = phone.request({ method: 'INVITE' });
      return { ...r, uri: `sip:${dnis}@${REALM}` };
    };
    const other = gate.admit(invite('95599'), carrier);
    assert.ok(!other.ok && other.response.status === 404);
    assert.deepEqual(
      c.said('sip invite refused').map((l) => [l.why, l.trunk, l.status]),
      [['unknown-dnis', 'telecom', 404]],
    );
    const first = gate.admit(invite('95588'), carrier);
    const second = gate.admit(invite('95588'), carrier);
    assert.ok(first.ok && first.from === 'trunk' && second.ok && second.from === 'trunk');
    assert.equal(gate.channels.inUse('telecom'), 2);
    const third = gate.admit(invite('95588'), { ...carrier, host: '203.0.113.6' });
    assert.ok(!third.ok && third.response.status === 503);
    assert.equal(c.said('sip invite refused').at(-1)!.why, 'trunk-full');
    first.release();
    first.release(); // given back once, however often the port says so
    assert.equal(gate.channels.inUse('telecom'), 1);
    assert.ok(gate.admit(invite('95588'), carrier).ok);
    gate.stop();
    reg.stop();
  });

  test('INVITEs: a trunk by its source, a registered phone by digest, anything else 403 logged once', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const gate = new InviteGate(
      new TrunkAcl([
        { name: 'telecom', sources: [parseCidr('203.0.113.0/28', 'f')], dnis: ['95588'], maxChannels: 30 },
      ]),
      reg,
      c.log,
      clock,
    );
    const phone = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    const carrier: RegistrationSource = { transport: 'udp', host: '203.0.113.5', port: 5060 };
    const fromTrunk = gate.admit(phone.request({ method: 'INVITE' }), carrier);
    assert.ok(fromTrunk.ok && fromTrunk.from === 'trunk' && fromTrunk.trunk.name === 'telecom');
    // Not registered yet: the phone's address is nobody's.
    for (let i = 0; i < 20; i++) {
      const r = gate.admit(phone.request({ method: 'INVITE' }), PHONE_A);
      assert.ok(!r.ok && r.response.status === 403);
    }
    assert.equal(c.said('sip invite refused').length, 1);
    assert.equal(c.said('sip invite refused')[0]!.why, 'unknown-source');
    assert.equal((await register(reg, phone, PHONE_A)).status, 200);
    // The phone reuses the nonce of its REGISTER, with the next nc: admitted at once.
    assert.deepEqual(gate.admit(phone.request({ method: 'INVITE' }), PHONE_A), {
      ok: true,
      from: 'phone',
      extension: '1001',
    });
    // A phone with no nonce yet is challenged, then admitted.
    const fresh = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    const challenged = gate.admit(fresh.request({ method: 'INVITE' }), PHONE_A);
    assert.ok(!challenged.ok && challenged.response.status === 401);
    fresh.heed(challenged.response);
    const invite = fresh.request({ method: 'INVITE' });
    assert.deepEqual(gate.admit(invite, PHONE_A), { ok: true, from: 'phone', extension: '1001' });
    // The same credentials again (the same nc) are a replay.
    const replay = gate.admit(invite, PHONE_A);
    assert.ok(!replay.ok && replay.response.status === 403);
    // Calling as another extension is refused.
    const spoof = reg.authorizeInvite(fresh.request({ method: 'INVITE', from: '1002' }), PHONE_A);
    assert.ok(!spoof.ok && spoof.response.status === 403);
    // One line per source a window: the second refusal is counted, and said at stop.
    assert.deepEqual(
      c.said('sip phone refused').map((l) => [l.method, l.why]),
      [['INVITE', 'replayed-nc']],
    );
    gate.stop();
    reg.stop();
    assert.deepEqual(
      c.said('more sip phone refusals').map((l) => [l.source, l.count, l.kinds]),
      [[PHONE_A.host, 1, { 'other-extension': 1 }]],
    );
  });

  test('requests whose headers cannot be read are 400, and a To without a user is 404', async () => {
    const c = capture();
    const reg = await open(c.log);
    // Built by hand, as no parser would let them through: the service still answers them.
    const handMade = (headers: Array<[string, string]>, method = 'REGISTER'): SipRequest => ({
      kind: 'request',
      method,
      uri: `sip:${REALM}`,
      headers: [
        ['Via', 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKx'],
        ['Call-ID', 'hand@1'],
        ['CSeq', `1 ${method}`],
        ...headers,
      ].map(([name, value]) => ({ name: name!, value: value! })),
      body: Buffer.alloc(0),
    });
    const from: [string, string] = ['From', `<sip:1001@${REALM}>;tag=1`];
    const badTo = await reg.handleRegister(handMade([from, ['To', '<sip:1001@x']]), PHONE_A);
    assert.equal(badTo.status, 400);
    assert.match(badTo.reason, /^Bad Request \(To: /);
    const badContact = await reg.handleRegister(
      handMade([from, ['To', `<sip:1001@${REALM}>`], ['Contact', '<sip:1001@x>;expires=soon']]),
      PHONE_A,
    );
    assert.equal(badContact.status, 400);
    const noUser = await reg.handleRegister(handMade([from, ['To', `<sip:${REALM}>`]]), PHONE_A);
    assert.equal(noUser.status, 404);
    const invite = reg.authorizeInvite(
      handMade(
        [
          ['From', '<sip:1001@x'],
          ['To', `<sip:95588@${REALM}>`],
        ],
        'INVITE',
      ),
      PHONE_A,
    );
    assert.ok(!invite.ok && invite.response.status === 400);
    reg.stop();
    assert.deepEqual(
      [...c.said('sip phone refused'), ...c.said('more sip phone refusals')].map((l) => l.why ?? l.kinds),
      ['malformed', { malformed: 2, 'unknown-extension': 1 }],
    );
  });

  test('once started, the service sweeps lapsed bindings by itself', async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const reg = await open();
    const phone = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.11:5062');
    assert.equal((await register(reg, phone, PHONE_B, { expires: 60 })).status, 200);
    clock.advance(60_000);
    reg.start(20);
    await waitFor('the lapsed binding swept', async () => (await stored()).length === 0);
    reg.stop();
  });

  test("attacks on REGISTER: nc going back, a foreign realm, a stranger's credentials, Contact floods", async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const phone = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    assert.equal((await register(reg, phone, PHONE_A)).status, 200);
    assert.equal((await reg.handleRegister(phone.request(), PHONE_A)).status, 200);
    // nc 3 was next; 1 goes back (a replay of an older request) and is refused.
    assert.equal((await reg.handleRegister(phone.request({ nc: 1 }), PHONE_A)).status, 403);
    // Credentials for another realm: no credentials for ours, challenged again.
    assert.equal((await reg.handleRegister(phone.request({ realm: 'evil.example' }), PHONE_A)).status, 401);
    // `Contact: *` with a non-zero Expires: 400; more Contacts than the cap: 403.
    assert.equal(
      (await reg.handleRegister(phone.request({ contact: '*', expires: 3600 }), PHONE_A)).status,
      400,
    );
    const many = Array.from({ length: 300 }, (_, i) => `<sip:1001@192.0.2.10:${6000 + i}>`).join(', ');
    assert.equal((await reg.handleRegister(phone.request({ contact: many }), PHONE_A)).status, 403);
    // A user the site does not have, answering a challenge, for an extension it does have: 403.
    const stranger = new Phone('9999', 'whatever-password', 'sip:9999@192.0.2.66');
    const challenge = await reg.handleRegister(stranger.request({ to: '1001' }), PHONE_B);
    stranger.heed(challenge);
    assert.equal((await reg.handleRegister(stranger.request({ to: '1001' }), PHONE_B)).status, 403);
    // Only the one binding of the first REGISTER is stored.
    assert.deepEqual(
      (await stored()).map((r) => r.contact),
      ['sip:1001@192.0.2.10'],
    );
    reg.stop();
    const why = [...c.said('sip phone refused'), ...c.said('more sip phone refusals')].map(
      (l) => l.why ?? l.kinds,
    );
    assert.deepEqual(why, [
      'replayed-nc',
      'unknown-user',
      { 'other-realm': 1, 'registrar-refused': 1, 'too-many-contacts': 1 },
    ]);
  });

  test('MD5 credentials where only SHA-256 is allowed are refused', async () => {
    const c = capture();
    const both = await open();
    const shaOnly = await PhoneRegistrar.open({
      sip: { ...SIP, digest: { ...SIP.digest, algorithms: ['SHA-256'] } },
      secret: SECRET,
      store: new PgRegistrationStore(t.pool),
      clock,
      log: c.log,
    });
    const phone = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.11:5062');
    // The nonce comes from a challenge offering MD5 (same realm and secret: the nonce is good).
    phone.heed(await both.handleRegister(phone.request(), PHONE_B));
    const r = await shaOnly.handleRegister(phone.request(), PHONE_B);
    assert.equal(r.status, 403);
    assert.equal(shaOnly.phoneState('a02'), 'not-registered');
    assert.equal(c.said('sip phone refused')[0]!.why, 'no-ha1-for-algorithm');
    both.stop();
    shaOnly.stop();
  });

  test("a phone's INVITE is taken only from where that phone registered, not from another phone's address", async () => {
    await t.pool.query('TRUNCATE sip_registrations');
    const c = capture();
    const reg = await open(c.log);
    const a = new Phone('1001', PASSWORDS['1001']!, 'sip:1001@192.0.2.10');
    const b = new Phone('1002', PASSWORDS['1002']!, 'sip:1002@192.0.2.11:5062');
    assert.equal((await register(reg, a, PHONE_A)).status, 200);
    assert.equal((await register(reg, b, PHONE_B)).status, 200);
    // Phone A's INVITE, with good credentials, arriving from phone B's address (captured on the
    // way and sent on from there, or A's credentials used on B's desk): refused.
    const fromB = reg.authorizeInvite(a.request({ method: 'INVITE' }), PHONE_B);
    assert.ok(!fromB.ok && fromB.response.status === 403);
    assert.equal(c.said('sip phone refused')[0]!.why, 'other-source');
    // From its own address it is taken.
    assert.deepEqual(reg.authorizeInvite(a.request({ method: 'INVITE' }), PHONE_A), {
      ok: true,
      extension: '1001',
    });
    reg.stop();
  });
});
