/**
 * PgCoverStore on a real PostgreSQL: a start and a stop each write their row and their audit
 * row together; an entry already running or not running is refused with nothing written; an
 * activation its `until` ended is closed at its `until` by the next start; and a hub that no
 * longer holds the lease writes nothing (the fence, hub/lease/fence.ts).
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { query } from '../../shared/pg/pool.js';
import { PgLease } from '../lease/pg-lease.js';
import { hubTestDb, pgSkip, type HubTestDb } from '../store/testing.js';
import { PgCoverStore } from './pg-cover-store.js';

const T0 = 1_790_000_000_000;

describe.skipIf(pgSkip)('on-demand cover on PostgreSQL', () => {
  let t: HubTestDb;
  let store: PgCoverStore;

  beforeAll(async () => {
    t = await hubTestDb('hub_cover_store');
    store = new PgCoverStore(t.pool);
  });
  afterAll(async () => t?.close());

  const count = async (sql: string) => (await query<{ n: number }>(t.pool, sql)).rows[0]!.n;
  const audits = async () =>
    (
      await query<{ a: string }>(
        t.pool,
        `SELECT actor || ' ' || action || ' ' || target AS a FROM admin_audit ORDER BY id`,
      )
    ).rows.map((r) => r.a);

  test('start and stop, each with its audit row; refusals write nothing', async () => {
    const a = await store.start({
      entryId: 'helps',
      by: 'alice',
      nowMs: T0,
      untilMs: null,
      comment: 'CHG-1',
    });
    assert.deepEqual(a, {
      entryId: 'helps',
      startedBy: 'alice',
      startedAtMs: T0,
      untilMs: null,
      stoppedBy: null,
      stoppedAtMs: null,
      comment: 'CHG-1',
    });
    assert.deepEqual(await store.open(), [a]);
    await assert.rejects(
      store.start({ entryId: 'helps', by: 'bob', nowMs: T0 + 1, untilMs: null, comment: '' }),
      (e) =>
        isDomainError(e, 'failed-precondition') &&
        e.field === 'entryId' &&
        /already active \(started by alice\)/.test(e.message),
    );
    const s = await store.stop({ entryId: 'helps', by: 'bob', nowMs: T0 + 2, comment: 'done' });
    assert.equal(s.stoppedBy, 'bob');
    assert.equal(s.stoppedAtMs, T0 + 2);
    assert.deepEqual(await store.open(), []);
    await assert.rejects(
      store.stop({ entryId: 'helps', by: 'bob', nowMs: T0 + 3, comment: '' }),
      (e) => isDomainError(e, 'failed-precondition') && /is not active; nothing to stop/.test(e.message),
    );
    assert.deepEqual(await audits(), ['alice cover.start helps', 'bob cover.stop helps']);
  });

  test('an until that has passed: not stoppable, and closed at its until by the next start', async () => {
    await store.start({ entryId: 'brief', by: 'alice', nowMs: T0, untilMs: T0 + 100, comment: '' });
    await assert.rejects(store.stop({ entryId: 'brief', by: 'bob', nowMs: T0 + 100, comment: '' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    await store.start({ entryId: 'brief', by: 'carol', nowMs: T0 + 200, untilMs: null, comment: '' });
    const rows = await query<{ started_by: string; stopped_by: string | null; stopped_at_ms: string | null }>(
      t.pool,
      `SELECT started_by, stopped_by, stopped_at_ms FROM cover_activations WHERE entry_id = 'brief' ORDER BY id`,
    );
    assert.deepEqual(rows.rows, [
      { started_by: 'alice', stopped_by: null, stopped_at_ms: String(T0 + 100) },
      { started_by: 'carol', stopped_by: null, stopped_at_ms: null },
    ]);
    await assert.rejects(
      store.start({ entryId: 'bad', by: 'alice', nowMs: T0, untilMs: T0, comment: '' }),
      (e) => isDomainError(e, 'invalid-argument') && e.field === 'untilMs',
    );
  });

  test('a hub that does not hold the lease writes nothing', async () => {
    const lease = new PgLease(t.pool, 'hub-a', 'a:1');
    const r = await lease.attempt(60_000);
    assert.ok(r.held);
    const before = await count('SELECT count(*)::int AS n FROM cover_activations');
    const auditsBefore = (await audits()).length;
    const deposed = new PgCoverStore(t.pool, () => ({ hubId: 'hub-a', token: r.self.token + 1 }));
    const notLeader = (e: unknown) => isDomainError(e, 'unavailable') && /not the leader/.test(e.message);
    await assert.rejects(
      deposed.start({ entryId: 'fenced', by: 'alice', nowMs: T0, untilMs: null, comment: '' }),
      notLeader,
    );
    await assert.rejects(
      deposed.stop({ entryId: 'brief', by: 'alice', nowMs: T0 + 300, comment: '' }),
      notLeader,
    );
    assert.equal(await count('SELECT count(*)::int AS n FROM cover_activations'), before);
    assert.equal(
      await count(
        `SELECT count(*)::int AS n FROM cover_activations WHERE stopped_at_ms IS NULL AND entry_id = 'brief'`,
      ),
      1,
    );
    assert.equal((await audits()).length, auditsBefore);
    // The leader itself writes.
    const leading = new PgCoverStore(t.pool, () => ({ hubId: 'hub-a', token: r.self.token }));
    await leading.stop({ entryId: 'brief', by: 'alice', nowMs: T0 + 300, comment: '' });
  });
});
