import { test } from 'vitest';
import assert from 'node:assert/strict';
import { SignInThrottle, type ThrottleRule } from './signin-throttle.js';

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
  const t = new SignInThrottle({ user: rule(3), address: rule(5) }, 10);
  for (let i = 0; i < 100; i++) t.failed(k(`u${i}`, `a${i}`), i * 100_000);
  assert.ok(t.size <= 10, `kept ${t.size}`);
});
