import { test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { NO_CALL_DATA, type OverflowMessage } from './messages.js';
import {
  inFlight,
  initialOrigin,
  originStep,
  resumeCommit,
  type OriginCommand,
  type OriginEvent,
  type OriginMachine,
  type OriginOptions,
} from './origin.js';

const O: OriginOptions = {
  askTimeoutMs: 2_000,
  commitMarginMs: 500,
  commitResendMs: 1_000,
  commitAlarmAfterMs: 30_000,
  commitSlowResendMs: 10_000,
};
const T0 = 100_000;
/** The ACD's answer to the take: the call was where it was asked (retail, never transferred). */
const HERE = { requestId: 'c1#1', queueId: 'retail', queueMoves: 0 } as const;

/** Drives one call's machine, keeping the commands of the last step. */
class Drive {
  m: OriginMachine = initialOrigin('wanzhou', 'c1', 'retail', T0);
  out: OriginCommand[] = [];
  step(e: OriginEvent, nowMs: number): this {
    const r = originStep(this.m, e, nowMs, O);
    this.m = r.machine;
    this.out = r.commands;
    return this;
  }
  ask(nowMs = T0, over: Partial<Extract<OriginEvent, { type: 'ask' }>> = {}): this {
    return this.step(
      {
        type: 'ask',
        queueId: 'retail',
        queueMoves: 0,
        targetSiteIds: ['chongqing', 'fuling'], // the policy's `to`
        priority: 5,
        waitedMs: 40_000,
        remainingPatienceMs: null,
        visitedSiteIds: [],
        hops: 0,
        policyId: 'wanzhou-retail',
        coverEntryId: null,
        callAgeMs: 41_000,
        ...NO_CALL_DATA,
        customerId: 'k1',
        ...over,
      },
      nowMs,
    );
  }
  msg(message: OverflowMessage, nowMs: number): this {
    return this.step({ type: 'message', message }, nowMs);
  }
  accept(nowMs: number, holdMs = 3_000, token = 'tok-1', requestId = 'c1#1'): this {
    return this.msg(
      { kind: 'accept', requestId, fromSiteId: 'chongqing', toSiteId: 'wanzhou', token, holdMs },
      nowMs,
    );
  }
  /** The home queue let the call go and the move was recorded: the commit goes. */
  taken(nowMs: number, requestId = 'c1#1'): this {
    return this.step({ type: 'call-taken', ...HERE, requestId }, nowMs).step(
      { type: 'commit-recorded', requestId },
      nowMs,
    );
  }
  /** The kinds of what it did: `send:commit`, `take-call`, ... */
  did(): string[] {
    return this.out.map((c) => (c.type === 'send' ? `send:${c.message.kind}` : c.type));
  }
}

test('the happy path: ask, accept, the home queue lets go, commit, ack: moved', () => {
  const d = new Drive().ask();
  assert.equal(d.m.state, 'asked');
  assert.deepEqual(d.did(), ['send:request', 'start-timer']);
  const req = d.out[0]!;
  assert.ok(req.type === 'send' && req.message.kind === 'request');
  assert.equal(req.message.requestId, 'c1#1');
  assert.equal(req.message.waitedMs, 40_000);

  d.accept(T0 + 100);
  assert.equal(d.m.state, 'accepted');
  // Nothing is committed before the home queue has given the call up.
  assert.deepEqual(d.did(), ['cancel-timer', 'take-call']);

  d.step({ type: 'call-taken', ...HERE }, T0 + 101);
  // The move is recorded at home before any commit can go, by the instant the commit must go.
  assert.equal(d.m.state, 'recording');
  assert.deepEqual(d.out, [
    {
      type: 'record-commit',
      callId: 'c1',
      requestId: 'c1#1',
      toSiteId: 'chongqing',
      token: 'tok-1',
      byMs: T0 + 2_500,
    },
  ]);
  d.step({ type: 'commit-recorded', requestId: 'c1#1' }, T0 + 150);
  assert.equal(d.m.state, 'committing');
  assert.deepEqual(d.did(), ['send:commit', 'start-timer']);

  d.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 200,
  );
  assert.equal(d.m.state, 'moved');
  assert.deepEqual(d.out.at(-1), { type: 'call-moved', callId: 'c1', toSiteId: 'chongqing', token: 'tok-1' });
});

test('refused, timed out or cut off before the commit: the call stays home, in its place', () => {
  const refused = new Drive().ask().msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: '', // the hub's own refuse names no site (wire.ts)
      toSiteId: 'wanzhou',
      token: null,
      reason: 'x',
      byHub: true,
    },
    T0 + 1,
  );
  assert.deepEqual([refused.m.state, refused.m.homeReason], ['home', 'refused']);
  assert.ok(!refused.did().includes('return-call')); // never left the queue

  const timedOut = new Drive().ask().step({ type: 'timer-fired', id: 'c1#1:ask' }, T0 + 2_000);
  assert.deepEqual([timedOut.m.state, timedOut.m.homeReason], ['home', 'timeout']);
  assert.deepEqual(timedOut.did(), ['send:cancel']); // a late reservation lets go at once

  const cut = new Drive().ask().step({ type: 'link-down' }, T0 + 1);
  assert.deepEqual([cut.m.state, cut.m.homeReason], ['home', 'link-down']);

  const cutAccepted = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'link-down' }, T0 + 2);
  assert.deepEqual([cutAccepted.m.state, cutAccepted.did()], ['home', ['send:cancel']]);
});

test('the call answered or abandoned at home meanwhile: cancel sent, the target lets go', () => {
  const d = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'call-left' }, T0 + 2);
  assert.deepEqual([d.m.state, d.m.homeReason], ['home', 'call-left']);
  const cancel = d.out[0]!;
  assert.ok(cancel.type === 'send' && cancel.message.kind === 'cancel');
  assert.equal(cancel.message.token, 'tok-1');
  // The home queue could not give the call up (an agent here is being offered it): same.
  const ringing = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'call-not-waiting', requestId: 'c1#1' }, T0 + 2);
  assert.deepEqual([ringing.m.homeReason, ringing.did()], ['not-waiting', ['send:cancel']]);
  // A call that left is never asked again.
  assert.throws(
    () => d.ask(T0 + 10_000),
    (e) => isDomainError(e, 'failed-precondition'),
  );
});

test('the reservation counts from when the request left, and the commit needs the margin', () => {
  // Asked at T0, held 3 s by the target: surely held until T0 + 3000 here, so commit by T0 + 2500.
  const late = new Drive().ask().accept(T0 + 2_500);
  assert.deepEqual(
    [late.m.state, late.m.homeReason, late.did()],
    ['home', 'too-late', ['cancel-timer', 'send:cancel']],
  );
  const inTime = new Drive().ask().accept(T0 + 2_499);
  assert.equal(inTime.m.state, 'accepted');
  // The home queue answered too slowly: the call goes back and the reservation is cancelled.
  inTime.step({ type: 'call-taken', ...HERE }, T0 + 2_500);
  assert.deepEqual([inTime.m.homeReason, inTime.did()], ['too-late', ['return-call', 'send:cancel']]);
});

test('after the commit only the target decides: link drops and timeouts resend, a dead token brings it home', () => {
  const d = new Drive()
    .ask()
    .accept(T0 + 1)
    .taken(T0 + 2);
  d.step({ type: 'link-down' }, T0 + 3);
  assert.equal(d.m.state, 'committing');
  d.step({ type: 'timer-fired', id: 'c1#1:commit' }, T0 + 1_002);
  assert.deepEqual([d.m.state, d.did(), d.m.commitsSent], ['committing', ['send:commit', 'start-timer'], 2]);
  // A refusal of the request (no token) is not about our commit: ignored.
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: 'fuling',
      toSiteId: 'wanzhou',
      token: null,
      reason: 'busy',
      byHub: false,
    },
    T0 + 1_003,
  );
  assert.equal(d.m.state, 'committing');
  // Another token's refusal neither.
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      token: 'tok-9',
      reason: 'x',
      byHub: false,
    },
    T0 + 1_004,
  );
  assert.equal(d.m.state, 'committing');
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      token: 'tok-1',
      reason: 'expired',
      byHub: false,
    },
    T0 + 1_005,
  );
  assert.deepEqual([d.m.state, d.m.homeReason], ['home', 'commit-refused']);
  assert.deepEqual(d.did(), ['cancel-timer', 'return-call']);
});

test("a caller who hangs up in transit: caller-left replaces the commit, and the target's word settles the call once", () => {
  const taken = () =>
    new Drive()
      .ask()
      .accept(T0 + 1)
      .taken(T0 + 2);
  const d = taken().step({ type: 'call-left' }, T0 + 3);
  assert.equal(d.m.state, 'committing');
  assert.deepEqual(d.did(), ['send:caller-left', 'start-timer']);
  const left = d.out[0]!;
  assert.ok(left.type === 'send' && left.message.kind === 'caller-left');
  assert.deepEqual([left.message.token, left.message.toSiteId], ['tok-1', 'chongqing']);
  // Resent like the commit (which it replaces) until the target's word; told once is enough here.
  d.step({ type: 'call-left' }, T0 + 4);
  assert.deepEqual(d.did(), []);
  d.step({ type: 'timer-fired', id: 'c1#1:commit' }, T0 + 1_003);
  assert.deepEqual(d.did(), ['send:caller-left', 'start-timer']);
  // Refused (never admitted): the call goes back, where the ACD ends it (its caller is gone).
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      token: 'tok-1',
      reason: 'the caller left',
      byHub: false,
    },
    T0 + 1_004,
  );
  assert.deepEqual([d.m.homeReason, d.did()], ['call-left', ['cancel-timer', 'return-call']]);
  // Admitted (and ended there): moved, once.
  const a = taken().step({ type: 'call-left' }, T0 + 3);
  a.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 5,
  );
  assert.deepEqual([a.m.state, a.did()], ['moved', ['cancel-timer', 'call-moved']]);
  a.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 6,
  );
  a.step({ type: 'call-left' }, T0 + 7);
  assert.deepEqual(a.did(), []);
});

test('a silent target: one alarm after commitAlarmAfterMs, then slower resends until its word', () => {
  const d = new Drive()
    .ask()
    .accept(T0 + 1)
    .taken(T0 + 2);
  let t = T0 + 2;
  let alarms = 0;
  for (let i = 0; i < 29; i++) {
    t += 1_000;
    d.step({ type: 'timer-fired', id: 'c1#1:commit' }, t);
    alarms += d.out.filter((c) => c.type === 'alarm').length;
  }
  assert.equal(alarms, 0, '29 s: no alarm yet');
  t += 1_000;
  d.step({ type: 'timer-fired', id: 'c1#1:commit' }, t);
  assert.deepEqual(d.did(), ['alarm', 'send:commit', 'start-timer']);
  assert.deepEqual(d.out[0], {
    type: 'alarm',
    callId: 'c1',
    requestId: 'c1#1',
    toSiteId: 'chongqing',
    token: 'tok-1',
    silentMs: 30_000,
  });
  assert.deepEqual(d.out[2], { type: 'start-timer', id: 'c1#1:commit', atMs: t + 10_000 });
  d.step({ type: 'timer-fired', id: 'c1#1:commit' }, t + 10_000);
  assert.deepEqual(d.did(), ['send:commit', 'start-timer'], 'once');
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    t + 10_001,
  );
  assert.equal(d.m.state, 'moved');
});

test('the request carries the wire names: this site last in visitedSiteIds, hops, the policy, the data', () => {
  const d = new Drive().ask();
  const req = d.out[0]!;
  assert.ok(req.type === 'send' && req.message.kind === 'request');
  const m = req.message;
  assert.deepEqual(
    [
      m.fromSiteId,
      m.toSiteId,
      m.visitedSiteIds,
      m.hops,
      m.policyId,
      m.coverEntryId,
      m.customerId,
      m.callAgeMs,
    ],
    ['wanzhou', null, ['wanzhou'], 0, 'wanzhou-retail', null, 'k1', 41_000],
  );
});

test('stale and duplicate messages: ignored, and a stray reservation is cancelled', () => {
  const d = new Drive().ask().accept(T0 + 1);
  // The same accept again changes nothing.
  d.accept(T0 + 2);
  assert.deepEqual([d.m.state, d.did()], ['accepted', []]);
  // An accept from a second target (the request was duplicated on the way): let it go.
  d.accept(T0 + 3, 3_000, 'tok-2');
  assert.equal(d.m.token, 'tok-1');
  const c = d.out[0]!;
  assert.ok(c.type === 'send' && c.message.kind === 'cancel' && c.message.token === 'tok-2');
  // A commit-ack for another token or request does not move the call.
  d.taken(T0 + 4);
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'fuling', toSiteId: 'wanzhou', token: 'tok-2' },
    T0 + 5,
  );
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#0', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 5,
  );
  assert.equal(d.m.state, 'committing');
  // A timer of an earlier attempt is ignored.
  d.step({ type: 'timer-fired', id: 'c1#1:ask' }, T0 + 6);
  assert.deepEqual([d.m.state, d.did()], ['committing', []]);
});

test('a call back home may be asked again, under a new request id; a moved call never', () => {
  const d = new Drive().ask().step({ type: 'timer-fired', id: 'c1#1:ask' }, T0 + 2_000);
  d.ask(T0 + 10_000);
  assert.equal(d.m.requestId, 'c1#2');
  // The first attempt's late accept is stale now: cancelled, not taken.
  d.accept(T0 + 10_001, 3_000, 'tok-old', 'c1#1');
  assert.equal(d.m.state, 'asked');
  assert.deepEqual(d.did(), ['send:cancel']);
  // Asking while a request is in flight is the adapter's bug.
  assert.throws(
    () => d.ask(T0 + 10_002),
    (e) => isDomainError(e, 'failed-precondition'),
  );

  d.accept(T0 + 10_010, 3_000, 'tok-2', 'c1#2').taken(T0 + 10_011, 'c1#2');
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#2', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-2' },
    T0 + 10_020,
  );
  assert.equal(d.m.state, 'moved');
  assert.throws(
    () => d.ask(T0 + 20_000),
    (e) => isDomainError(e, 'failed-precondition'),
  );
  // Messages after the move change nothing.
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#2',
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      token: 'tok-2',
      reason: 'x',
      byHub: false,
    },
    T0 + 20_001,
  );
  assert.equal(d.m.state, 'moved');
});

test('the home queue letting the call go after the move was given up: the call goes back', () => {
  const d = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'link-down' }, T0 + 2);
  d.step({ type: 'call-taken', ...HERE }, T0 + 3);
  assert.deepEqual(d.did(), ['return-call']);
  // Also when the caller hung up meanwhile: the ACD kept the taken call and ends it on return.
  const gone = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'call-left' }, T0 + 2);
  gone.step({ type: 'call-taken', ...HERE }, T0 + 3);
  assert.deepEqual(gone.did(), ['return-call']);
  // Our own answer again, once committing, changes nothing.
  const twice = new Drive()
    .ask()
    .accept(T0 + 1)
    .taken(T0 + 2);
  twice.step({ type: 'call-taken', ...HERE }, T0 + 3);
  assert.deepEqual(twice.did(), []);
});

test('only the expected site answers: never this site itself, and after the accept only that target', () => {
  const refuse = (fromSiteId: string, token: string | null, byHub = false): OverflowMessage => ({
    kind: 'refuse',
    requestId: 'c1#1',
    fromSiteId,
    toSiteId: 'wanzhou',
    token,
    reason: 'x',
    byHub,
  });
  const reported = (d: Drive, state: string, kind: string, site: string) => {
    assert.deepEqual(d.did(), ['wrong-sender']);
    const r = d.out[0]!;
    assert.ok(r.type === 'wrong-sender');
    assert.deepEqual([d.m.state, r.kind, r.fromSiteId], [state, kind, site]);
  };
  // Asked: the hub picks, so any other site may answer; this site and "no site" may not.
  const asked = new Drive().ask();
  asked.msg(
    {
      kind: 'accept',
      requestId: 'c1#1',
      fromSiteId: 'wanzhou',
      toSiteId: 'wanzhou',
      token: 't',
      holdMs: 3_000,
    },
    T0 + 1,
  );
  reported(asked, 'asked', 'accept', 'wanzhou');
  asked.msg(refuse('', null), T0 + 2); // not by the hub, yet from no site
  reported(asked, 'asked', 'refuse', '');
  asked.msg(refuse('fuling', null), T0 + 3);
  assert.deepEqual([asked.m.state, asked.m.homeReason], ['home', 'refused']);

  // After chongqing's accept: fuling's refuse or ack of our token is not chongqing's word.
  const d = new Drive()
    .ask()
    .accept(T0 + 1)
    .taken(T0 + 2);
  assert.equal(d.m.state, 'committing');
  d.msg(refuse('fuling', 'tok-1'), T0 + 3);
  reported(d, 'committing', 'refuse', 'fuling');
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'fuling', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 4,
  );
  reported(d, 'committing', 'commit-ack', 'fuling');
  // A second site's accept (the request went on twice) is stale: cancelled, not reported.
  d.msg(
    {
      kind: 'accept',
      requestId: 'c1#1',
      fromSiteId: 'fuling',
      toSiteId: 'wanzhou',
      token: 't2',
      holdMs: 3_000,
    },
    T0 + 5,
  );
  assert.deepEqual(d.did(), ['send:cancel']);
  d.msg(
    { kind: 'commit-ack', requestId: 'c1#1', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-1' },
    T0 + 6,
  );
  assert.equal(d.m.state, 'moved');
});

test('a move not recorded in time sends no commit: the call goes back to its place, the reservation is let go', () => {
  const taken = () =>
    new Drive()
      .ask()
      .accept(T0 + 1)
      .step({ type: 'call-taken', ...HERE }, T0 + 2);
  const cancel = {
    kind: 'cancel',
    requestId: 'c1#1',
    fromSiteId: 'wanzhou',
    toSiteId: 'chongqing',
    token: 'tok-1',
  };
  // The store did not take it (withdrawn at its bound, or refused).
  const no = taken().step({ type: 'commit-not-recorded', requestId: 'c1#1' }, T0 + 2_400);
  assert.deepEqual(
    [no.m.state, no.m.homeReason, no.out],
    [
      'home',
      'not-recorded',
      [
        { type: 'return-call', callId: 'c1' },
        { type: 'send', message: cancel },
      ],
    ],
  );
  // Recorded, but past the instant the commit had to go: the commit would arrive late.
  const late = taken().step({ type: 'commit-recorded', requestId: 'c1#1' }, T0 + 2_500);
  assert.deepEqual([late.m.homeReason, late.did()], ['too-late', ['return-call', 'send:cancel']]);
  // The caller leaves, or the link drops, while the record is being written: no commit went.
  for (const e of [{ type: 'call-left' }, { type: 'link-down' }] as const) {
    const d = taken().step(e, T0 + 3);
    assert.deepEqual([d.m.state, d.did()], ['home', ['return-call', 'send:cancel']]);
    d.step({ type: 'commit-recorded', requestId: 'c1#1' }, T0 + 4);
    assert.deepEqual([d.m.state, d.did()], ['home', []], 'a record landing later sends nothing');
  }
  // Recording is in flight: the trigger does not ask again; a second answer of the queue is ours.
  const d = taken();
  assert.ok(inFlight(d.m));
  d.step({ type: 'call-taken', ...HERE }, T0 + 3);
  assert.deepEqual([d.m.state, d.did()], ['recording', []]);
});

test("a restarted origin resumes a recorded move: commit sent again, resent, settled by the target's word", () => {
  const r = resumeCommit(
    'wanzhou',
    { callId: 'c1', queueId: 'retail', requestId: 'c1#3', toSiteId: 'chongqing', token: 'tok-9' },
    T0,
    O,
  );
  const d = new Drive();
  d.m = r.machine;
  d.out = r.commands;
  assert.deepEqual([d.m.state, d.m.attempts, d.did()], ['committing', 3, ['send:commit', 'start-timer']]);
  d.step({ type: 'link-down' }, T0 + 1);
  assert.equal(d.m.state, 'committing');
  d.step({ type: 'timer-fired', id: 'c1#3:commit' }, T0 + 1_000);
  assert.deepEqual(d.did(), ['send:commit', 'start-timer']);
  const acked = new Drive();
  acked.m = d.m;
  acked.msg(
    { kind: 'commit-ack', requestId: 'c1#3', fromSiteId: 'chongqing', toSiteId: 'wanzhou', token: 'tok-9' },
    T0 + 1_100,
  );
  assert.deepEqual(acked.out.at(-1), {
    type: 'call-moved',
    callId: 'c1',
    toSiteId: 'chongqing',
    token: 'tok-9',
  });
  d.msg(
    {
      kind: 'refuse',
      requestId: 'c1#3',
      fromSiteId: 'chongqing',
      toSiteId: 'wanzhou',
      token: 'tok-9',
      reason: 'unknown token',
      byHub: false,
    },
    T0 + 1_100,
  );
  assert.deepEqual(
    [d.m.state, d.m.homeReason, d.did()],
    ['home', 'commit-refused', ['cancel-timer', 'return-call']],
  );
});

test('an accept from a site the policy does not name is reported, not taken; the real target is not cancelled', () => {
  const accept = (fromSiteId: string, token: string): OverflowMessage => ({
    kind: 'accept',
    requestId: 'c1#1',
    fromSiteId,
    toSiteId: 'wanzhou',
    token,
    holdMs: 3_000,
  });
  const d = new Drive().ask(); // policy wanzhou-retail: to chongqing or fuling
  d.msg(accept('yongchuan', 'tok-x'), T0 + 1);
  assert.deepEqual([d.m.state, d.m.toSiteId, d.did()], ['asked', null, ['wrong-sender']]);
  const r = d.out[0]!;
  assert.ok(r.type === 'wrong-sender');
  assert.deepEqual(
    [r.kind, r.fromSiteId, r.reason],
    [
      'accept',
      'yongchuan',
      'accept of c1#1 from site yongchuan; only site chongqing or site fuling (named by policy wanzhou-retail) answers it',
    ],
  );
  // The real target's accept is the request's answer: taken, not cancelled as a stray one.
  d.accept(T0 + 2);
  assert.deepEqual(
    [d.m.state, d.m.toSiteId, d.did()],
    ['accepted', 'chongqing', ['cancel-timer', 'take-call']],
  );
  // Its refusal is the unnamed site's to give neither, while asked.
  const refused = new Drive().ask();
  refused.msg(
    {
      kind: 'refuse',
      requestId: 'c1#1',
      fromSiteId: 'yongchuan',
      toSiteId: 'wanzhou',
      token: null,
      reason: 'x',
      byHub: false,
    },
    T0 + 1,
  );
  assert.deepEqual([refused.m.state, refused.did()], ['asked', ['wrong-sender']]);

  // A cover entry names its covering site alone.
  const covered = new Drive().ask(T0, {
    policyId: null,
    coverEntryId: 'night-wanzhou',
    targetSiteIds: ['chongqing'],
  });
  covered.msg(accept('fuling', 'tok-f'), T0 + 1);
  const c = covered.out[0]!;
  assert.ok(
    c.type === 'wrong-sender' &&
      c.reason.endsWith('only site chongqing (named by cover entry night-wanzhou) answers it'),
  );
  covered.accept(T0 + 2);
  assert.equal(covered.m.state, 'accepted');

  // A request no site may answer is the adapter's bug.
  assert.throws(
    () => new Drive().ask(T0, { targetSiteIds: ['wanzhou'] }),
    (e) => isDomainError(e, 'failed-precondition'),
  );
});

test('a call moved to another queue after the ask is not moved by the accept: back in its new place, the reservation cancelled', () => {
  const cancel = {
    type: 'send',
    message: {
      kind: 'cancel',
      requestId: 'c1#1',
      fromSiteId: 'wanzhou',
      toSiteId: 'chongqing',
      token: 'tok-1',
    },
  };
  // Transferred to credit-card: the home queue gives it up from there.
  const moved = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'call-taken', requestId: 'c1#1', queueId: 'credit-card', queueMoves: 1 }, T0 + 2);
  assert.deepEqual(
    [moved.m.state, moved.m.homeReason, moved.out],
    ['home', 'requeued', [{ type: 'return-call', callId: 'c1' }, cancel]],
  );
  // Answered, then transferred back into retail: the same queue, but not the same wait.
  const back = new Drive()
    .ask()
    .accept(T0 + 1)
    .step({ type: 'call-taken', requestId: 'c1#1', queueId: 'retail', queueMoves: 1 }, T0 + 2);
  assert.deepEqual(
    [back.m.homeReason, back.out],
    ['requeued', [{ type: 'return-call', callId: 'c1' }, cancel]],
  );
  // Asked again later, under its new queue: the request says so, and a take from there commits.
  moved.ask(T0 + 10_000, { queueId: 'credit-card', queueMoves: 1, policyId: 'wanzhou-card' });
  const req = moved.out[0]!;
  assert.ok(req.type === 'send' && req.message.kind === 'request');
  assert.deepEqual([req.message.requestId, req.message.queueId], ['c1#2', 'credit-card']);
  moved
    .accept(T0 + 10_001, 3_000, 'tok-2', 'c1#2')
    .step({ type: 'call-taken', requestId: 'c1#2', queueId: 'credit-card', queueMoves: 1 }, T0 + 10_002);
  assert.equal(moved.m.state, 'recording');
});
