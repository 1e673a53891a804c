import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import { createCall, endCall } from './calls-repo.js';
import { readStatsEvents, recordRefusedCall } from './stats-events.js';
import { pgSkip, siteTestDb, type SiteTestDb } from './testing.js';

describe.skipIf(pgSkip)('stats events', () => {
  let t: SiteTestDb;
  const clock = new ManualClock(1_763_000_000_000);

  beforeAll(async () => {
    t = await siteTestDb('statsevents', { clock });
  });
  afterAll(async () => {
    await t?.close();
  });

  test('reads only the types asked for, between the bounds, in the order written', async () => {
    const t0 = clock.now();
    await recordRefusedCall(t.ctx, { ani: '13800001111', dnis: '95533', reason: 'no-trunk' });
    clock.advance(1_000);
    const call = await createCall(t.ctx, { ani: '13800002222', dnis: '95533' });
    await endCall(t.ctx, {
      callId: call.callId,
      state: 'failed',
      reason: 'no-ivr-port',
      detail: { why: 'x' },
    });
    clock.advance(1_000);
    await recordRefusedCall(t.ctx, { ani: '13800003333', dnis: '95533', reason: 'site-stopping' });

    const all = await readStatsEvents(t.pool, ['call.refused', 'call.created', 'call.ended'], t0, t0 + 2_000);
    assert.deepEqual(
      all.map((e) => [e.type, e.occurredAtMs - t0]),
      [
        ['call.refused', 0],
        ['call.created', 1_000],
        ['call.ended', 1_000],
        ['call.refused', 2_000],
      ],
    );
    assert.deepEqual(all[0]!.payload, { ani: '13800001111', dnis: '95533', reason: 'no-trunk' });
    // The end's detail travels in its event (the rebuild reads a fallback's reason there).
    assert.deepEqual(all[2]!.payload.detail, { why: 'x' });

    const bounded = await readStatsEvents(t.pool, ['call.refused'], t0 + 1, t0 + 2_000);
    assert.deepEqual(
      bounded.map((e) => e.payload.reason),
      ['site-stopping'],
    );
  });
});
