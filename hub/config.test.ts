/** The hub's config file: the example compiles; every bad field is named; paths resolve. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';
import { isDomainError } from '../shared/errors.js';
import { compileHubConfig, loadHubConfig } from './config.js';

const EXAMPLE = fileURLToPath(new URL('../deploy/examples/hub.yaml', import.meta.url));

test('the example compiles with defaults filled and paths resolved against the file', () => {
  const c = loadHubConfig(EXAMPLE);
  assert.equal(c.hubId, 'hub');
  assert.deepEqual(c.grpc, { host: '0.0.0.0', port: 7443 });
  assert.equal(c.heartbeatIntervalMs, 100);
  assert.equal(c.suspectAfterMs, 400);
  assert.equal(c.downAfterMs, 1500);
  assert.equal(c.topologyPath, join(dirname(EXAMPLE), 'province.yaml'));
  assert.equal(c.tls.caPath, join(dirname(EXAMPLE), '../../pki/ca.crt'));
  assert.equal(c.kafka, undefined);
  assert.equal(c.interestTtlMs, 8 * 86_400_000, 'a day longer than a site keeps a customer it served');
  assert.equal(c.maxSnapshotAgeMs, 1000);
});

test('routing.maxSnapshotAgeMs: a duration between 100 ms and 60 s', () => {
  const base = { hub: { id: 'hub' }, tls: { ca: 'a', cert: 'b', key: 'c' } };
  assert.equal(
    compileHubConfig({ ...base, routing: { maxSnapshotAgeMs: '2s' } }, '/x').maxSnapshotAgeMs,
    2000,
  );
  for (const bad of ['50ms', '2m', 'soon']) {
    assert.throws(
      () => compileHubConfig({ ...base, routing: { maxSnapshotAgeMs: bad } }, '/x'),
      (e: unknown) =>
        isDomainError(e, 'invalid-argument') && /hub\.routing\.maxSnapshotAgeMs/.test(e.message),
      bad,
    );
  }
  assert.throws(() => compileHubConfig({ ...base, routing: { other: 1 } }, '/x'), /other/);
});

test('bad fields are named, and mTLS cannot be left out', () => {
  const base = { hub: { id: 'hub' }, tls: { ca: 'a', cert: 'b', key: 'c' } };
  const bad = (input: unknown, field: RegExp) =>
    assert.throws(
      () => compileHubConfig(input, '/x'),
      (e: unknown) => isDomainError(e, 'invalid-argument') && field.test(e.message),
    );
  bad({ ...base, hub: { id: 'Hub!' } }, /hub\.hub\.id/);
  bad({ hub: { id: 'hub' } }, /hub\.tls/);
  bad({ ...base, grpc: { port: 70000 } }, /hub\.grpc\.port/);
  bad({ ...base, heartbeatIntervalMs: '10ms' }, /hub\.heartbeatIntervalMs: must be between 100 ms and 60 s/);
  bad({ ...base, kafka: { topic: 't' } }, /hub\.kafka\.brokers/);
  bad({ ...base, surprise: 1 }, /surprise/);
  bad({ ...base, directory: { interestTtl: '10m' } }, /hub\.directory\.interestTtl: must be at least 1 h/);
  bad({ ...base, directory: { interestTtl: 'a week' } }, /hub\.directory\.interestTtl/);
  assert.equal(
    compileHubConfig({ ...base, directory: { interestTtl: '30d' } }, '/x').interestTtlMs,
    30 * 86_400_000,
  );
  const k = compileHubConfig({ ...base, kafka: { brokers: '127.0.0.1:9092' } }, '/x');
  assert.deepEqual(k.kafka, { brokers: '127.0.0.1:9092', topic: 'pcc.site-events', groupId: 'hub-ingest' });
});

test('link liveness: short defaults, thresholds stretched for a slow heartbeat, each bad one named', () => {
  const base = { hub: { id: 'hub' }, tls: { ca: 'a', cert: 'b', key: 'c' } };
  const d = compileHubConfig(base, '/x');
  assert.deepEqual([d.heartbeatIntervalMs, d.suspectAfterMs, d.downAfterMs], [100, 400, 1500]);
  // Only a slower interval given: the thresholds are 3 and 10 of its intervals, as before.
  const slow = compileHubConfig({ ...base, heartbeatIntervalMs: '500ms' }, '/x');
  assert.deepEqual([slow.suspectAfterMs, slow.downAfterMs], [1500, 5000]);
  const set = compileHubConfig(
    { ...base, heartbeatIntervalMs: '200ms', suspectAfterMs: '0.6s', downAfterMs: '3s' },
    '/x',
  );
  assert.deepEqual([set.suspectAfterMs, set.downAfterMs], [600, 3000]);
  const problems = (input: unknown): string[] => {
    try {
      compileHubConfig(input, '/x');
    } catch (e) {
      if (isDomainError(e, 'invalid-argument')) return [...(e.problems ?? [e.message])];
      throw e;
    }
    return [];
  };
  assert.deepEqual(problems({ ...base, suspectAfterMs: '250ms', downAfterMs: '200ms' }), [
    'hub.suspectAfterMs: must be at least 3 heartbeat intervals (300 ms), so one late heartbeat never makes a site suspect',
    'hub.downAfterMs: must be longer than suspectAfterMs (250 ms)',
  ]);
  assert.deepEqual(problems({ ...base, downAfterMs: 'soon' }).length, 1);
  assert.match(problems({ ...base, downAfterMs: 'soon' })[0]!, /hub\.downAfterMs/);
});

test('two hubs: advertiseAddress and lease.ttl, with defaults; bad values named', () => {
  const base = { hub: { id: 'hub-a' }, tls: { ca: 'a', cert: 'b', key: 'c' } };
  const d = compileHubConfig(base, '/x');
  assert.equal(d.advertiseAddress, undefined, 'default: the address it listens on (hub/hub.ts)');
  assert.equal(d.leaseTtlMs, 2000);
  const c = compileHubConfig({ ...base, advertiseAddress: 'hub-a.bank:7443', lease: { ttl: '3s' } }, '/x');
  assert.equal(c.advertiseAddress, 'hub-a.bank:7443');
  assert.equal(c.leaseTtlMs, 3000);
  const bad = (input: unknown, field: RegExp) =>
    assert.throws(
      () => compileHubConfig(input, '/x'),
      (e: unknown) => isDomainError(e, 'invalid-argument') && field.test(e.message),
    );
  bad({ ...base, advertiseAddress: 'hub-a' }, /hub\.advertiseAddress: must be host:port/);
  bad({ ...base, lease: { ttl: '100ms' } }, /hub\.lease\.ttl: must be between 500 ms and 60 s/);
  bad({ ...base, lease: { ttl: 'soon' } }, /hub\.lease\.ttl/);
});
