import { strict as assert } from 'node:assert';
import { test } from 'vitest';
import {
  initialLease,
  leaseStep,
  leaseTimes,
  type LeaderInfo,
  type LeaseCommand,
  type LeaseTimes,
  type LeaseEvent,
  type LeaseMachine,
} from './lease.js';

/** Round numbers for the scenarios (the core takes any timings): renew every 400 ms, step down 500 ms early. */
const T: LeaseTimes = { ttlMs: 2000, renewEveryMs: 400, retryEveryMs: 250, marginMs: 500 };
const self = (token: number): LeaderInfo => ({ hubId: 'hub-a', address: 'a:7443', token });
const other: LeaderInfo = { hubId: 'hub-b', address: 'b:7443', token: 7 };

/** Run events at times; return the machine and every command, in order. */
function run(steps: Array<[number, LeaseEvent]>, m0 = initialLease(0)) {
  let m: LeaseMachine = m0;
  const commands: Array<[number, LeaseCommand]> = [];
  for (const [at, e] of steps) {
    const s = leaseStep(m, e, at, T);
    m = s.machine;
    for (const c of s.commands) commands.push([at, c]);
  }
  return { m, commands };
}

test('the default timings follow the TTL: renew 8 times per TTL, retry at most every 250 ms, a tenth TTL margin', () => {
  assert.deepEqual(leaseTimes(2000), { ttlMs: 2000, renewEveryMs: 250, retryEveryMs: 250, marginMs: 200 });
  assert.deepEqual(leaseTimes(800), { ttlMs: 800, renewEveryMs: 100, retryEveryMs: 100, marginMs: 80 });
  assert.deepEqual(leaseTimes(), leaseTimes(2000));
});

test('a standby attempts at once, one attempt in flight at a time, and leads when granted', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [50, { kind: 'tick' }],
    [60, { kind: 'held', sentAtMs: 0, self: self(1) }],
  ]);
  assert.deepEqual(commands, [
    [0, { kind: 'attempt' }],
    [60, { kind: 'lead', token: 1 }],
  ]);
  assert.equal(m.role, 'leader');
  assert.equal(m.token, 1);
  assert.equal(m.leadUntilMs, 0 + 2000 - 500, 'counted from when the attempt was SENT');
  assert.equal(m.nextAttemptAtMs, 60 + 400);
  assert.equal(m.terms, 1);
});

test('a leader renews on time and keeps leading; renewals never say "lead" again', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [410, { kind: 'tick' }],
    [420, { kind: 'held', sentAtMs: 410, self: self(1) }],
    [820, { kind: 'tick' }],
    [830, { kind: 'held', sentAtMs: 820, self: self(1) }],
  ]);
  assert.deepEqual(
    commands.map(([, c]) => c.kind),
    ['attempt', 'lead', 'attempt', 'attempt'],
  );
  assert.equal(m.role, 'leader');
  assert.equal(m.leadUntilMs, 820 + 1500);
});

test('a leader whose renewals fail steps down a margin before its grant runs out, and keeps trying', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [410, { kind: 'tick' }],
    [600, { kind: 'failed', reason: 'database unreachable' }],
    [1000, { kind: 'tick' }],
    [1499, { kind: 'tick' }], // still leading: the grant is good until 1500
    [1500, { kind: 'tick' }],
  ]);
  assert.deepEqual(commands, [
    [0, { kind: 'attempt' }],
    [10, { kind: 'lead', token: 1 }],
    [410, { kind: 'attempt' }],
    [1000, { kind: 'attempt' }],
    [
      1500,
      { kind: 'step-down', reason: 'lease not renewed in time (last grant ran out for this hub at 1500)' },
    ],
  ]);
  assert.equal(m.role, 'standby');
  assert.equal(m.token, null);
  assert.equal(m.lastError, 'database unreachable');
});

test('a hung leader that wakes after its grant ran out steps down before anything else', () => {
  const { commands } = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [9000, { kind: 'tick' }], // the process was stopped for 9 s
  ]);
  assert.deepEqual(commands.slice(2), [
    [
      9000,
      { kind: 'step-down', reason: 'lease not renewed in time (last grant ran out for this hub at 1500)' },
    ],
    [9000, { kind: 'attempt' }],
  ]);
});

test('a grant answered too late to act on is not used; the next attempt goes at once', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [1600, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [1600, { kind: 'tick' }],
  ]);
  assert.deepEqual(commands, [
    [0, { kind: 'attempt' }],
    [1600, { kind: 'attempt' }],
  ]);
  assert.equal(m.role, 'standby');
});

test('another hub holding the lease: a standby waits and knows the leader; a leader steps down', () => {
  const standby = run([
    [0, { kind: 'tick' }],
    [5, { kind: 'taken', leader: other }],
    [100, { kind: 'tick' }],
    [255, { kind: 'tick' }],
  ]);
  assert.deepEqual(standby.commands, [
    [0, { kind: 'attempt' }],
    [255, { kind: 'attempt' }],
  ]);
  assert.deepEqual(standby.m.leader, other);
  assert.equal(standby.m.role, 'standby');

  const deposed = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [410, { kind: 'tick' }],
    [415, { kind: 'taken', leader: other }],
  ]);
  assert.deepEqual(deposed.commands.at(-1), [
    415,
    { kind: 'step-down', reason: 'hub hub-b holds the lease (token 7)' },
  ]);
  assert.equal(deposed.m.role, 'standby');
  assert.deepEqual(deposed.m.leader, other);
});

test('a new token while leading: the old term stops before the new one starts', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [410, { kind: 'tick' }],
    [415, { kind: 'held', sentAtMs: 410, self: self(3) }],
  ]);
  assert.deepEqual(commands.slice(-2), [
    [415, { kind: 'step-down', reason: 'fencing token changed' }],
    [415, { kind: 'lead', token: 3 }],
  ]);
  assert.equal(m.token, 3);
  assert.equal(m.terms, 2);
});

test('stop: a leader steps down and releases; a grant arriving after the stop is released too', () => {
  const leader = run([
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(4) }],
    [20, { kind: 'stop' }],
    [30, { kind: 'tick' }],
  ]);
  assert.deepEqual(leader.commands.slice(2), [
    [20, { kind: 'step-down', reason: 'hub stopping' }],
    [20, { kind: 'release', token: 4 }],
  ]);
  assert.equal(leader.m.role, 'stopped');

  const late = run([
    [0, { kind: 'tick' }],
    [5, { kind: 'stop' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(5) }],
  ]);
  assert.deepEqual(late.commands, [
    [0, { kind: 'attempt' }],
    [10, { kind: 'release', token: 5 }],
  ]);
  assert.equal(late.m.role, 'stopped');
});

test('the core is deterministic: the same events at the same times give the same commands', () => {
  const script: Array<[number, LeaseEvent]> = [
    [0, { kind: 'tick' }],
    [10, { kind: 'held', sentAtMs: 0, self: self(1) }],
    [410, { kind: 'tick' }],
    [500, { kind: 'failed', reason: 'x' }],
    [1500, { kind: 'tick' }],
    [1510, { kind: 'taken', leader: other }],
  ];
  assert.deepEqual(run(script), run(script));
});

test('a leader with no contender that stalled past its grant confirms before stepping down, and keeps its term', () => {
  const lone = (at: number, token: number): [number, LeaseEvent] => [
    at,
    { kind: 'held', sentAtMs: at, self: self(token), contended: false },
  ];
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    lone(0, 1),
    [3000, { kind: 'tick' }], // a 3 s stall of its own: the grant ran out at 1500 on its clock
    [3020, { kind: 'held', sentAtMs: 3000, self: self(2), contended: false }], // lapsed, retaken
    [3500, { kind: 'tick' }],
  ]);
  assert.deepEqual(commands, [
    [0, { kind: 'attempt' }],
    [0, { kind: 'lead', token: 1 }],
    [3000, { kind: 'attempt' }],
    [3020, { kind: 'retoken', token: 2 }],
    [3500, { kind: 'attempt' }],
  ]);
  assert.equal(m.role, 'leader');
  assert.equal(m.token, 2);
  assert.equal(m.terms, 1, 'the same term');
  assert.equal(m.overdueSinceMs, null);
});

test('an overdue leader with no contender steps down when another hub holds it, or when no answer comes within the margin', () => {
  const overdue: Array<[number, LeaseEvent]> = [
    [0, { kind: 'tick' }],
    [0, { kind: 'held', sentAtMs: 0, self: self(1), contended: false }],
    [3000, { kind: 'tick' }],
  ];
  const taken = run([...overdue, [3010, { kind: 'taken', leader: other }]]);
  assert.deepEqual(taken.commands.at(-1), [
    3010,
    { kind: 'step-down', reason: 'hub hub-b holds the lease (token 7)' },
  ]);
  const silent = run([...overdue, [3499, { kind: 'tick' }], [3500, { kind: 'tick' }]]);
  assert.deepEqual(silent.commands.slice(-1), [
    [3500, { kind: 'step-down', reason: 'lease not confirmed within 500 ms of running out' }],
  ]);
  assert.equal(silent.m.role, 'standby');
  // A token that jumped by more than one: another hub held it in between. The old term ends.
  const jumped = run([...overdue, [3010, { kind: 'held', sentAtMs: 3000, self: self(3), contended: false }]]);
  assert.deepEqual(jumped.commands.slice(-2), [
    [3010, { kind: 'step-down', reason: 'fencing token changed' }],
    [3010, { kind: 'lead', token: 3 }],
  ]);
});

test('a contended leader never waits to confirm: it steps down when its grant runs out', () => {
  const { m, commands } = run([
    [0, { kind: 'tick' }],
    [0, { kind: 'held', sentAtMs: 0, self: self(1), contended: false }],
    [410, { kind: 'tick' }],
    [420, { kind: 'held', sentAtMs: 410, self: self(1), contended: true }], // a standby appeared
    [1910, { kind: 'tick' }],
  ]);
  assert.deepEqual(commands.slice(-2), [
    [
      1910,
      { kind: 'step-down', reason: 'lease not renewed in time (last grant ran out for this hub at 1910)' },
    ],
    [1910, { kind: 'attempt' }],
  ]);
  assert.equal(m.role, 'standby');
});

test('an uncontended leader whose renewals go unanswered has stopped by the time an unseen hub can take the lease', () => {
  // hub-a leads alone (no standby seen). Its database link is cut: every attempt fails 10 ms
  // after it is sent, and its own ticks run on time (every 40 ms). A hub that starts now finds
  // the lease lapsed at sentAtMs + ttlMs (2000) and takes it without ever having been a
  // contender, so hub-a cannot count on hearing of it: it must have stopped by then (give or
  // take one tick of its own clock, as any step-down).
  let { m } = run([
    [0, { kind: 'tick' }],
    [0, { kind: 'held', sentAtMs: 0, self: self(1), contended: false }],
  ]);
  let downAt: number | null = null;
  let failAt: number | null = null;
  for (let at = 10; at <= 4000 && downAt === null; at += 10) {
    const events: LeaseEvent[] = [];
    if (failAt === at) events.push({ kind: 'failed', reason: 'database unreachable' });
    if (at % 40 === 0) events.push({ kind: 'tick' });
    for (const e of events) {
      const s = leaseStep(m, e, at, T);
      m = s.machine;
      for (const c of s.commands) {
        if (c.kind === 'attempt') failAt = at + 10;
        if (c.kind === 'step-down') downAt = at;
      }
    }
  }
  assert.notEqual(downAt, null, 'hub-a stepped down');
  // It notices on its first tick at or after 1500 (1520), so it stops within one tick of 2000.
  assert.ok(downAt! <= 2000 + 40, `hub-a led until ${downAt}, a TTL after the lease could lapse (2000)`);
  assert.equal(m.role, 'standby');
});
