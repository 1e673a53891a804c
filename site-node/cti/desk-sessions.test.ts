import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DeskSessions } from './desk-sessions.js';

function registry(maxPerUser?: number) {
  let n = 0;
  return new DeskSessions(
    { idleMs: 1_000, maxAgeMs: 10_000, ...(maxPerUser === undefined ? {} : { maxPerUser }) },
    () => `tok-${++n}`,
  );
}
const a01 = { userId: 'a01', role: 'agent' as const, agentId: 'a01' };

test('a session lives while used, and ends after an idle spell', () => {
  const r = registry();
  const { session } = r.open(a01, 0);
  assert.equal(session.expiresAtMs, 10_000);
  assert.equal(r.touch(session.token, 900)?.agentId, 'a01');
  assert.ok(r.touch(session.token, 1_800), 'each use restarts the idle time');
  assert.equal(r.touch(session.token, 2_800), undefined, 'idle 1 s: ended');
  assert.equal(r.size, 0, 'and forgotten');
});

test('a session ends at its maximum age however busy it is', () => {
  const r = registry();
  const { session } = r.open(a01, 0);
  for (let t = 500; t < 10_000; t += 500) assert.ok(r.touch(session.token, t), `alive at ${t}`);
  assert.equal(r.touch(session.token, 10_000), undefined);
});

test('sign-out ends one session; ending a user ends all of its sessions but the one kept', () => {
  const r = registry();
  const s1 = r.open(a01, 0).session;
  const s2 = r.open(a01, 0).session;
  const s3 = r.open(a01, 0).session;
  const other = r.open({ userId: 'a02', role: 'agent', agentId: 'a02' }, 0).session;
  assert.equal(r.end(s1.token)?.userId, 'a01');
  assert.equal(r.touch(s1.token, 1), undefined);
  assert.deepEqual(
    r.endUser('a01', s3.token).map((s) => s.token),
    [s2.token],
  );
  assert.ok(r.touch(s3.token, 1));
  assert.ok(r.touch(other.token, 1), "another user's session is untouched");
  assert.equal(r.touch('tok-unknown', 1), undefined);
});

test("a user's sessions are bounded: one more ends the oldest", () => {
  const r = registry(2);
  const s1 = r.open(a01, 0).session;
  r.open(a01, 1);
  const { ended } = r.open(a01, 2);
  assert.deepEqual(
    ended.map((s) => s.token),
    [s1.token],
  );
  assert.equal(r.size, 2);
});

test('sweep forgets the sessions that ended', () => {
  const r = registry();
  r.open(a01, 0);
  const live = r.open(a01, 800).session;
  assert.deepEqual(
    r.sweep(1_500).map((s) => s.startedAtMs),
    [0],
  );
  assert.ok(r.touch(live.token, 1_500));
});

test('an open stream keeps a session from going idle, never past its maximum age', () => {
  const r = registry();
  const { session } = r.open(a01, 0);
  r.holdStream(session.token);
  assert.deepEqual(r.sweep(5_000), [], 'its stream is open: not idle');
  r.releaseStream(session.token, 6_000);
  assert.deepEqual(r.sweep(6_900), [], 'idle time starts when the stream closes');
  assert.equal(r.sweep(7_000).length, 1, 'then idle');

  const held = r.open(a01, 0).session;
  r.holdStream(held.token);
  assert.deepEqual(
    r.sweep(10_000).map((s) => s.token),
    [held.token],
    'the maximum age ends it, stream or not',
  );
});

test('endIf ends the sessions whose credential is no longer the one', () => {
  const r = registry();
  const old = r.open(a01, 0, 'v1').session;
  const other = r.open({ userId: 'a02', role: 'agent', agentId: 'a02' }, 0, 'w1').session;
  r.setCredential(old.token, 'v2');
  assert.deepEqual(
    r.endIf((s) => s.userId === 'a02' && s.credential !== 'w2').map((s) => s.token),
    [other.token],
  );
  assert.equal(r.touch(old.token, 1)?.credential, 'v2');
});

test('bad times are an invalid-argument DomainError naming the field', () => {
  assert.throws(
    () => new DeskSessions({ idleMs: 0, maxAgeMs: 10 }, () => 't'),
    (e: { kind: string; field: string }) => e.kind === 'invalid-argument' && e.field === 'idleMs',
  );
});
