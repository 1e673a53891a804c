/**
 * The records of a move between sites on real PostgreSQL (overflow-repo.ts): the target's call
 * and reservation written together and admitted once per origin call, the origin's
 * `overflowed` end naming the target and token, both with their outbox events.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import { isDomainError } from '../../shared/errors.js';
import { eventsFor } from '../../shared/events/outbox.js';
import { createCall, endCall, getCall, getCdr, getTimeline, transition } from './calls-repo.js';
import {
  admitOverflow,
  endOverflowed,
  readAdmittedReservations,
  type OverflowAdmit,
} from './overflow-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

const count = async (t: SiteTestDb, sql: string, args: unknown[] = []): Promise<number> =>
  Number((await t.pool.query<{ n: string }>(sql, args)).rows[0]!.n);

/** Every row an admit may write, so a test can say "nothing changed". */
const footprint = async (t: SiteTestDb): Promise<number[]> => [
  await count(t, `SELECT count(*) n FROM calls`),
  await count(t, `SELECT count(*) n FROM call_timeline`),
  await count(t, `SELECT count(*) n FROM outbox`),
  await count(t, `SELECT count(*) n FROM overflow_reservations`),
];

let n = 0;
/** A commit's admit for a fresh origin call of `wz` (the test site is `cq`). */
const admitOf = (over: Partial<OverflowAdmit> = {}): OverflowAdmit => {
  n++;
  return {
    token: `tok-${n}`,
    requestId: `wz-call-${n}#1`,
    originSiteId: 'wz',
    originCallId: `wz-call-${n}`,
    queueId: 'retail',
    priority: 5,
    waitedMs: 40_000,
    hops: 0,
    visitedSiteIds: ['wz'],
    ani: '13800001111',
    dnis: '95533',
    customerId: 'cust-wz-1',
    ivrPath: ['main', 'balance'],
    attached: { intent: 'balance', segment: 'retail' },
    ...over,
  };
};

describe.skipIf(pgSkip)('overflow records', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(1_763_000_000_000);

  beforeAll(async () => {
    t = await siteTestDb('overflow', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('the target admits: its own call record naming the origin, the reservation, call.created, in one go', async () => {
    const before = await footprint(t);
    const input = admitOf();
    const { call, admitted } = await admitOverflow(t.ctx, input);
    assert.equal(admitted, true);
    assert.match(call.callId, /^cq-[0-9A-Z]{26}$/, 'a call id of this site, not the origin call id');
    assert.deepEqual(
      [call.state, call.entrySiteId, call.queueId, call.priority, call.customerId, call.hops],
      ['queued', 'wz', 'retail', 5, 'cust-wz-1', 1],
    );
    assert.deepEqual(call.visitedSiteIds, ['wz', 'cq']);
    assert.deepEqual(call.ivrPath, ['main', 'balance']);
    assert.deepEqual(call.attached, { intent: 'balance', segment: 'retail' });
    assert.deepEqual(call.overflowIn, {
      originSiteId: 'wz',
      originCallId: input.originCallId,
      token: input.token,
      waitedMs: 40_000,
    });
    assert.deepEqual(await getCall(t.pool, call.callId), call);

    const tl = await getTimeline(t.pool, call.callId);
    assert.deepEqual(
      tl.map((x) => [x.state, x.event, x.detail]),
      [['queued', 'overflow-in', call.overflowIn]],
    );
    const evs = await eventsFor(t.pool, call.callId);
    assert.deepEqual(
      evs.map((e) => [e.type, e.schemaVersion]),
      [['call.created', 2]],
    );
    assert.deepEqual(evs[0]!.payload.overflowIn, {
      ...call.overflowIn,
      hops: 1,
      visitedSiteIds: ['wz', 'cq'],
    });
    const [res] = await readAdmittedReservations(t.pool, clock.now());
    assert.deepEqual(res, {
      token: input.token,
      requestId: input.requestId,
      originSiteId: 'wz',
      originCallId: input.originCallId,
      callId: call.callId,
      queueId: 'retail',
      priority: 5,
      waitedMs: 40_000,
      admittedAtMs: clock.now(),
      callOpen: true,
    });
    const after = await footprint(t);
    assert.deepEqual(
      after.map((x, i) => x - before[i]!),
      [1, 1, 1, 1],
    );
  });

  test("the moved-in call's CDR counts the caller's full wait, the origin's included", async () => {
    const { call } = await admitOverflow(t.ctx, admitOf({ waitedMs: 40_000 }));
    clock.advance(5_000);
    await transition(t.ctx, { callId: call.callId, to: 'offered', patch: { agentId: 'a1' } });
    clock.advance(2_000);
    await transition(t.ctx, { callId: call.callId, to: 'connected', event: 'answer' });
    clock.advance(60_000);
    const end = await endCall(t.ctx, { callId: call.callId, reason: 'agent-hangup' });
    assert.equal(end.cdr.waitMs, 47_000, '40 s at the origin + 7 s here');
    assert.equal(end.cdr.talkMs, 60_000);
    assert.equal(end.cdr.outcome, 'answered');
    assert.deepEqual(end.cdr.overflowIn, call.overflowIn);
    assert.equal(end.cdr.overflowOut, undefined);
    assert.deepEqual(await getCdr(t.pool, call.callId), end.cdr);
    const ended = (await eventsFor(t.pool, call.callId)).at(-1)!;
    assert.deepEqual([ended.type, ended.schemaVersion], ['call.ended', 2]);
    assert.equal((ended.payload.cdr as { waitMs: number }).waitMs, 47_000);
  });

  test('a repeated admit with the same token changes nothing and returns the call it made, also when concurrent', async () => {
    const input = admitOf();
    const first = await admitOverflow(t.ctx, input);
    const before = await footprint(t);
    clock.advance(1_000);
    const again = await admitOverflow(t.ctx, input);
    assert.equal(again.admitted, false);
    assert.deepEqual(again.call, first.call);
    assert.deepEqual(await footprint(t), before);

    const racing = admitOf();
    const both = await Promise.all([admitOverflow(t.ctx, racing), admitOverflow(t.ctx, racing)]);
    assert.deepEqual(both.map((r) => r.admitted).sort(), [false, true]);
    assert.equal(both[0].call.callId, both[1].call.callId);
    assert.equal(
      await count(t, `SELECT count(*) n FROM overflow_reservations WHERE token = $1`, [racing.token]),
      1,
    );
  });

  test('another token for a call admitted here, or a token reused for another request, is refused and writes nothing', async () => {
    const input = admitOf();
    await admitOverflow(t.ctx, input);
    const before = await footprint(t);
    await assert.rejects(
      admitOverflow(t.ctx, { ...input, token: 'another-token', requestId: `${input.originCallId}#2` }),
      (e) => isDomainError(e, 'conflict') && /already admitted here under another token/.test(e.message),
    );
    await assert.rejects(admitOverflow(t.ctx, { ...admitOf(), token: input.token }), (e) =>
      isDomainError(e, 'conflict'),
    );
    assert.deepEqual(await footprint(t), before);
  });

  test('the call and its reservation commit together: a reservation that cannot be written takes the call with it', async () => {
    const input = admitOf();
    await admitOverflow(t.ctx, input);
    const before = await footprint(t);
    // Another origin call and token under the same request id: the reservation's insert fails
    // (request ids are unique) after the call row was written in the same transaction.
    await assert.rejects(admitOverflow(t.ctx, { ...admitOf(), requestId: input.requestId }));
    assert.deepEqual(await footprint(t), before);
  });

  test('bad input is refused naming every field, and a call that has been here never comes back', async () => {
    const before = await footprint(t);
    await assert.rejects(
      admitOverflow(t.ctx, { ...admitOf(), token: '', waitedMs: -1, originSiteId: 'Not A Site', hops: 0.5 }),
      (e) =>
        isDomainError(e, 'invalid-argument') &&
        ['admit.token', 'admit.waitedMs', 'admit.originSiteId', 'admit.hops'].every((f) =>
          e.message.includes(f),
        ),
    );
    await assert.rejects(
      admitOverflow(t.ctx, admitOf({ visitedSiteIds: ['qj'] })),
      (e) =>
        isDomainError(e, 'invalid-argument') && /visitedSiteIds: must include the origin wz/.test(e.message),
    );
    await assert.rejects(
      admitOverflow(t.ctx, admitOf({ visitedSiteIds: ['cq', 'wz'] })),
      (e) => isDomainError(e, 'invalid-argument') && /has already been at cq/.test(e.message),
    );
    assert.deepEqual(await footprint(t), before);
  });

  test('the origin ends the call overflowed: timeline, CDR and call.ended name the target and token', async () => {
    const call = await createCall(t.ctx, { ani: '1', dnis: '95533', state: 'queued', queueId: 'retail' });
    clock.advance(30_000);
    const end = await endOverflowed(t.ctx, { callId: call.callId, toSiteId: 'wz', token: 'tok-out' });
    assert.equal(end.alreadyEnded, false);
    assert.equal(end.call.state, 'overflowed');
    assert.deepEqual(
      [end.cdr.finalState, end.cdr.outcome, end.cdr.abandoned, end.cdr.waitMs, end.cdr.endReason],
      ['overflowed', 'overflowed', false, 30_000, 'overflowed'],
    );
    assert.deepEqual(end.cdr.overflowOut, { toSiteId: 'wz', token: 'tok-out' });
    assert.deepEqual(await getCdr(t.pool, call.callId), end.cdr);
    const last = (await getTimeline(t.pool, call.callId)).at(-1)!;
    assert.deepEqual(
      [last.state, last.event, last.detail],
      ['overflowed', 'overflowed', { toSiteId: 'wz', token: 'tok-out' }],
    );
    const ended = (await eventsFor(t.pool, call.callId)).at(-1)!;
    assert.equal(ended.type, 'call.ended');
    assert.deepEqual(ended.payload.detail, { toSiteId: 'wz', token: 'tok-out' });
    assert.deepEqual((ended.payload.cdr as { overflowOut: unknown }).overflowOut, {
      toSiteId: 'wz',
      token: 'tok-out',
    });

    // Ending again (a retried write) changes nothing and returns the stored end.
    const again = await endOverflowed(t.ctx, { callId: call.callId, toSiteId: 'wz', token: 'tok-out' });
    assert.equal(again.alreadyEnded, true);
    assert.deepEqual(again.cdr, end.cdr);
  });

  test('an overflowed end is refused for a call not waiting, without a target, or to its own site', async () => {
    const inIvr = await createCall(t.ctx, { ani: '1', dnis: '95533' });
    const queued = await createCall(t.ctx, { ani: '2', dnis: '95533', state: 'queued', queueId: 'retail' });
    const before = await footprint(t);
    await assert.rejects(endOverflowed(t.ctx, { callId: inIvr.callId, toSiteId: 'wz', token: 'x' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    await assert.rejects(
      endCall(t.ctx, { callId: queued.callId, state: 'overflowed', reason: 'overflowed' }),
      (e) => isDomainError(e, 'invalid-argument') && /overflowOut/.test(e.message),
    );
    await assert.rejects(
      endOverflowed(t.ctx, { callId: queued.callId, toSiteId: 'cq', token: 'x' }),
      (e) => isDomainError(e, 'invalid-argument') && /own site cq/.test(e.message),
    );
    await assert.rejects(
      endOverflowed(t.ctx, { callId: queued.callId, toSiteId: 'wz', token: '' }),
      (e) => isDomainError(e, 'invalid-argument') && /overflowed.token/.test(e.message),
    );
    assert.deepEqual(await footprint(t), before);
    assert.equal((await getCall(t.pool, queued.callId))!.state, 'queued');
  });

  test('readAdmittedReservations gives those admitted since a time, oldest first', async () => {
    clock.advance(3_600_000);
    const since = clock.now();
    const a = await admitOverflow(t.ctx, admitOf({ waitedMs: 1_000 }));
    clock.advance(10);
    const b = await admitOverflow(t.ctx, admitOf({ waitedMs: 2_000, priority: 10 }));
    const got = await readAdmittedReservations(t.pool, since);
    assert.deepEqual(
      got.map((r) => [r.callId, r.waitedMs, r.priority]),
      [
        [a.call.callId, 1_000, 5],
        [b.call.callId, 2_000, 10],
      ],
    );
  });
});
