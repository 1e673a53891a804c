import { strict as assert } from 'node:assert';
import { Metadata } from '@grpc/grpc-js';
import { test } from 'vitest';
import { DomainError, isDomainError } from '../errors.js';
import { fromGrpcError, toGrpcStatus } from '../grpc/status.js';
import {
  LEADER_TRAILER,
  leaderHintOf,
  nextHubAddress,
  notLeaderError,
  parseHubAddresses,
  refusingStandbyOf,
} from './hub-failover.js';

const A = 'hub-a.example:7443';
const B = 'hub-b.example:7443';
const C = '10.0.0.9:7443';

test('the first dial goes to the first address of the list', () => {
  assert.equal(nextHubAddress([A, B], undefined), A);
  assert.equal(nextHubAddress([A, B], 'gone:1'), A);
});

test('a failed dial moves on in list order and wraps around', () => {
  assert.equal(nextHubAddress([A, B, C], A), B);
  assert.equal(nextHubAddress([A, B, C], B), C);
  assert.equal(nextHubAddress([A, B, C], C), A);
  assert.equal(nextHubAddress([A], A), A);
});

test('"not leader" sends the caller to the leader it named, only when that address is its own', () => {
  assert.equal(nextHubAddress([A, B, C], A, C), C);
  // An address the caller does not list is never followed: the next in order instead.
  assert.equal(nextHubAddress([A, B], A, 'evil.example:7443'), B);
  // A hub that names itself while refusing is not believed.
  assert.equal(nextHubAddress([A, B], B, B), A);
});

test('address lists: a comma list or an array, each host:port, no repeats, at least one', () => {
  assert.deepEqual(parseHubAddresses(` ${A}, ${B} `, '--hub'), [A, B]);
  assert.deepEqual(parseHubAddresses([A, '[::1]:7443'], 'hub.addresses'), [A, '[::1]:7443']);
  for (const [input, says] of [
    [`${A},${A}`, /--hub\[1\]: .* listed twice/],
    [`${A},nohost`, /--hub\[1\]: "nohost" must be host:port/],
    [[], /--hub: must name at least one hub/],
  ] as const) {
    assert.throws(
      () => parseHubAddresses(input, '--hub'),
      (e: unknown) => isDomainError(e, 'invalid-argument') && says.test(e.message) && e.field === '--hub',
    );
  }
});

test('a standby refusal carries the leader address across gRPC, and the client finds it', () => {
  const refusal = notLeaderError('hub-b', { hubId: 'hub-a', address: A });
  assert.match(
    refusal.message,
    /hub hub-b is a standby, not the leader: the leader is hub-a at hub-a.example:7443/,
  );
  const st = toGrpcStatus(refusal);
  assert.deepEqual(st.metadata.get(LEADER_TRAILER), [A]);
  // What a client receives: a ServiceError with the trailers, turned into a DomainError.
  const received = Object.assign(new Error(st.details), { ...st, metadata: st.metadata });
  const back = fromGrpcError(received);
  assert.equal(back.kind, 'unavailable');
  assert.equal(leaderHintOf(back), A);
  assert.equal(leaderHintOf(received), A);
  assert.equal(leaderHintOf(refusal), A);
  assert.equal(refusingStandbyOf(back), 'hub-b');
});

test('no leader known: the refusal says so and carries no hint', () => {
  const refusal = notLeaderError('hub-b', null);
  assert.match(refusal.message, /no hub leads right now/);
  assert.equal(leaderHintOf(refusal), undefined);
  assert.equal(refusingStandbyOf(refusal), 'hub-b', 'still a standby refusal');
  assert.equal(leaderHintOf(new DomainError('unavailable', 'connection refused')), undefined);
  assert.equal(refusingStandbyOf(new DomainError('unavailable', 'connection refused')), undefined);
  const md = new Metadata();
  assert.equal(leaderHintOf(Object.assign(new Error('x'), { code: 14, metadata: md })), undefined);
});
