/**
 * The lease and the write fence on a real PostgreSQL (docs/architecture.md §6.6): two hubs on
 * one database, one lease row; the holder renews under the same token, another takes it only
 * once it lapsed (or was released) and under a new token; every leader-only write of a hub
 * whose token is no longer current fails `unavailable` and stores nothing.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../../shared/errors.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { query } from '../../shared/pg/pool.js';
import { waitFor } from '../../test/support/wait.js';
import { PgDirectoryStore } from '../directory/pg-directory.js';
import { PgIngestStore } from '../ingest/pg-ingest.js';
import { PgSiteAdminStore } from '../store/topology-store.js';
import { hubTestDb, pgSkip, type HubTestDb } from '../store/testing.js';
import type { Fence } from './fence.js';
import { PgLease } from './pg-lease.js';

const T0 = 1_790_000_000_000;
/** Short, so a lapse comes quickly; long enough that a renewal is never late on a busy machine. */
const TTL_MS = 400;

const makeOne = (i: number) =>
  makeEvent({
    type: 'agent.state-changed',
    siteId: 'wanzhou',
    aggregateId: `wanzhou-agent-${i}`,
    occurredAtMs: T0 + i,
    payload: { state: 'ready' },
  });
/** Made once: an event's id is its identity, and a replay carries the same one. */
const EVENTS = [0, 1, 2, 3].map(makeOne);
const event = (i: number) => EVENTS[i]!;

describe.skipIf(pgSkip)('the hub lease on PostgreSQL', () => {
  let t: HubTestDb;
  let a: PgLease;
  let b: PgLease;

  beforeAll(async () => {
    t = await hubTestDb('hub_lease');
    a = new PgLease(t.pool, 'hub-a', 'a.example:7443');
    b = new PgLease(t.pool, 'hub-b', 'b.example:7443');
  });
  afterAll(async () => t?.close());

  const rowsWhere = async (sql: string) => (await query<{ n: number }>(t.pool, sql)).rows[0]!.n;
  const rows = async (table: string) =>
    (await query<{ n: number }>(t.pool, `SELECT count(*)::int AS n FROM ${table}`)).rows[0]!.n;

  test('one hub holds the lease; the other is told who and where; renewals keep the token', async () => {
    const first = await a.attempt(TTL_MS * 10);
    assert.deepEqual(first, {
      held: true,
      self: { hubId: 'hub-a', address: 'a.example:7443', token: 1 },
      contended: false,
    });
    assert.deepEqual(await b.attempt(TTL_MS), {
      held: false,
      leader: { hubId: 'hub-a', address: 'a.example:7443', token: 1 },
    });
    // A renewal keeps the token, and now says a standby (hub-b, above) is waiting.
    assert.deepEqual(await a.attempt(TTL_MS), { ...first, contended: true });
    assert.deepEqual(await b.leader(), { hubId: 'hub-a', address: 'a.example:7443', token: 1 });
  });

  test('a lapsed lease goes to the other hub under a new token, and the old holder is told', async () => {
    const taken = await waitFor('hub-b takes the lapsed lease', async () => {
      const r = await b.attempt(TTL_MS * 10);
      return r.held ? r : undefined;
    });
    assert.deepEqual(taken.self, { hubId: 'hub-b', address: 'b.example:7443', token: 2 });
    // hub-a's lease lapsed: it may be stalled, not gone, and a hub that started while the lease
    // lapsed would never have been seen waiting. The takeover itself says hub-a is in play.
    assert.equal(taken.contended, true, 'the displaced hub counts as a contender');
    assert.deepEqual(await a.attempt(TTL_MS), { held: false, leader: taken.self });
  });

  test('the deposed hub writes nothing: events, drains and directory writes fail "unavailable"', async () => {
    const deposed: Fence = () => ({ hubId: 'hub-a', token: 1 });
    const leading: Fence = () => ({ hubId: 'hub-b', token: 2 });
    const notLeader = (e: unknown) =>
      isDomainError(e, 'unavailable') && /hub hub-a is not the leader: fencing token 1/.test(e.message);

    await assert.rejects(
      new PgIngestStore(t.pool, deposed).ingest([event(1), event(2)], 'link', T0),
      notLeader,
    );
    await assert.rejects(
      new PgSiteAdminStore(t.pool, deposed).setDrained('wanzhou', true, 'alice', 'test', T0),
      notLeader,
    );
    const profile = {
      customerId: 'c-fence',
      name: '客户',
      phones: ['13900000001'],
      cards: ['6222020000000001'],
      homeSiteId: 'wanzhou',
      segment: 'retail' as const,
      language: 'zh' as const,
      flags: { blacklisted: false, lostCard: false },
      accountIds: ['c-fence-cur'],
      version: 0,
    };
    const write = {
      writer: { kind: 'site' as const, id: 'wanzhou' },
      profile,
      baseVersion: 0,
      claimedBy: 'x',
      reason: 'test',
      nowMs: T0,
    };
    await assert.rejects(new PgDirectoryStore(t.pool, deposed).write(write), notLeader);
    assert.equal(await rows('ingested_events'), 0);
    assert.equal(await rows('site_admin'), 0);
    assert.equal(await rows('customers'), 0);

    // The leader's writes go through, and a replayed batch is still stored once.
    const ingest = new PgIngestStore(t.pool, leading);
    assert.deepEqual(await ingest.ingest([event(1), event(2)], 'link', T0), { accepted: 2, duplicates: 0 });
    assert.deepEqual(await ingest.ingest([event(1), event(2)], 'kafka', T0), { accepted: 0, duplicates: 2 });
    await new PgSiteAdminStore(t.pool, leading).setDrained('wanzhou', true, 'alice', 'test', T0);
    await new PgDirectoryStore(t.pool, leading).write(write);
    assert.equal(await rows('ingested_events'), 2);
    assert.equal(await rows('customers'), 1);
  });

  test('a leader whose lease lapsed cannot write even though nobody took it over', async () => {
    const short = await b.attempt(TTL_MS);
    assert.equal(short.held, true);
    await waitFor('the lease lapses', async () => (await b.leader()) === null);
    const stale = new PgIngestStore(t.pool, () => ({ hubId: 'hub-b', token: 2 }));
    await assert.rejects(stale.ingest([event(3)], 'link', T0), (e) => isDomainError(e, 'unavailable'));
    // Taking it again after the lapse is a new term.
    const again = await b.attempt(TTL_MS * 10);
    assert.deepEqual(again.held && again.self, { hubId: 'hub-b', address: 'b.example:7443', token: 3 });
  });

  test('a released lease is free at once', async () => {
    await b.release(3);
    const r = await a.attempt(TTL_MS * 10);
    assert.deepEqual(r.held && r.self, { hubId: 'hub-a', address: 'a.example:7443', token: 4 });
    // Releasing a token no longer held changes nothing.
    await b.release(3);
    assert.deepEqual(await b.leader(), { hubId: 'hub-a', address: 'a.example:7443', token: 4 });
  });

  test('a renewal never waits for a fenced write in flight; a takeover does, and that write commits first', async () => {
    const c = await t.pool.connect();
    try {
      await c.query('BEGIN');
      await c.query('SELECT hub_fence($1, $2)', ['hub-a', 4]);
      // hub-a renews while its own write holds the fence (a long burst of ingest, say).
      const renewed = await a.attempt(TTL_MS);
      assert.deepEqual(renewed.held && renewed.self, { hubId: 'hub-a', address: 'a.example:7443', token: 4 });
      await waitFor('the lease lapses', async () => (await b.leader()) === null);
      let taken = false;
      const takeover = b.attempt(TTL_MS * 10).then((r) => {
        taken = true;
        return r;
      });
      await waitFor(
        'the takeover waits on the lease row',
        async () =>
          (await rowsWhere(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`,
          )) > 0,
      );
      assert.equal(taken, false, 'no takeover while a fenced write is in flight');
      await c.query('COMMIT');
      const took = await takeover;
      assert.deepEqual(took.held && took.self, { hubId: 'hub-b', address: 'b.example:7443', token: 5 });
    } finally {
      c.release();
    }
  });
});
