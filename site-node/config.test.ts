import { test } from 'vitest';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { compileSiteConfig, loadSiteConfig } from './config.js';
import { isDomainError } from '../shared/errors.js';

const EXAMPLE = new URL('../deploy/examples/site-chongqing.yaml', import.meta.url).pathname;
const base = (): Record<string, unknown> => parse(readFileSync(EXAMPLE, 'utf8')) as Record<string, unknown>;

// The tests poke at arbitrary depths of a parsed YAML document, which has no static type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Doc = Record<string, any>;

function refuses(mutate: (c: Doc) => void, field: RegExp): void {
  const c = base() as Doc;
  mutate(c);
  assert.throws(
    () => compileSiteConfig(c, '/tmp', 'site'),
    (e: unknown) => {
      assert.ok(isDomainError(e, 'invalid-argument'), String(e));
      assert.match((e as Error).message, field);
      return true;
    },
  );
}

test('the example config of seed 003 compiles: 60 trunks, 30 IVR ports, 8 agents, durations in ms', () => {
  const c = loadSiteConfig(EXAMPLE);
  assert.equal(c.trunks, 60);
  assert.equal(c.ivrPorts, 30);
  assert.equal(c.agents.length, 8);
  assert.equal(c.ivr.bankTimeoutMs, 5000);
  assert.equal(c.acd.serviceLevel.thresholdMs, 20_000);
});

test('bad config is refused with an error naming the field', () => {
  refuses((c) => (c.trunks = 0), /site\.trunks/);
  refuses((c) => (c.site.id = 'Bad Id'), /site\.site\.id/);
  refuses((c) => (c.agents[2].skills.retail = 9), /site\.agents\[2\]\.skills\.retail/);
  refuses((c) => c.agents.push({ ...c.agents[0] }), /duplicate agent id "a01"/);
  refuses((c) => (c.agents[0].skills = { cooking: 3 }), /agents\[0\]\.skills: agent "a01" has no skill/);
  refuses((c) => (c.ivrPorts = 61), /site\.ivrPorts/);
  refuses((c) => (c.acd.queues[0].maxWaitMs = 'soon'), /site\.acd\.queues\[0\]\.maxWaitMs/);
  refuses((c) => (c.surprise = true), /surprise/);
});

test('a missing or unparsable file names the file', () => {
  assert.throws(
    () => loadSiteConfig('/nonexistent/site.yaml'),
    /cannot read site config \/nonexistent\/site.yaml/,
  );
});

test('federation settings: the hub link, agent-desk mTLS and bank hosts compile with paths resolved; mistakes are named', () => {
  const c = base() as Doc;
  c.hub = {
    address: 'hub.bank.internal:7443',
    tls: { ca: 'pki/ca.crt', cert: 'pki/s.crt', key: 'pki/s.key' },
  };
  c.cti = { port: 7000, tls: { ca: 'pki/ca.crt', cert: 'pki/s.crt', key: 'pki/s.key' } };
  c.bankHosts = { wanzhou: { database: 'postgres://h/wz' } };
  const cfg = compileSiteConfig(c, '/etc/pcc', 'site');
  assert.equal(cfg.hub?.events, 'link');
  assert.equal(cfg.hub?.snapshotIntervalMs, 1000);
  assert.equal(cfg.hub?.suspectAfterMs, 400);
  assert.equal(cfg.hub?.downAfterMs, 1500);
  assert.equal(cfg.hub?.tls.caPath, '/etc/pcc/pki/ca.crt');
  assert.equal(cfg.cti.tls?.certPath, '/etc/pcc/pki/s.crt');
  assert.deepEqual(cfg.bankHosts, { wanzhou: { databaseUrl: 'postgres://h/wz' } });

  refuses(
    (d) => (d.hub = { address: 'nowhere', tls: { ca: 'a', cert: 'b', key: 'c' } }),
    /site\.hub\.address: must be host:port/,
  );
  refuses(
    (d) => (d.hub = { address: 'h:1', events: 'kafka', tls: { ca: 'a', cert: 'b', key: 'c' } }),
    /site\.hub\.kafka: required when hub\.events is kafka/,
  );
  refuses(
    (d) => (d.bankHosts = { chongqing: { database: 'x' } }),
    /bankHosts\.chongqing: this site's own host/,
  );
  refuses((d) => (d.cti = { tls: { ca: 'a' } }), /site\.cti\.tls\.cert/);
});

test('two hubs: hub.addresses in order and the ids of both; hub.address stays a one-item list; mistakes are named', () => {
  const tls = { ca: 'a', cert: 'b', key: 'c' };
  const c = base() as Doc;
  c.hub = { addresses: ['hub-a.bank:7443', 'hub-b.bank:7443'], id: ['hub-a', 'hub-b'], tls };
  const cfg = compileSiteConfig(c, '/x', 'site');
  assert.deepEqual(cfg.hub?.addresses, ['hub-a.bank:7443', 'hub-b.bank:7443']);
  assert.deepEqual(cfg.hub?.hubId, ['hub-a', 'hub-b']);
  const old = base() as Doc;
  old.hub = { address: 'hub.bank:7443', id: 'hub', tls };
  const oldCfg = compileSiteConfig(old, '/x', 'site');
  assert.deepEqual([oldCfg.hub?.addresses, oldCfg.hub?.hubId], [['hub.bank:7443'], 'hub']);

  refuses(
    (d) => (d.hub = { address: 'a:1', addresses: ['b:1'], tls }),
    /site\.hub\.addresses: give the hub addresses \(or, for one hub, hub\.address\), not both/,
  );
  refuses((d) => (d.hub = { tls }), /site\.hub\.addresses: give the hub addresses/);
  refuses(
    (d) => (d.hub = { addresses: ['a:1', 'a:1'], tls }),
    /site\.hub\.addresses\[1\]: a:1 is listed twice/,
  );
  refuses(
    (d) => (d.hub = { addresses: ['a:1', 'nowhere'], tls }),
    /site\.hub\.addresses\[1\]: "nowhere" must be host:port/,
  );
  refuses((d) => (d.hub = { addresses: [], tls }), /site\.hub\.addresses: must name at least one hub/);
  refuses((d) => (d.hub = { addresses: ['a:1'], id: ['Hub A'], tls }), /site\.hub\.id/);
});

test('hub link liveness: suspectAfterMs and downAfterMs in the duration grammar, each mistake named', () => {
  const withHub = (extra: Record<string, unknown>) => {
    const c = base() as Doc;
    c.hub = { address: 'h:1', tls: { ca: 'a', cert: 'b', key: 'c' }, ...extra };
    return c;
  };
  const cfg = compileSiteConfig(withHub({ suspectAfterMs: '600ms', downAfterMs: '2s' }), '/x', 'site');
  assert.deepEqual([cfg.hub?.suspectAfterMs, cfg.hub?.downAfterMs], [600, 2000]);
  refuses(
    (d) => Object.assign(d, withHub({ suspectAfterMs: '50ms' })),
    /site\.hub\.suspectAfterMs: must be at least 100 ms/,
  );
  refuses(
    (d) => Object.assign(d, withHub({ suspectAfterMs: '2s', downAfterMs: '1s' })),
    /site\.hub\.downAfterMs: must be longer than hub\.suspectAfterMs \(2000 ms\)/,
  );
  refuses((d) => Object.assign(d, withHub({ downAfterMs: 'later' })), /site\.hub\.downAfterMs/);
});

test('site.areaCode: optional, 0 followed by 2 or 3 digits; a bad one is named', () => {
  assert.equal(compileSiteConfig(base(), '/tmp', 'site').areaCode, '023', "the example's");
  const none = base() as Doc;
  delete none.site.areaCode;
  assert.equal(compileSiteConfig(none, '/tmp', 'site').areaCode, undefined);
  for (const ok of ['023', '010', '0755']) {
    const c = base() as Doc;
    c.site.areaCode = ok;
    assert.equal(compileSiteConfig(c, '/tmp', 'site').areaCode, ok);
  }
  for (const bad of ['23', '0', '00023', '023x', '+8623', '', 23]) {
    refuses(
      (c) => (c.site.areaCode = bad),
      /site\.site\.areaCode: (must be 0 followed by 2 or 3 digits|Invalid input: expected string)/,
    );
  }
  const c = base() as Doc;
  c.site.areaCode = '23';
  assert.throws(
    () => compileSiteConfig(c, '/tmp', 'site'),
    (e) => isDomainError(e, 'invalid-argument') && e.field === 'site.site.areaCode',
  );
});

test('agent lease timings: defaults, the duration grammar, and a bad one named by its field', () => {
  const dflt = compileSiteConfig({ ...base(), cti: {} }, '/tmp', 'site');
  assert.deepEqual(dflt.cti.lease, { leaseMs: 30_000, logoutAfterMs: 600_000 });
  const c = base() as Doc;
  c.cti.lease = { timeout: '20s', logoutAfter: '15m' };
  assert.deepEqual(compileSiteConfig(c, '/tmp', 'site').cti.lease, {
    leaseMs: 20_000,
    logoutAfterMs: 900_000,
  });
  refuses((d) => (d.cti.lease = { timeout: 'soon' }), /site\.cti\.lease\.timeout/);
  refuses((d) => (d.cti.lease = { logoutAfter: 0 }), /site\.cti\.lease\.logoutAfter/);
  refuses((d) => (d.cti.lease = { timeout: '20s', heartbeat: '5s' }), /site\.cti\.lease/);
});

test('store writes: defaults when absent, durations in the grammar, each mistake named', () => {
  const c = loadSiteConfig(EXAMPLE);
  assert.deepEqual(c.store, {
    bufferCapacity: 5_000,
    closeAdmissionWhileDownAt: 200,
    firstRowWaitMs: 2_000,
    recordWaitMs: 5_000,
    drainAtStopMs: 10_000,
    queryTimeoutMs: 5_000,
    writeConcurrency: 6,
  });
  const doc = base() as Doc;
  doc.store = {
    bufferCapacity: 100,
    closeAdmissionWhileDownAt: 10,
    firstRowWait: '500ms',
    recordWait: '3s',
    queryTimeout: '2s',
    writeConcurrency: 2,
  };
  const s = compileSiteConfig(doc, '/tmp', 'site').store!;
  assert.equal(s.writeConcurrency, 2);
  assert.equal(s.firstRowWaitMs, 500);
  assert.equal(s.recordWaitMs, 3_000);
  assert.equal(s.drainAtStopMs, 10_000);
  assert.equal(s.queryTimeoutMs, 2_000);
  refuses((c) => (c.store = { queryTimeout: '0s' }), /site\.store\.queryTimeout/);
  refuses((c) => (c.store = { bufferCapacity: 0 }), /site\.store\.bufferCapacity/);
  refuses(
    (c) => (c.store = { bufferCapacity: 10, closeAdmissionWhileDownAt: 11 }),
    /site\.store\.closeAdmissionWhileDownAt: must not be more than store\.bufferCapacity/,
  );
  refuses((c) => (c.store = { firstRowWait: '0s' }), /site\.store\.firstRowWait/);
  // Two thirds of the site's pool at most: the IVR's and the desks' reads need the rest.
  refuses((c) => (c.store = { writeConcurrency: 9 }), /site\.store\.writeConcurrency/);
  refuses((c) => (c.store = { writeConcurrency: 0 }), /site\.store\.writeConcurrency/);
  refuses((c) => (c.store = { bufer: 1 }), /site\.store/);
});

test('callbacks: the default queue is the first queue unless named; an unknown queue or a bad callback setting is named', () => {
  const dflt = compileSiteConfig(base(), '/tmp', 'site');
  assert.deepEqual(dflt.callbacks, { queueId: dflt.acd.queues[0]!.id, priority: 5 });
  assert.deepEqual(dflt.acd.queues[0]!.callback, { key: '1', maxTries: 3, retryDelayMs: 600_000 });
  const c = base() as Doc;
  c.callbacks = { queue: 'complaints', priority: 4 };
  c.acd.queues[0].callback = { key: '*', maxTries: 2, retryDelayMs: '5m' };
  const compiled = compileSiteConfig(c, '/tmp', 'site');
  assert.deepEqual(compiled.callbacks, { queueId: 'complaints', priority: 4 });
  assert.deepEqual(compiled.acd.queues[0]!.callback, { key: '*', maxTries: 2, retryDelayMs: 300_000 });
  refuses(
    (d) => (d.callbacks = { queue: 'mortgages' }),
    /site\.callbacks\.queue: "mortgages" is not a queue/,
  );
  refuses((d) => (d.acd.queues[0].callback = { key: '12' }), /site\.acd\.queues\[0\]\.callback\.key/);
  refuses((d) => (d.acd.queues[0].callback = { maxTries: 0 }), /site\.acd\.queues\[0\]\.callback\.maxTries/);
  refuses((d) => (d.acd.queues[0].callback = { retryDelayMs: 0 }), /callback\.retryDelayMs/);
});

test('desk users: supervisors and teams, each unknown id named; cti.auth defaults and durations', () => {
  const c = loadSiteConfig(EXAMPLE);
  assert.deepEqual(c.supervisors, [{ id: 's01', name: '孙梅' }]);
  assert.deepEqual(c.teams[1], { id: 'corporate', supervisors: ['s01', 'a08'], agents: ['a06', 'a07'] });
  assert.equal(c.cti.auth?.maxFailuresPerUser, 5);
  assert.equal(c.cti.auth?.sessionIdleMs, 1_800_000);
  const d = base() as Doc;
  d.cti.auth = { sessionIdle: '5m', lockout: '1m', maxFailuresPerAddress: 50 };
  const auth = compileSiteConfig(d, '/tmp', 'site').cti.auth!;
  assert.deepEqual([auth.sessionIdleMs, auth.lockoutMs, auth.maxFailuresPerAddress], [300_000, 60_000, 50]);
  assert.equal(auth.agentCertificates, false, 'agent certificates are off unless turned on');
  assert.equal(c.cti.auth?.agentCertificates, false);
  d.cti.auth = { agentCertificates: true };
  assert.equal(compileSiteConfig(d, '/tmp', 'site').cti.auth!.agentCertificates, true);
  refuses((x) => (x.cti.auth = { agentCertificates: 'yes' }), /site\.cti\.auth\.agentCertificates/);
  refuses((x) => (x.cti.auth = { sessionIdle: 'soon' }), /site\.cti\.auth\.sessionIdle/);
  refuses((x) => (x.teams[0].agents = ['a01', 'a99']), /site\.teams\[0\]\.agents\[1\]: unknown agent "a99"/);
  refuses((x) => (x.teams[0].agents = ['s01']), /site\.teams\[0\]\.agents\[0\]: unknown agent "s01"/);
  refuses(
    (x) => (x.teams[0].supervisors = ['boss']),
    /site\.teams\[0\]\.supervisors\[0\]: unknown user "boss"/,
  );
  refuses((x) => (x.teams[0].supervisors = []), /site\.teams\.0\.supervisors|site\.teams\[0\]\.supervisors/);
  refuses(
    (x) => (x.supervisors = [{ id: 'a01', name: 'twice' }]),
    /site\.supervisors\[0\]\.id: "a01" is already/,
  );
  refuses((x) => (x.teams[1].id = 'retail'), /site\.teams\[1\]\.id: duplicate team id/);
});
