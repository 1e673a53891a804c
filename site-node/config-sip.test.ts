import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { compileSiteConfig } from './config.js';
import { DEFAULT_SIP_LIMITS, loadNonceSecret } from './config-sip.js';
import { isDomainError } from '../shared/errors.js';
import { ha1 } from '../shared/sip/digest-hash.js';

const EXAMPLE = new URL('../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;

/** The example's commented `sip:` block, uncommented: the text an operator turns on. */
function exampleWithSip(): string {
  const lines = readFileSync(EXAMPLE, 'utf8').split('\n');
  const start = lines.indexOf('# sip:');
  assert.ok(start > 0, 'the example has a commented sip: section');
  let end = start;
  while (end < lines.length && lines[end]!.startsWith('#')) end++;
  const block = lines.slice(start, end).map((l) => l.slice(2));
  return [...lines.slice(0, start), ...block, ...lines.slice(end)].join('\n');
}

// The tests poke at arbitrary depths of a parsed YAML document, which has no static type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;
const base = (): Doc => parse(exampleWithSip()) as Doc;

function refuses(mutate: (c: Doc) => void, message: RegExp): void {
  const c = base();
  mutate(c);
  assert.throws(
    () => compileSiteConfig(c, '/etc/site', 'site'),
    (e: unknown) => {
      assert.ok(isDomainError(e, 'invalid-argument'), String(e));
      assert.match(e.message, message);
      return true;
    },
  );
}

test("the example's sip section compiles when uncommented, with defaults filled in", () => {
  const c = compileSiteConfig(base(), '/etc/site', 'site');
  const sip = c.sip!;
  assert.equal(sip.realm, 'chongqing.cc.example');
  assert.deepEqual(sip.listen[0], { transport: 'udp', host: '0.0.0.0', port: 5060 });
  assert.deepEqual(sip.digest.secret, { env: 'SITE_SIP_NONCE_SECRET' });
  assert.equal(sip.digest.nonceLifetimeMs, 300_000);
  assert.deepEqual(
    sip.trunks.map((t) => [t.name, t.sources.map((s) => s.text), t.maxChannels]),
    [
      ['telecom', ['203.0.113.0/28'], 40],
      ['unicom', ['203.0.113.64/29', '2001:db8:5::/48'], 20],
    ],
  );
  // Callbacks leave by telecom's proxy, showing the bank's number; unicom only takes calls in.
  assert.deepEqual(sip.trunks[0]!.outbound, { host: '203.0.113.5', port: 5060, transport: 'udp' });
  assert.equal(sip.trunks[1]!.outbound, undefined);
  assert.deepEqual(sip.dialOut, { trunk: 'telecom', callerId: '95588' });
  assert.deepEqual(
    sip.phones.map((p) => [p.agentId, p.extension]),
    [
      ['a01', '1001'],
      ['a02', '1002'],
      ['a03', '1003'],
    ],
  );
  // The example's HA1s are of the passwords it names, in its realm.
  assert.equal(
    sip.phones[0]!.ha1.MD5,
    ha1('MD5', '1001', 'chongqing.cc.example', 'demo-phone-1001-password'),
  );
  assert.deepEqual(sip.timers, {
    t1Ms: 500,
    sessionIntervalS: 1800,
    rtpInactivityMs: 30_000,
    ringTimeoutMs: 20_000,
  });
  assert.deepEqual(sip.registrar, {
    minExpiresS: 60,
    maxExpiresS: 3600,
    defaultExpiresS: 3600,
    maxContactsPerAor: 3,
  });
  assert.deepEqual(sip.limits, DEFAULT_SIP_LIMITS);
});

test('without a sip section there is no SIP, and a minimal one takes every default', () => {
  const none = base();
  delete none.sip;
  assert.equal(compileSiteConfig(none, '/etc/site', 'site').sip, undefined);
  const c = base();
  c.sip = {
    listen: [{ transport: 'tcp', host: '::', port: 5070 }],
    publicAddress: '2001:db8::20',
    rtpPorts: { from: 30000, to: 30001 },
    realm: 'cq',
    digest: { secretFile: 'nonce.secret' },
  };
  const sip = compileSiteConfig(c, '/etc/site', 'site').sip!;
  assert.deepEqual(sip.digest.secret, { file: '/etc/site/nonce.secret' });
  assert.deepEqual(sip.digest.algorithms, ['SHA-256', 'MD5']);
  assert.deepEqual([sip.trunks, sip.phones], [[], []]);
  assert.equal(sip.dialOut, undefined);
  assert.equal(sip.timers.sessionIntervalS, 1800);
  assert.deepEqual(sip.limits, DEFAULT_SIP_LIMITS);
  c.sip.limits = { maxServerTransactions: 2000, tcp: { idle: '1m', messageTimeout: '10s' } };
  assert.deepEqual(compileSiteConfig(c, '/etc/site', 'site').sip!.limits, {
    maxServerTransactions: 2000,
    tcp: { ...DEFAULT_SIP_LIMITS.tcp, idleMs: 60_000, messageMs: 10_000 },
  });
});

test("a trunk's outbound takes port 5060 and UDP by default", () => {
  const c = base();
  c.sip.trunks[1].outbound = { host: '2001:db8:5::1' };
  const sip = compileSiteConfig(c, '/etc/site', 'site').sip!;
  assert.deepEqual(sip.trunks[1]!.outbound, { host: '2001:db8:5::1', port: 5060, transport: 'udp' });
});

test('a bad outbound or dialOut is refused at load, naming the field', () => {
  refuses(
    (c) => (c.sip.trunks[1].outbound = { host: 'proxy.carrier.example' }),
    /site\.sip\.trunks\[1\]\.outbound\.host: must be an IP/,
  );
  refuses(
    (c) => (c.sip.trunks[1].outbound = { host: '203.0.113.70', port: 70000 }),
    /site\.sip\.trunks\[1\]\.outbound\.port/,
  );
  refuses(
    (c) => (c.sip.trunks[1].outbound = { host: '203.0.113.70', transport: 'tls' }),
    /site\.sip\.trunks\[1\]\.outbound\.transport/,
  );
  refuses(
    (c) => (c.sip.trunks[1].outbound = { host: '203.0.113.70', user: 'x' }),
    /site\.sip\.trunks\[1\]\.outbound: Unrecognized key/,
  );
  refuses(
    (c) => (c.sip.dialOut.trunk = 'mobile'),
    /site\.sip\.dialOut\.trunk: "mobile" is not a trunk of this site/,
  );
  refuses(
    (c) => (c.sip.dialOut.trunk = 'unicom'),
    /site\.sip\.dialOut\.trunk: trunk "unicom" has no outbound \(trunks\[1\]\.outbound\)/,
  );
  refuses((c) => (c.sip.dialOut.callerId = '9558<8>'), /site\.sip\.dialOut\.callerId: must be 3-20 digits/);
  refuses((c) => delete c.sip.dialOut.callerId, /site\.sip\.dialOut\.callerId/);
  refuses((c) => {
    c.sip.listen = c.sip.listen.filter((l: Doc) => l.transport === 'udp');
    c.sip.trunks[0].outbound.transport = 'tcp';
  }, /site\.sip\.trunks\[0\]\.outbound\.transport: tcp: the site does not listen on tcp/);
});

test('rtpLatching: sdp-host unless the section says otherwise', () => {
  const c = base();
  assert.equal(compileSiteConfig(c, '/etc/site', 'site').sip!.rtpLatching, 'sdp-host');
  delete c.sip.rtpLatching;
  assert.equal(compileSiteConfig(c, '/etc/site', 'site').sip!.rtpLatching, 'sdp-host');
  c.sip.rtpLatching = 'any';
  assert.equal(compileSiteConfig(c, '/etc/site', 'site').sip!.rtpLatching, 'any');
});

test('each kind of bad sip section is refused, naming the field', () => {
  refuses((c) => (c.sip.listen = []), /site\.sip\.listen: needs at least one/);
  refuses((c) => (c.sip.listen[0].host = 'sip.example'), /site\.sip\.listen\[0\]\.host: must be an IP/);
  refuses((c) => (c.sip.listen[0].transport = 'tls'), /site\.sip\.listen\[0\]\.transport/);
  refuses(
    (c) => c.sip.listen.push({ ...c.sip.listen[0] }),
    /site\.sip\.listen\[2\]: udp 0\.0\.0\.0:5060 is listed twice/,
  );
  refuses((c) => (c.sip.listen[0].port = 20002), /site\.sip\.listen\[0\]\.port: 20002 is inside rtpPorts/);
  refuses((c) => (c.sip.publicAddress = 'cc.example'), /site\.sip\.publicAddress: must be an IP/);
  refuses((c) => (c.sip.rtpPorts.from = 20001), /site\.sip\.rtpPorts\.from: must be even/);
  refuses((c) => (c.sip.rtpPorts.to = 19000), /site\.sip\.rtpPorts\.to: must be above/);
  refuses((c) => (c.sip.rtpLatching = 'sometimes'), /site\.sip\.rtpLatching: .*sdp-host.*any.*off/);
  refuses(
    (c) => (c.sip.rtpPorts = { from: 1000, to: 1100 }),
    /site\.sip\.rtpPorts\.from: must be 1024 or above/,
  );
  refuses((c) => (c.sip.realm = 'cc example'), /site\.sip\.realm/);
  refuses((c) => (c.sip.digest = {}), /site\.sip\.digest: name the nonce secret with exactly one/);
  refuses(
    (c) => (c.sip.digest.secretFile = 'x'),
    /site\.sip\.digest: name the nonce secret with exactly one/,
  );
  refuses(
    (c) => (c.sip.digest.secretEnv = 'not-a-name'),
    /site\.sip\.digest\.secretEnv: must be an environment/,
  );
  refuses((c) => (c.sip.digest.algorithms = ['MD5', 'MD5']), /site\.sip\.digest\.algorithms: must name/);
  refuses(
    (c) => (c.sip.digest.nonceLifetime = '10ms'),
    /site\.sip\.digest\.nonceLifetimeMs: must be at least 1 s/,
  );
  refuses((c) => (c.sip.trunks[1].name = 'telecom'), /site\.sip\.trunks\[1\]\.name: duplicate trunk name/);
  refuses(
    (c) => (c.sip.trunks[0].maxChannels = 61),
    /site\.sip\.trunks\[0\]\.maxChannels: 61 is more than the site's 60/,
  );
  refuses(
    (c) => (c.sip.trunks[0].dnis = ['95588', '95588']),
    /site\.sip\.trunks\[0\]\.dnis: lists a number twice/,
  );
  refuses((c) => (c.sip.trunks[0].dnis = ['9558a']), /site\.sip\.trunks\[0\]\.dnis\[0\]/);
  refuses(
    (c) => (c.sip.trunks[0].sources = ['203.0.113.0/33']),
    /site\.sip\.trunks\[0\]\.sources\[0\]: .*prefix length/,
  );
  refuses(
    (c) => (c.sip.trunks[0].sources = ['203.0.113.1/28']),
    /site\.sip\.trunks\[0\]\.sources\[0\]: .*host bits/,
  );
  refuses(
    (c) => (c.sip.trunks[0].sources = ['telecom.example']),
    /site\.sip\.trunks\[0\]\.sources\[0\]: .*not an IP/,
  );
  // Overlapping blocks, across trunks and within one: which trunk a source is would be ambiguous.
  refuses(
    (c) => (c.sip.trunks[1].sources = ['203.0.113.8']),
    /site\.sip\.trunks\[1\]\.sources\[0\]: 203\.0\.113\.8 overlaps 203\.0\.113\.0\/28 \(site\.sip\.trunks\[0\]\.sources\[0\]\)/,
  );
  refuses(
    (c) => c.sip.trunks[1].sources.push('2001:db8:5:1::/64'),
    /site\.sip\.trunks\[1\]\.sources\[2\]: .*overlaps/,
  );
  refuses(
    (c) => (c.sip.phones[0].agent = 'x99'),
    /site\.sip\.phones\[0\]\.agent: "x99" is not an agent of this site/,
  );
  refuses(
    (c) => (c.sip.phones[1].agent = 'a01'),
    /site\.sip\.phones\[1\]\.agent: agent "a01" has a phone already/,
  );
  refuses(
    (c) => (c.sip.phones[2].extension = '1001'),
    /site\.sip\.phones\[2\]\.extension: extension 1001 is agent "a01"'s already/,
  );
  refuses((c) => (c.sip.phones[0].extension = '10:01'), /site\.sip\.phones\[0\]\.extension/);
  refuses((c) => delete c.sip.phones[0].ha1.MD5, /site\.sip\.phones\[0\]\.ha1: needs the MD5 HA1/);
  refuses(
    (c) => (c.sip.phones[0].ha1.MD5 = 'abc'),
    /site\.sip\.phones\[0\]\.ha1\.MD5: must be 32 hex digits/,
  );
  refuses((c) => (c.sip.phones[0].ha1.MD5 = 'zz'), /site\.sip\.phones\[0\]\.ha1\.MD5: must be hex/);
  refuses((c) => (c.sip.phones[0].password = 'secret'), /site\.sip\.phones\[0\]: Unrecognized key/);
  refuses(
    (c) => (c.sip.timers.sessionInterval = '60s'),
    /site\.sip\.timers\.sessionInterval: .*at least 90 s/,
  );
  refuses(
    (c) => (c.sip.timers.sessionInterval = '100.5s'),
    /site\.sip\.timers\.sessionInterval: must be whole/,
  );
  refuses((c) => (c.sip.timers.t1 = 0), /site\.sip\.timers\.t1/);
  refuses(
    (c) => (c.sip.registrar.minExpiresS = 0),
    /site\.sip\.registrar\.minExpiresS: must be a whole number/,
  );
  refuses((c) => (c.sip.registrar.defaultExpiresS = 10), /site\.sip\.registrar\.defaultExpiresS/);
  refuses((c) => (c.sip.secret = 'inline'), /site\.sip: Unrecognized key/);
  refuses((c) => (c.sip.limits = { maxServerTransactions: 10 }), /site\.sip\.limits\.maxServerTransactions/);
  refuses((c) => (c.sip.limits = { tcp: { idle: 0 } }), /site\.sip\.limits\.tcp\.idle: must be more than 0/);
  refuses((c) => (c.sip.limits = { tcp: { maxConnections: 0 } }), /site\.sip\.limits\.tcp\.maxConnections/);
  refuses((c) => (c.sip.limits = { udp: {} }), /site\.sip\.limits: Unrecognized key/);
});

test('every problem of a bad section is reported at once', () => {
  const c = base();
  c.sip.phones[0].agent = 'x99';
  c.sip.rtpPorts.from = 20001;
  assert.throws(
    () => compileSiteConfig(c, '/etc/site', 'site'),
    (e: unknown) => isDomainError(e) && e.problems?.length === 2,
  );
});

test('the nonce secret is read from its file or variable; errors say where, never what', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sip-secret-'));
  try {
    const good = 'f'.repeat(64);
    writeFileSync(join(dir, 'ok'), `${good}\n`);
    assert.deepEqual(Buffer.from(loadNonceSecret({ file: join(dir, 'ok') })).toString(), good);
    assert.deepEqual(Buffer.from(loadNonceSecret({ env: 'S' }, { S: good })).toString(), good);
    const short = 'tooshort-secret-value';
    writeFileSync(join(dir, 'short'), short);
    const says = (fn: () => unknown, field: RegExp) =>
      assert.throws(fn, (e: unknown) => {
        assert.ok(isDomainError(e, 'invalid-argument'));
        assert.match(e.message, field);
        assert.ok(!e.message.includes(short));
        return true;
      });
    says(() => loadNonceSecret({ file: join(dir, 'short') }), /sip\.digest\.secretFile: .*at least 32/);
    says(() => loadNonceSecret({ file: join(dir, 'none') }), /sip\.digest\.secretFile: cannot read .*ENOENT/);
    says(() => loadNonceSecret({ env: 'S' }, { S: short }), /sip\.digest\.secretEnv: .*at least 32/);
    says(
      () => loadNonceSecret({ env: 'S' }, {}),
      /sip\.digest\.secretEnv: environment variable S is not set/,
    );
  } finally {
    rmSync(dir, { recursive: true });
  }
});
