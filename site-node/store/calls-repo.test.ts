import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import { isDomainError } from '../../shared/errors.js';
import { eventsFor } from '../../shared/events/outbox.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import {
  createCall,
  createCallTx,
  endCall,
  endCallTx,
  getCall,
  getCdr,
  getTimeline,
  transition,
  transitionTx,
  updateCallData,
} from './calls-repo.js';
import { PgCustomerDirectory } from './customers-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

const count = async (t: SiteTestDb, sql: string, args: unknown[] = []): Promise<number> =>
  Number((await t.pool.query<{ n: string }>(sql, args)).rows[0]!.n);

describe.skipIf(pgSkip)('calls repository', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(1_763_000_000_000);

  beforeAll(async () => {
    t = await siteTestDb('calls', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('full lifecycle: timeline, CDR and outbox events', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, {
      ani: '13800001111',
      dnis: '95533',
      customerId: 'cust-1',
      ivrPath: ['main'],
    });
    assert.match(call.callId, /^cq-[0-9A-Z]{26}$/);
    assert.equal(call.state, 'ivr');
    clock.advance(20_000);
    await transition(ctx, {
      callId: call.callId,
      from: 'ivr',
      to: 'queued',
      patch: { queueId: 'retail', priority: 2, verified: true },
    });
    clock.advance(5_000);
    await transition(ctx, {
      callId: call.callId,
      to: 'offered',
      patch: { agentId: 'a1' },
      detail: { agentId: 'a1' },
    });
    clock.advance(3_000);
    await transition(ctx, { callId: call.callId, to: 'connected', event: 'answer' });
    clock.advance(120_000);
    await transition(ctx, { callId: call.callId, to: 'wrapup' });
    clock.advance(10_000);
    const end = await endCall(ctx, {
      callId: call.callId,
      reason: 'agent-hangup',
      cdr: { wrapupCode: 'BAL' },
    });
    assert.equal(end.alreadyEnded, false);
    assert.equal(end.call.state, 'ended');
    assert.deepEqual(
      [
        end.cdr.waitMs,
        end.cdr.talkMs,
        end.cdr.outcome,
        end.cdr.agentId,
        end.cdr.wrapupCode,
        end.cdr.abandoned,
      ],
      [8_000, 120_000, 'answered', 'a1', 'BAL', false],
    );
    assert.deepEqual(await getCdr(t.pool, call.callId), end.cdr);
    const tl = await getTimeline(t.pool, call.callId);
    assert.deepEqual(
      tl.map((x) => `${x.seq}:${x.state}:${x.event}`),
      [
        '1:ivr:created',
        '2:queued:queued',
        '3:offered:offered',
        '4:connected:answer',
        '5:wrapup:wrapup',
        '6:ended:agent-hangup',
      ],
    );
    const evs = await eventsFor(t.pool, call.callId);
    assert.deepEqual(
      evs.map((e) => e.type),
      [
        'call.created',
        'call.state-changed',
        'call.state-changed',
        'call.state-changed',
        'call.state-changed',
        'call.ended',
      ],
    );
    assert.equal((evs[5]!.payload.cdr as { talkMs: number }).talkMs, 120_000);
    // Each move's event carries where it came from and the row as it now is (stats-rebuild.ts reads them).
    assert.deepEqual(evs[1]!.payload, {
      from: 'ivr',
      to: 'queued',
      event: 'queued',
      detail: {},
      queueId: 'retail',
      agentId: null,
      priority: 2,
    });
    assert.deepEqual(evs[2]!.payload, {
      from: 'queued',
      to: 'offered',
      event: 'offered',
      detail: { agentId: 'a1' },
      queueId: 'retail',
      agentId: 'a1',
      priority: 2,
    });
    assert.deepEqual(
      evs.slice(1, 5).map((e) => e.occurredAtMs - evs[0]!.occurredAtMs),
      [20_000, 25_000, 28_000, 148_000],
    );
    const stored = await getCall(t.pool, call.callId);
    assert.deepEqual(
      [stored!.queueId, stored!.priority, stored!.verified, stored!.endReason],
      ['retail', 2, true, 'agent-hangup'],
    );
    // Contact history for the screen pop.
    const recent = await new PgCustomerDirectory(t.pool).recentContacts('cust-1', 5);
    assert.equal(recent.length, 1);
    assert.equal(recent[0]!.channel, 'voice-agent');
  });

  test('a move refused (wrong from, illegal, unknown call) writes no row, no timeline entry, no event', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '3', dnis: '95533' });
    const before = async () => [
      await count(t, `SELECT count(*) n FROM call_timeline WHERE call_id = $1`, [call.callId]),
      await count(t, `SELECT count(*) n FROM outbox WHERE aggregate_id = $1`, [call.callId]),
    ];
    const was = await before();
    await assert.rejects(
      transition(ctx, { callId: call.callId, from: 'queued', to: 'offered' }),
      (e: unknown) => isDomainError(e) && e.kind === 'conflict' && /is ivr, not queued/.test(e.message),
    );
    await assert.rejects(
      transition(ctx, { callId: call.callId, to: 'wrapup' }),
      (e: unknown) => isDomainError(e) && e.kind === 'failed-precondition' && /ivr -> wrapup/.test(e.message),
    );
    await assert.rejects(
      transition(ctx, { callId: call.callId, to: 'nowhere' as never }),
      (e: unknown) => isDomainError(e) && e.kind === 'invalid-argument',
    );
    await assert.rejects(
      transition(ctx, { callId: 'cq-01M8WJQQJNEQJ8NGWZ6Z772XY9', to: 'queued' }),
      (e: unknown) => isDomainError(e) && e.kind === 'not-found',
    );
    assert.deepEqual(await before(), was);
    assert.equal((await getCall(t.pool, call.callId))!.state, 'ivr');
  });

  test('ending twice writes one CDR and one call.ended', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '1', dnis: '95533', state: 'queued', queueId: 'vip' });
    clock.advance(30_000);
    const a = await endCall(ctx, { callId: call.callId, state: 'abandoned', reason: 'caller-hangup' });
    clock.advance(1_000);
    const b = await endCall(ctx, { callId: call.callId, state: 'failed', reason: 'again' });
    assert.equal(a.alreadyEnded, false);
    assert.equal(b.alreadyEnded, true);
    assert.deepEqual(b.cdr, a.cdr);
    assert.equal(b.call.state, 'abandoned');
    assert.equal(a.cdr.waitMs, 30_000);
    assert.equal(await count(t, `SELECT count(*) n FROM cdrs WHERE call_id = $1`, [call.callId]), 1);
    assert.equal(
      await count(t, `SELECT count(*) n FROM outbox WHERE aggregate_id = $1 AND type = 'call.ended'`, [
        call.callId,
      ]),
      1,
    );
    // Concurrent double end: still one CDR.
    const c2 = await createCall(ctx, { ani: '2', dnis: '95533' });
    const rs = await Promise.all(
      [1, 2, 3].map(() => endCall(ctx, { callId: c2.callId, reason: 'self-service' })),
    );
    assert.equal(rs.filter((r) => !r.alreadyEnded).length, 1);
    assert.equal(await count(t, `SELECT count(*) n FROM cdrs WHERE call_id = $1`, [c2.callId]), 1);
  });

  test('a call that changes between the end read and its write is read again: its CDR has the change', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '7', dnis: '95533', state: 'queued', queueId: 'retail' });
    clock.advance(1_000);
    // Another write lands right after each of the end's reads: an offer, then (in the same
    // millisecond, so no timestamp tells) a data change; the third read is left alone.
    const changes = [
      () => transition(ctx, { callId: call.callId, to: 'offered', patch: { agentId: 'a7' } }),
      () => updateCallData(ctx, call.callId, { customerId: 'cust-7' }),
    ];
    let reads = 0;
    const racing: Queryable = {
      query: (async (text: string, values: unknown[]) => {
        const r = await t.pool.query(text, values);
        if (/json_agg/.test(text)) {
          reads++;
          await changes.shift()?.();
        }
        return r;
      }) as Queryable['query'],
    };
    const ended = await endCallTx(racing, ctx, {
      callId: call.callId,
      state: 'abandoned',
      reason: 'caller-hangup',
    });
    assert.equal(reads, 3);
    assert.equal(ended.alreadyEnded, false);
    assert.equal(ended.cdr.agentId, 'a7');
    assert.equal(ended.cdr.customerId, 'cust-7');
    assert.equal(ended.cdr.offeredAtMs, clock.now());
    assert.deepEqual(
      (await getTimeline(t.pool, call.callId)).map((e) => [e.seq, e.state]),
      [
        [1, 'queued'],
        [2, 'offered'],
        [3, 'abandoned'],
      ],
    );
    assert.deepEqual(await getCdr(t.pool, call.callId), ended.cdr);
    assert.equal(
      await count(t, `SELECT count(*) n FROM contact_history WHERE call_id = $1`, [call.callId]),
      1,
    );
  });

  test('an illegal transition is refused and writes nothing', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '3', dnis: '95533' });
    const before = await count(t, `SELECT count(*) n FROM outbox`);
    await assert.rejects(transition(ctx, { callId: call.callId, to: 'connected' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    await assert.rejects(transition(ctx, { callId: call.callId, from: 'queued', to: 'offered' }), (e) =>
      isDomainError(e, 'conflict'),
    );
    await assert.rejects(transition(ctx, { callId: call.callId, to: 'ended' }), (e) =>
      isDomainError(e, 'invalid-argument'),
    );
    await assert.rejects(transition(ctx, { callId: 'cq-nope', to: 'queued' }), (e) =>
      isDomainError(e, 'not-found'),
    );
    await endCall(ctx, { callId: call.callId, reason: 'self-service' });
    await assert.rejects(transition(ctx, { callId: call.callId, to: 'queued' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    await assert.rejects(updateCallData(ctx, call.callId, { verified: true }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    assert.equal((await getCall(t.pool, call.callId))!.state, 'ended');
    assert.equal(
      await count(t, `SELECT count(*) n FROM outbox`),
      before + 1,
      'only the call.ended event was added',
    );
    assert.equal(await count(t, `SELECT count(*) n FROM call_timeline WHERE call_id = $1`, [call.callId]), 2);
  });

  test('a failure mid-endCall (CDR insert) leaves no partial rows', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '4', dnis: '95533', state: 'queued' });
    await transition(ctx, { callId: call.callId, to: 'offered' });
    await transition(ctx, { callId: call.callId, to: 'connected' });
    const snapshot = async () => ({
      call: await getCall(t.pool, call.callId),
      timeline: await count(t, `SELECT count(*) n FROM call_timeline WHERE call_id = $1`, [call.callId]),
      outbox: await count(t, `SELECT count(*) n FROM outbox WHERE aggregate_id = $1`, [call.callId]),
      cdrs: await count(t, `SELECT count(*) n FROM cdrs WHERE call_id = $1`, [call.callId]),
    });
    const before = await snapshot();
    // A real server-side failure after the call row and timeline were written: a trigger on cdrs.
    await t.pool.query(`
      CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'disk on fire' USING ERRCODE = '53100'; END $$;
      CREATE TRIGGER cdr_boom BEFORE INSERT ON cdrs FOR EACH ROW EXECUTE FUNCTION boom();`);
    try {
      await assert.rejects(endCall(ctx, { callId: call.callId, reason: 'caller-hangup' }), (e) =>
        isDomainError(e, 'resource-exhausted'),
      );
    } finally {
      await t.pool.query(`DROP TRIGGER cdr_boom ON cdrs; DROP FUNCTION boom()`);
    }
    assert.deepEqual(await snapshot(), before);
    // A check violation (talk time negative) fails the same way: invalid-argument, nothing written.
    await assert.rejects(
      endCall(ctx, { callId: call.callId, reason: 'x', cdr: { answeredAtMs: clock.now() + 60_000 } }),
      (e) => isDomainError(e, 'invalid-argument') && /talk_ms/.test(e.message),
    );
    assert.deepEqual(await snapshot(), before);
    // And it still ends fine afterwards.
    assert.equal((await endCall(ctx, { callId: call.callId, reason: 'caller-hangup' })).alreadyEnded, false);
  });

  test('a caller transaction that fails after create + transition leaves nothing', async () => {
    const { ctx } = t;
    let id = '';
    await assert.rejects(
      withTransaction(t.pool, async (c) => {
        const call = await createCallTx(c, ctx, { ani: '5', dnis: '95533' });
        id = call.callId;
        await transitionTx(c, ctx, { callId: id, to: 'queued' });
        throw new Error('ACD crashed');
      }),
      (e) => e instanceof Error && !isDomainError(e) && e.message === 'ACD crashed',
    );
    assert.equal(await getCall(t.pool, id), undefined);
    assert.equal((await query(t.pool, `SELECT 1 FROM outbox WHERE aggregate_id = $1`, [id])).rowCount, 0);
    assert.equal((await query(t.pool, `SELECT 1 FROM call_timeline WHERE call_id = $1`, [id])).rowCount, 0);
  });

  test('updateCallData merges attached data and records legs', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '6', dnis: '95533', attached: { lang: 'zh' } });
    const leg = {
      legId: 'l1',
      role: 'caller' as const,
      siteId: 'cq',
      signalling: 'sip:6@gw',
      media: { address: '10.0.0.1', port: 40000, codec: 'PCMA' },
      startedAtMs: clock.now(),
    };
    const u = await updateCallData(ctx, call.callId, {
      attached: { intent: 'balance' },
      legs: [leg],
      customerId: 'cust-9',
    });
    assert.deepEqual(u.attached, { lang: 'zh', intent: 'balance' });
    assert.deepEqual(u.legs, [leg]);
    const evs = await eventsFor(t.pool, call.callId);
    assert.equal(evs.at(-1)!.type, 'call.data-changed');
  });
});
