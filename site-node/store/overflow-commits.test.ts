/**
 * The origin's record of a move on real PostgreSQL (overflow-commits.ts), and crash recovery
 * with it (recovery.ts): a call whose move was recorded before its commit went is left open for
 * the origin to settle with the target's word, and only with a hub to ask.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { createCall, endCall, getCall } from './calls-repo.js';
import { readPendingMoves, recordOverflowCommit } from './overflow-commits.js';
import { recoverAfterRestart } from './recovery.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

const rows = async (t: SiteTestDb): Promise<number> =>
  Number((await t.pool.query<{ n: string }>(`SELECT count(*) n FROM overflow_commits`)).rows[0]!.n);

describe.skipIf(pgSkip)('the origin records its moves', () => {
  let t: SiteTestDb;
  const lines: Array<{ msg: string; [k: string]: unknown }> = [];

  beforeAll(async () => {
    t = await siteTestDb('overflow-commits', { siteId: 'wz' });
    t.ctx.log = createLogger({}, { level: 'info', write: (l) => lines.push(JSON.parse(l) as never) });
  });
  afterAll(async () => {
    await t?.close();
  });

  const queued = async (): Promise<string> =>
    (await createCall(t.ctx, { ani: '1', dnis: '95533', state: 'queued', queueId: 'retail' })).callId;

  test('recorded once per request; a repeat is harmless, anything else is refused, logged once and changes nothing', async () => {
    const callId = await queued();
    const move = { callId, requestId: `${callId}#1`, toSiteId: 'cq', token: 'T1' };
    await recordOverflowCommit(t.ctx, move);
    await recordOverflowCommit(t.ctx, move); // a retry after a lost answer
    assert.equal(await rows(t), 1);
    lines.length = 0;

    const refusals: Array<[Parameters<typeof recordOverflowCommit>[1], string, RegExp]> = [
      [{ ...move, token: 'T2' }, 'conflict', /recorded moving to cq under token T1/],
      [{ ...move, requestId: 'other#1' }, 'invalid-argument', /overflowCommit\.requestId/],
      [{ ...move, requestId: `${callId}#2`, toSiteId: 'wz' }, 'invalid-argument', /its own site wz/],
      [{ ...move, requestId: `${callId}#2`, toSiteId: 'Not A Site' }, 'invalid-argument', /toSiteId/],
      [{ callId: 'wz-none', requestId: 'wz-none#1', toSiteId: 'cq', token: 'T' }, 'not-found', /wz-none/],
    ];
    for (const [input, kind, message] of refusals) {
      await assert.rejects(
        recordOverflowCommit(t.ctx, input),
        (e) => isDomainError(e, kind as never) && message.test(e.message),
      );
    }
    const ended = await queued();
    await endCall(t.ctx, { callId: ended, state: 'abandoned', reason: 'abandoned-queued' });
    await assert.rejects(
      recordOverflowCommit(t.ctx, { callId: ended, requestId: `${ended}#1`, toSiteId: 'cq', token: 'T' }),
      (e) => isDomainError(e, 'failed-precondition'),
    );
    assert.equal(await rows(t), 1, 'nothing written by a refusal');
    const logged = lines.filter((l) => l.msg === 'overflow commit not recorded');
    assert.equal(logged.length, refusals.length + 1, 'each refusal logged once');
    assert.ok(logged.every((l) => typeof l.callId === 'string' && l.err !== undefined));
  });

  test('recovery leaves a call with a recorded move open (its latest attempt) and ends the others; with no hub to ask it ends them all', async () => {
    await t.pool.query(`UPDATE calls SET ended_at = now(), state = 'failed' WHERE ended_at IS NULL`);
    const moving = await queued();
    await recordOverflowCommit(t.ctx, {
      callId: moving,
      requestId: `${moving}#1`,
      toSiteId: 'cq',
      token: 'old',
    });
    await recordOverflowCommit(t.ctx, {
      callId: moving,
      requestId: `${moving}#2`,
      toSiteId: 'fl',
      token: 'new',
    });
    const plain = await queued();

    const r = await recoverAfterRestart(t.ctx, { keepPendingMoves: true });
    assert.deepEqual(r.callsFailed, [plain]);
    assert.deepEqual(
      r.pendingMoves.map((m) => [m.callId, m.queueId, m.requestId, m.toSiteId, m.token]),
      [[moving, 'retail', `${moving}#2`, 'fl', 'new']],
    );
    assert.equal((await getCall(t.pool, moving))!.endedAtMs, undefined, 'left open for the target to decide');
    assert.deepEqual(await readPendingMoves(t.pool), r.pendingMoves, 'a second start finds it again');

    const noHub = await recoverAfterRestart(t.ctx);
    assert.deepEqual([noHub.callsFailed, noHub.pendingMoves], [[moving], []]);
    assert.deepEqual(await readPendingMoves(t.pool), [], 'an ended call has no move to settle');
  });
});
