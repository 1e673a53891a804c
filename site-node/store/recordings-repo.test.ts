/**
 * Call recordings in the store: started, then saved (with the path) or failed, idempotent; the
 * CDR read carries them; a restart fails the ones the last run left running.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { createCall, endCall, getCdr } from './calls-repo.js';
import { recoverAfterRestart } from './recovery.js';
import { getRecording, recordingEnded, recordingStarted } from './recordings-repo.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

describe.skipIf(pgSkip)('call recordings', () => {
  let t: SiteTestDb;
  beforeAll(async () => {
    t = await siteTestDb('recordings');
  });
  afterAll(async () => {
    await t?.close();
  });

  test('started, then saved with its file: the CDR says where; a second start or a late failure changes nothing', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '13800000001', dnis: '95588' });
    await recordingStarted(ctx, { callId: call.callId, reason: 'node:complaint_ticket' });
    await recordingStarted(ctx, { callId: call.callId, reason: 'queue:complaints' });
    assert.deepEqual(
      { ...(await getRecording(t.pool, call.callId)), startedAtMs: 0 },
      { state: 'recording', reason: 'node:complaint_ticket', startedAtMs: 0 },
    );
    await endCall(ctx, { callId: call.callId, reason: 'completed' });
    // The CDR of a call whose recording is still being written says so, with no path.
    assert.equal((await getCdr(t.pool, call.callId))!.recording?.state, 'recording');
    assert.equal((await getCdr(t.pool, call.callId))!.recording?.path, undefined);

    const saved = {
      state: 'saved' as const,
      path: `/rec/${call.callId}.wav`,
      durationMs: 12_340,
      bytes: 394_924,
    };
    assert.equal(await recordingEnded(ctx, call.callId, saved), true);
    assert.equal(await recordingEnded(ctx, call.callId, saved), false, 'a write run twice lands once');
    assert.equal(await recordingEnded(ctx, call.callId, { state: 'failed', error: 'late' }), false);
    const rec = (await getCdr(t.pool, call.callId))!.recording!;
    assert.deepEqual(
      { state: rec.state, path: rec.path, durationMs: rec.durationMs, bytes: rec.bytes, error: rec.error },
      { state: 'saved', path: saved.path, durationMs: 12_340, bytes: 394_924, error: undefined },
    );
    assert.ok(rec.endedAtMs! >= rec.startedAtMs);
  });

  test('a failed recording has no path; a call never recorded has no recording in its CDR; bad input is refused', async () => {
    const { ctx } = t;
    const failed = await createCall(ctx, { ani: '1', dnis: '95588' });
    await recordingStarted(ctx, { callId: failed.callId, reason: 'queue:complaints' });
    await recordingEnded(ctx, failed.callId, { state: 'failed', error: 'cannot write /rec/x.wav' });
    const plain = await createCall(ctx, { ani: '2', dnis: '95588' });
    for (const c of [failed, plain]) await endCall(ctx, { callId: c.callId, reason: 'completed' });
    const rec = (await getCdr(t.pool, failed.callId))!.recording!;
    assert.equal(rec.state, 'failed');
    assert.equal(rec.error, 'cannot write /rec/x.wav');
    assert.equal(rec.path, undefined);
    assert.equal('recording' in (await getCdr(t.pool, plain.callId))!, false);

    const refused = async (p: Promise<unknown>, field: string) =>
      assert.rejects(p, (e: unknown) => isDomainError(e, 'invalid-argument') && e.field === field);
    const open = await createCall(ctx, { ani: '3', dnis: '95588' });
    await refused(recordingStarted(ctx, { callId: open.callId, reason: '' }), 'reason');
    await recordingStarted(ctx, { callId: open.callId, reason: 'node:x' });
    await refused(
      recordingEnded(ctx, open.callId, { state: 'saved', path: '', durationMs: 1, bytes: 1 }),
      'path',
    );
    await refused(
      recordingEnded(ctx, open.callId, { state: 'saved', path: '/a.wav', durationMs: 1, bytes: 0 }),
      'bytes',
    );
    await refused(recordingEnded(ctx, open.callId, { state: 'failed', error: '' }), 'error');
    assert.equal((await getRecording(t.pool, open.callId))!.state, 'recording', 'refusals changed nothing');
  });

  test('a restart fails the recordings the last run left running (they were in its memory)', async () => {
    const { ctx } = t;
    const call = await createCall(ctx, { ani: '4', dnis: '95588' });
    await recordingStarted(ctx, { callId: call.callId, reason: 'queue:complaints' });
    const r = await recoverAfterRestart(ctx);
    assert.ok(r.recordingsLost.includes(call.callId), JSON.stringify(r.recordingsLost));
    const rec = (await getRecording(t.pool, call.callId))!;
    assert.equal(rec.state, 'failed');
    assert.match(rec.error!, /^site-restart/);
    assert.deepEqual((await recoverAfterRestart(ctx)).recordingsLost, []);
  });
});
