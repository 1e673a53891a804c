/**
 * The routing decisions on a real PostgreSQL: stored and read back newest first, by site; a
 * write by a hub that does not hold the lease fails (fenced) and, through the recorder, is
 * logged and counted without ever reaching the caller.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/log.js';
import { hubTestDb, pgSkip, type HubTestDb } from '../store/testing.js';
import type { OverflowDecisionRow } from '../ports.js';
import { DecisionRecorder } from './decision-recorder.js';
import { PgOverflowDecisionStore } from './pg-decision-store.js';

let db: HubTestDb;

beforeAll(async () => {
  if (pgSkip) return;
  db = await hubTestDb('overflow_decisions');
});

afterAll(async () => {
  await db?.close();
});

const row = (n: number, patch: Partial<OverflowDecisionRow> = {}): OverflowDecisionRow => ({
  requestId: `call-${n}#1`,
  callId: `call-${n}`,
  kind: 'overflow',
  ruleId: 'wanzhou-busy',
  originSiteId: 'wanzhou',
  queueId: 'retail',
  targetSiteId: 'fuling',
  reason: null,
  why: '2 agent(s) ready',
  decidedAtMs: 1_700_000_000_000 + n,
  maxSnapshotAgeMs: 1000,
  targetAgeMs: 120,
  request: { priority: 0, waitedMs: 65_000, remainingPatienceMs: null, visitedSiteIds: ['wanzhou'] },
  candidates: [
    {
      siteId: 'chongqing',
      outcome: 'skipped',
      reason: 'stale-state',
      rank: null,
      agentReady: null,
      why: 'snapshot 1500 ms old (bound 1000 ms)',
      state: { link: 'up', drained: false, ageMs: 1500, snapshotAtMs: 1_699_999_998_000 },
    },
    {
      siteId: 'fuling',
      outcome: 'taken',
      reason: null,
      rank: 1,
      agentReady: true,
      why: '2 agent(s) ready',
      state: { link: 'up', drained: false, ageMs: 120, snapshotAtMs: 1_699_999_999_880 },
    },
  ],
  ...patch,
});

describe.skipIf(pgSkip)('overflow decisions on PostgreSQL', () => {
  test('stored as given, read back newest first, by origin or target', async () => {
    const store = new PgOverflowDecisionStore(db.pool);
    const none = row(2, {
      targetSiteId: null,
      reason: 'no-eligible-site',
      targetAgeMs: null,
      originSiteId: 'fuling',
    });
    await store.record([row(1), none]);
    await store.record([row(3, { originSiteId: 'chongqing', targetSiteId: 'wanzhou' })]);
    const all = await store.recent({ limit: 10 });
    assert.deepEqual(
      all.map((r) => r.requestId),
      ['call-3#1', 'call-2#1', 'call-1#1'],
    );
    assert.deepEqual(all[2], row(1));
    assert.deepEqual(all[1], none);
    assert.deepEqual(
      (await store.recent({ siteId: 'wanzhou', limit: 10 })).map((r) => r.requestId),
      ['call-3#1', 'call-1#1'],
      'wanzhou as the target of call-3 and the origin of call-1',
    );
    assert.equal((await store.recent({ limit: 1 })).length, 1);
  });

  test('a hub that does not lead writes nothing; the recorder logs and counts it, and the caller never sees it', async () => {
    const lines: string[] = [];
    const log = createLogger({}, { write: (l) => lines.push(l), level: 'info' });
    const fenced = new PgOverflowDecisionStore(db.pool, () => ({ hubId: 'hub-x', token: 99 }));
    const before = (await new PgOverflowDecisionStore(db.pool).recent({ limit: 1000 })).length;
    const recorder = new DecisionRecorder(fenced, log);
    recorder.add(row(10));
    recorder.add(row(11));
    await recorder.idle();
    assert.equal(recorder.stats.written, 0);
    assert.equal(recorder.stats.failed, 2);
    const warned = lines
      .map((l) => JSON.parse(l) as { msg: string; count?: number })
      .filter((l) => l.msg === 'overflow decisions not recorded');
    assert.ok(warned.length >= 1);
    assert.equal(
      warned.reduce((n, l) => n + (l.count ?? 0), 0),
      2,
    );
    assert.equal((await new PgOverflowDecisionStore(db.pool).recent({ limit: 1000 })).length, before);
  });

  test('decisions made close together go in one write, not one transaction each (the overflow benchmark, docs/operations.md §8.6)', async () => {
    const store = new PgOverflowDecisionStore(db.pool);
    const writes: number[] = [];
    const counting = {
      record: (rows: readonly OverflowDecisionRow[]) => {
        writes.push(rows.length);
        return store.record(rows);
      },
      recent: store.recent.bind(store),
    };
    const recorder = new DecisionRecorder(counting, createLogger({}, { write: () => {}, level: 'error' }));
    for (const n of [30, 31, 32, 33, 34]) recorder.add(row(n));
    await recorder.idle();
    assert.deepEqual(writes, [5]);
    assert.equal(recorder.stats.written, 5);
    const ids = (await store.recent({ limit: 1000 })).map((r) => r.requestId);
    for (const n of [30, 31, 32, 33, 34]) assert.ok(ids.includes(`call-${n}#1`));
  });

  test('the recorder writes what is pending, and past its bound drops the oldest, counted', async () => {
    const store = new PgOverflowDecisionStore(db.pool);
    const recorder = new DecisionRecorder(store, createLogger({}, { write: () => {}, level: 'error' }), 2);
    // Added in one go: all four wait for the first write, and only two may.
    for (const n of [20, 21, 22, 23]) recorder.add(row(n));
    await recorder.idle();
    assert.equal(recorder.stats.written, 2);
    assert.equal(recorder.stats.failed, 2);
    const ids = (await store.recent({ limit: 1000 })).map((r) => r.requestId);
    assert.ok(ids.includes('call-22#1') && ids.includes('call-23#1'));
    assert.ok(!ids.includes('call-20#1') && !ids.includes('call-21#1'));
  });
});
