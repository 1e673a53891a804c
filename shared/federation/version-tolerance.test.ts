/**
 * Version tolerance of the federation contract at the wire level: this code (contract 2)
 * decodes messages of a newer contract (extra fields inside known messages, whole new oneof cases) without
 * error and without losing the fields it knows. The handlers' side of it (skip what is not
 * understood, keep the link up) is proven end to end in test/integration/federation.test.ts.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Hello, HubMessage, SiteMessage, Welcome } from '../../proto/gen/federation.js';
import { asField, unknownCase, withUnknownFields } from './version-tolerance.js';

const hello: Hello = {
  siteId: 'wanzhou',
  softwareVersion: '3.0.0',
  contractVersion: 3,
  capabilities: ['snapshots', 'events-over-link', 'video-offers'],
  topologyVersion: 7,
  customerCursor: 42,
  sentAtMs: 1_790_000_000_000,
};

test('a v3 Hello with fields this code does not know decodes to the same Hello', () => {
  const v2 = withUnknownFields(Hello.encode(hello).finish());
  assert.deepEqual(Hello.decode(v2), hello);
  // ... also when nested in the stream envelope.
  const msg = SiteMessage.decode(asField(1, v2));
  assert.deepEqual(msg.body, { $case: 'hello', value: hello });
});

test('a SiteMessage of a new kind (unknown oneof case) decodes to an empty body, not an error', () => {
  const m = SiteMessage.decode(unknownCase(12));
  assert.equal(m.body, undefined);
});

test('a v3 hub: unknown fields in Welcome and unknown HubMessage kinds are tolerated by this site', () => {
  const welcome: Welcome = {
    hubId: 'hub',
    softwareVersion: '3.0.0',
    contractVersion: 3,
    capabilities: ['topology'],
    heartbeatIntervalMs: 2000,
    drained: false,
    topologyVersion: 3,
  };
  const bytes = asField(1, withUnknownFields(Welcome.encode(welcome).finish(), 50, 51));
  assert.deepEqual(HubMessage.decode(bytes).body, { $case: 'welcome', value: welcome });
  assert.equal(HubMessage.decode(unknownCase(9)).body, undefined);
});

test('messages re-encode without the unknown fields (a relay does not forward what it cannot read)', () => {
  const v2 = withUnknownFields(Hello.encode(hello).finish());
  const again = Hello.encode(Hello.decode(v2)).finish();
  assert.ok(again.length < v2.length);
  assert.deepEqual(Hello.decode(again), hello);
});
