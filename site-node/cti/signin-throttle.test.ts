import { test } from 'vitest';
import assert from 'node:assert/strict';
import { addressKey, SignInThrottle, type ThrottleRule } from './signin-throttle.js';

const rule = (maxFailures: number): ThrottleRule => ({
  maxFailures,
  windowMs: 60_000,
  lockoutMs: 10_000,
  maxLockoutMs: 40_000,
});
const make = () => new SignInThrottle({ user: rule(3), address: rule(5) });
const k = (userId: string, address = '10.0.0.1') => ({ userId, address });

test('failures of one user lock it for the lockout; another user from another address is not locked', () => {
  const t = make();
  for (let i = 0; i < 2; i++) t.failed(k('a01'), i);
  assert.equal(t.check(k('a01'), 2), undefined, 'two failures: not yet');
  t.failed(k('a01', '10.0.0.2'), 2);
  assert.deepEqual(t.check(k('a01', '10.0.0.9'), 3), { by: 'user', retryInMs: 9_999 });
  assert.equal(t.check(k('a02', '10.0.0.9'), 3), undefined);
  assert.equal(t.check(k('a01'), 10_002), undefined, 'the lock ends');
});

test('each lock that follows doubles, up to the most', () => {
  const t = make();
  const lockAt = (now: number) => {
    for (let i = 0; i < 3; i++) t.failed(k('a01', `10.0.${now}.${i}`), now);
    return t.check(k('a01', '10.9.9.9'), now)?.retryInMs;
  };
  assert.equal(lockAt(0), 10_000);
  assert.equal(lockAt(10_000), 20_000);
  assert.equal(lockAt(30_000), 40_000);
  assert.equal(lockAt(70_000), 40_000, 'capped');
  // Quiet for a whole window after the lock ended: it starts afresh.
  assert.equal(lockAt(70_000 + 40_000 + 60_000), 10_000);
});

test('failures for many users from one address lock the address', () => {
  const t = make();
  for (let i = 0; i < 5; i++) t.failed(k(`u${i}`), i);
  assert.deepEqual(t.check(k('u9'), 5), { by: 'address', retryInMs: 9_999 });
  assert.equal(t.check(k('u9', '10.0.0.2'), 5), undefined);
});

test('a good sign-in clears its user, not its address', () => {
  const t = make();
  for (let i = 0; i < 2; i++) t.failed(k('a01'), i);
  for (let i = 0; i < 2; i++) t.failed(k('a02'), i);
  t.succeeded(k('a01'));
  t.failed(k('a01'), 3);
  assert.equal(t.check(k('a01', '10.0.0.7'), 3), undefined, 'a01 starts afresh');
  assert.deepEqual(
    t.check(k('a03'), 3),
    { by: 'address', retryInMs: 10_000 },
    'the address counted all five',
  );
});

test('failures older than the window do not count', () => {
  const t = make();
  t.failed(k('a01', 'x'), 0);
  t.failed(k('a01', 'y'), 1);
  t.failed(k('a01', 'z'), 60_001);
  assert.equal(t.check(k('a01', 'w'), 60_002), undefined);
});

test('the keys kept are bounded', () => {
  const t = new SignInThrottle({ user: rule(3), address: rule(5) }, { maxKeys: 10 });
  for (let i = 0; i < 100; i++) t.failed(k(`u${i}`, `a${i}`), i * 100_000);
  assert.ok(t.size <= 10, `kept ${t.size}`);
});

test('attempts count from their start: a concurrent burst is refused past the limit before any check ends', () => {
  const t = make();
  const begun = Array.from({ length: 60 }, (_, i) => t.begin(k('a01', `10.0.0.${i}`), 0));
  assert.equal(begun.filter((b) => b === undefined).length, 3, 'three checks in flight at most');
  assert.deepEqual(begun[3], { by: 'user', retryInMs: 1_000, pending: true });
  // The three fail: the user is locked, whatever comes next.
  for (let i = 0; i < 3; i++) t.failed(k('a01', `10.0.0.${i}`), 1);
  assert.equal(t.begin(k('a01', '10.9.9.9'), 2)?.by, 'user');
  assert.equal(t.begin(k('a01', '10.9.9.9'), 2)?.pending, undefined, 'a lock now, not checks in flight');
});

test('a good check ends its attempt; an abandoned one counts neither way', () => {
  const t = make();
  assert.equal(t.begin(k('a01'), 0), undefined);
  assert.equal(t.begin(k('a01'), 0), undefined);
  t.abandoned(k('a01'));
  t.succeeded(k('a01'));
  for (let i = 0; i < 3; i++) assert.equal(t.begin(k('a01'), 1), undefined, `attempt ${i}`);
});

test('a full table never forgets a lock: a new key is refused as locked instead', () => {
  const t = new SignInThrottle({ user: rule(1), address: rule(1) }, { maxKeys: 4 });
  t.failed(k('a01', '10.0.0.1'), 0); // locks user a01 and the address
  t.failed(k('a02', '10.0.0.2'), 0); // locks user a02 and the address
  assert.equal(t.size, 4);
  const r = t.begin(k('a03', '10.0.0.3'), 1);
  assert.equal(r?.full, true, 'no room without forgetting a lock');
  assert.equal(r?.retryInMs, 9_999);
  assert.equal(t.check(k('a01', '10.0.0.9'), 1)?.by, 'user', 'a01 is still locked');
  assert.equal(t.check(k('a02', '10.0.0.9'), 1)?.by, 'user', 'a02 is still locked');
  // Once the locks end, their keys make room.
  assert.equal(t.begin(k('a03', '10.0.0.3'), 10_000), undefined);
});

test('an unlocked key makes room before any lock does', () => {
  const t = new SignInThrottle({ user: rule(1), address: rule(5) }, { maxKeys: 4 });
  t.failed(k('a01', '10.0.0.1'), 0); // locks a01; the address has one failure, no lock
  t.failed(k('a02', '10.0.0.2'), 0);
  assert.equal(t.begin(k('a03', '10.0.0.1'), 1), undefined, "10.0.0.2's count (no lock) made room");
  assert.equal(t.check(k('a01', '10.0.0.9'), 2)?.by, 'user', 'the lock of a01 was kept');
  assert.equal(t.check(k('a02', '10.0.0.9'), 2)?.by, 'user', 'the lock of a02 was kept');
});

test('user ids the site does not know share one key', () => {
  const t = new SignInThrottle(
    { user: rule(3), address: rule(1000) },
    { knownUser: (id) => id.startsWith('a') },
  );
  for (let i = 0; i < 3; i++) t.failed(k(`made-up-${i}`, `10.0.0.${i}`), 0);
  assert.equal(t.check(k('made-up-99', '10.9.9.9'), 1)?.by, 'user', 'every unknown id is locked');
  assert.equal(t.check(k('a01', '10.9.9.9'), 1), undefined, 'a known user is not');
  assert.equal(t.size, 4, 'one user key for all of them');
});

test('addresses: IPv6 by its /64, an IPv4-mapped address as IPv4', () => {
  assert.equal(addressKey('10.1.2.3'), '10.1.2.3');
  assert.equal(addressKey('::ffff:10.1.2.3'), '10.1.2.3');
  assert.equal(addressKey('::FFFF:0a01:0203'), '10.1.2.3');
  assert.equal(addressKey('2001:db8:0:1::5'), '2001:db8:0:1::/64');
  assert.equal(addressKey('2001:0db8:0000:0001:ffff:1:2:3'), '2001:db8:0:1::/64');
  assert.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64');
  assert.equal(addressKey('::1'), '0:0:0:0::/64');
  assert.equal(addressKey('unknown'), 'unknown');
  const t = make();
  for (let i = 0; i < 5; i++) t.failed(k(`u${i}`, `2001:db8:0:1::${i + 1}`), 0);
  assert.equal(t.check(k('u9', '2001:db8:0:1:abcd::9'), 1)?.by, 'address', 'the whole /64 is locked');
  for (let i = 0; i < 5; i++) t.failed(k(`v${i}`, `::ffff:10.0.0.${7}`), 0);
  assert.equal(t.check(k('v9', '10.0.0.7'), 1)?.by, 'address', 'mapped and plain are one address');
});

test('a bad rule is an invalid-argument DomainError naming it', () => {
  assert.throws(
    () => new SignInThrottle({ user: { ...rule(3), maxFailures: 0 }, address: rule(5) }),
    (e: { kind: string; field: string }) => e.kind === 'invalid-argument' && e.field === 'user',
  );
});
