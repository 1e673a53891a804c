/**
 * PgIngestStore against a real PostgreSQL: idempotence by event id (replays and concurrent
 * overlapping batches store each event once), all-or-nothing validation that names the bad
 * event, call facts from `call.ended` CDRs, and per-site counts.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { isDomainError } from '../../shared/errors.js';
import { makeEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { createPool, query } from '../../shared/pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { migrateHubStore } from '../store/migrate.js';
import { PgDirectoryStore } from '../directory/pg-directory.js';
import { PgIngestStore } from './pg-ingest.js';

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (needs PostgreSQL)';

const T0 = 1_790_000_000_000;

/** A new customer of `wz`, written by `wz` itself (the directory's seed for these tests). */
function wzCustomer(customerId: string, phone: string, name = 'Roamer') {
  return {
    writer: { kind: 'site' as const, id: 'wz' },
    profile: {
      customerId,
      name,
      phones: [phone],
      cards: [],
      homeSiteId: 'wz',
      segment: 'retail' as const,
      language: 'zh',
      flags: { blacklisted: false, lostCard: false },
      accountIds: [],
      version: 0,
    },
    baseVersion: 0,
    claimedBy: '',
    reason: 'seed',
    nowMs: T0,
  };
}

function agentEvent(siteId: string, i: number): EventEnvelope {
  return makeEvent({
    type: 'agent.state-changed',
    siteId,
    aggregateId: `${siteId}-agent-${i}`,
    occurredAtMs: T0 + i,
    payload: { state: 'ready' },
  });
}

function callEnded(
  siteId: string,
  callId: string,
  cdr: { queueId?: string; waitMs: number; answered: boolean; abandoned: boolean; endedAtMs: number },
): EventEnvelope {
  return makeEvent({
    type: 'call.ended',
    siteId,
    aggregateId: callId,
    occurredAtMs: cdr.endedAtMs,
    payload: {
      cdr: {
        callId,
        siteId,
        queueId: cdr.queueId,
        queuedAtMs: cdr.queueId ? cdr.endedAtMs - 60_000 : undefined,
        answeredAtMs: cdr.answered ? cdr.endedAtMs - 30_000 : undefined,
        waitMs: cdr.waitMs,
        abandoned: cdr.abandoned,
        outcome: cdr.answered ? 'answered' : cdr.abandoned ? 'abandoned' : 'self-service',
        endedAtMs: cdr.endedAtMs,
      },
    },
  });
}

describe.skipIf(skip)('PgIngestStore', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let store: PgIngestStore;

  beforeAll(async () => {
    db = await freshDatabase('hubingest');
    pool = createPool(db.url, { applicationName: 'test/hub-ingest', max: 8 });
    await migrateHubStore(pool);
    store = new PgIngestStore(pool);
  });

  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const countEvents = async (): Promise<number> =>
    Number((await query<{ n: string }>(pool, 'SELECT count(*) AS n FROM ingested_events')).rows[0]?.n);

  test('counts accepted and duplicates; a replayed batch changes nothing', async () => {
    const batch = [agentEvent('cq', 1), agentEvent('cq', 2), agentEvent('wz', 3)];
    assert.deepEqual(await store.ingest(batch, 'link', T0), { accepted: 3, duplicates: 0 });
    const before = await countEvents();
    const replay = await store.ingest(batch, 'kafka', T0 + 1000);
    assert.deepEqual(replay, { accepted: 0, duplicates: 3 });
    assert.equal(await countEvents(), before);
    // The first copy wins: `via` and `ingested_at_ms` are those of the first delivery.
    const r = await query<{ via: string; ingested_at_ms: string }>(
      pool,
      'SELECT via, ingested_at_ms FROM ingested_events WHERE id = $1',
      [batch[0]!.id],
    );
    assert.deepEqual(r.rows[0], { via: 'link', ingested_at_ms: String(T0) });

    const mixed = [batch[0]!, agentEvent('cq', 4), agentEvent('cq', 4 + 1)];
    assert.deepEqual(await store.ingest(mixed, 'link', T0), { accepted: 2, duplicates: 1 });
    // The same id twice inside one batch: stored once, the copy is a duplicate.
    const e = agentEvent('cq', 6);
    assert.deepEqual(await store.ingest([e, e], 'link', T0), { accepted: 1, duplicates: 1 });
    assert.deepEqual(await store.ingest([], 'link', T0), { accepted: 0, duplicates: 0 });
  });

  test('a customer.read event (served from a site cache) joins the read audit, once, flagged when the hub does not know the customer', async () => {
    const read = makeEvent({
      type: 'customer.read',
      siteId: 'cq',
      aggregateId: 'wz-c-1',
      occurredAtMs: T0 + 5,
      payload: {
        customerId: 'wz-c-1',
        homeSiteId: 'wz',
        reason: 'ivr-ani',
        callId: 'cq-call-1',
        agentId: null,
        ivrSessionId: 'ivr-9',
        key: 'phone',
        servedFrom: 'cache',
        // A payload claiming another reader is ignored: the reader is the sending site.
        readerSiteId: 'wz',
      },
    });
    await store.ingest([read], 'link', T0);
    await store.ingest([read], 'kafka', T0 + 1); // replay
    const r = await query(
      pool,
      `SELECT reader_site_id, customer_id, home_site_id, claimed_home_site_id, flag, reason, call_id, agent_id,
              ivr_session_id, at_ms, served_from FROM customer_reads WHERE event_id = $1`,
      [read.id],
    );
    assert.deepEqual(r.rows, [
      {
        reader_site_id: 'cq',
        customer_id: 'wz-c-1',
        // The hub's knowledge, not the event's claim: it has no such customer.
        home_site_id: '',
        claimed_home_site_id: 'wz',
        flag: 'unknown-customer: the directory has no customer wz-c-1',
        reason: 'ivr-ani',
        call_id: 'cq-call-1',
        agent_id: null,
        ivr_session_id: 'ivr-9',
        at_ms: String(T0 + 5),
        served_from: 'site-cache',
      },
    ]);
  });

  test("cache reads renew the reader's interest in another site's customer, never the home site's", async () => {
    const dir = new PgDirectoryStore(pool);
    await dir.write(wzCustomer('wz-c-2', '13900000702'));
    const cacheRead = (site: string, atMs: number) =>
      makeEvent({
        type: 'customer.read',
        siteId: site,
        aggregateId: 'wz-c-2',
        occurredAtMs: atMs,
        payload: {
          customerId: 'wz-c-2',
          homeSiteId: 'wz',
          reason: 'ivr-ani',
          callId: `${site}-call-${atMs}`,
          agentId: null,
          ivrSessionId: 'ivr-1',
          key: 'phone',
          servedFrom: 'cache',
        },
      });
    // The hub served the customer to cq once (so cq can hold it in its cache); its interest
    // has lapsed since.
    const audit = { readerSiteId: 'cq', reason: 'ivr-ani', callId: null, agentId: null, ivrSessionId: null };
    assert.ok(await dir.lookupAudited('customer-id', 'wz-c-2', { ...audit, atMs: T0 + 1 }));
    assert.equal(await dir.lapseInterest(T0 + 2), 1);
    // Two reads by cq in one batch (one interest row, the later read), one by the home site.
    const batch = [cacheRead('cq', T0 + 10), cacheRead('cq', T0 + 30), cacheRead('wz', T0 + 40)];
    assert.deepEqual(await store.ingest(batch, 'link', T0 + 50), { accepted: 3, duplicates: 0 });
    const interest = () =>
      query(
        pool,
        `SELECT site_id, since_ms, last_read_ms FROM customer_interest WHERE customer_id = 'wz-c-2' ORDER BY site_id`,
      ).then((r) => r.rows);
    assert.deepEqual(await interest(), [
      { site_id: 'cq', since_ms: String(T0 + 30), last_read_ms: String(T0 + 30) },
    ]);
    // A later read renews it; an older one reported late, or a replay, does not move it back.
    await store.ingest([cacheRead('cq', T0 + 90)], 'kafka', T0 + 100);
    await store.ingest([cacheRead('cq', T0 + 20), batch[0]!], 'kafka', T0 + 110);
    assert.deepEqual(await interest(), [
      { site_id: 'cq', since_ms: String(T0 + 30), last_read_ms: String(T0 + 90) },
    ]);
  });

  test('a read the hub cannot corroborate is stored flagged with the directory home and grants no interest', async () => {
    const dir = new PgDirectoryStore(pool);
    await dir.write(wzCustomer('wz-c-5', '13900000705'));
    await dir.write(wzCustomer('wz-c-6', '13900000706'));
    const forged = (customerId: string, homeSiteId: string) =>
      makeEvent({
        type: 'customer.read',
        siteId: 'qj',
        aggregateId: customerId,
        occurredAtMs: T0 + 7,
        payload: {
          customerId,
          homeSiteId,
          reason: 'agent-search',
          callId: null,
          agentId: 'f01',
          ivrSessionId: null,
        },
      });
    // qj claims wz-c-5 is its own (hiding a roaming read), and reports a read of wz-c-6 the
    // hub never served it (to follow that customer's changes).
    const hidden = forged('wz-c-5', 'qj');
    const never = forged('wz-c-6', 'wz');
    assert.deepEqual(await store.ingest([hidden, never], 'link', T0 + 8), { accepted: 2, duplicates: 0 });
    const r = await query<{
      event_id: string;
      home_site_id: string;
      claimed_home_site_id: string;
      flag: string;
    }>(
      pool,
      `SELECT event_id, home_site_id, claimed_home_site_id, flag FROM customer_reads
        WHERE event_id = ANY($1) ORDER BY customer_id`,
      [[hidden.id, never.id]],
    );
    assert.deepEqual(r.rows, [
      {
        event_id: hidden.id,
        home_site_id: 'wz',
        claimed_home_site_id: 'qj',
        flag: "home-mismatch: the event claims home qj; the directory's is wz",
      },
      {
        event_id: never.id,
        home_site_id: 'wz',
        claimed_home_site_id: 'wz',
        flag: 'uncorroborated: the hub never served customer wz-c-6 to qj',
      },
    ]);
    assert.deepEqual(await dir.interestedSites('wz-c-5'), ['wz']);
    assert.deepEqual(await dir.interestedSites('wz-c-6'), ['wz']);
    // The admins' view shows them as what they are.
    const view = await dir.readAudit({ readerSiteId: 'qj', limit: 10 });
    assert.deepEqual(
      view.reads.map((x) => [x.customerId, x.homeSiteId, x.claimedHomeSiteId, x.flag?.split(':')[0]]).sort(),
      [
        ['wz-c-5', 'wz', 'qj', 'home-mismatch'],
        ['wz-c-6', 'wz', 'wz', 'uncorroborated'],
      ],
    );
  });

  test('a card loss of an identified customer queues one directory flag request; an anonymous one none', async () => {
    const report = (n: number, customerId: string | null) =>
      makeEvent({
        type: 'card-loss.reported',
        siteId: 'wz',
        aggregateId: `tkt-wz-${n}`,
        occurredAtMs: T0 + n,
        payload: {
          kind: 'card-loss',
          customerId,
          callId: `wz-call-${n}`,
          slaDueAtMs: null,
          data: { cardLast4: '4321', stopConfirmed: true },
        },
      });
    const known = report(1, 'wz-c-9');
    await store.ingest([known, report(2, null)], 'link', T0);
    await store.ingest([known], 'kafka', T0 + 1); // replay
    const r = await query(
      pool,
      `SELECT event_id, site_id, customer_id, flag, reason, at_ms, applied_at_ms FROM directory_flag_requests
        WHERE site_id = 'wz' ORDER BY event_id`,
    );
    assert.deepEqual(r.rows, [
      {
        event_id: known.id,
        site_id: 'wz',
        customer_id: 'wz-c-9',
        flag: 'lostCard',
        reason: 'card loss reported at wz (ticket tkt-wz-1, card ending 4321)',
        at_ms: String(T0 + 1),
        applied_at_ms: null,
      },
    ]);
  });

  test('a card loss naming a customer the hub never served the site neither flags it nor makes its later reads corroborated', async () => {
    const dir = new PgDirectoryStore(pool);
    await dir.write(wzCustomer('wz-c-20', '13900000720', 'Target'));
    // The attack: qj reports a card loss for a customer it never looked up, hoping the flag
    // write makes it follow the customer, then reports a read of it.
    const loss = makeEvent({
      type: 'card-loss.reported',
      siteId: 'qj',
      aggregateId: 'tkt-qj-20',
      occurredAtMs: T0 + 20,
      payload: { kind: 'card-loss', customerId: 'wz-c-20', callId: 'qj-call-20', slaDueAtMs: null, data: {} },
    });
    assert.deepEqual(await store.ingest([loss], 'link', T0 + 20), { accepted: 1, duplicates: 0 });
    const applied = await dir.applyFlagRequests(100, T0 + 21);
    assert.deepEqual(applied.changes, []);
    assert.deepEqual(
      applied.refused.map((x) => [x.eventId, x.siteId, x.customerId]),
      [[loss.id, 'qj', 'wz-c-20']],
    );
    assert.equal((await dir.lookup('customer-id', 'wz-c-20'))?.flags.lostCard, false);
    assert.deepEqual(await dir.interestedSites('wz-c-20'), ['wz']);
    const read = makeEvent({
      type: 'customer.read',
      siteId: 'qj',
      aggregateId: 'wz-c-20',
      occurredAtMs: T0 + 22,
      payload: {
        customerId: 'wz-c-20',
        homeSiteId: 'wz',
        reason: 'agent-search',
        callId: null,
        agentId: 'f01',
        ivrSessionId: null,
      },
    });
    await store.ingest([read], 'link', T0 + 22);
    const r = await query<{ flag: string }>(pool, `SELECT flag FROM customer_reads WHERE event_id = $1`, [
      read.id,
    ]);
    assert.deepEqual(r.rows, [{ flag: 'uncorroborated: the hub never served customer wz-c-20 to qj' }]);
    assert.deepEqual(await dir.interestedSites('wz-c-20'), ['wz']);
  });

  test('one malformed event refuses the whole batch, names it, stores nothing', async () => {
    const before = await countEvents();
    const good = [agentEvent('cq', 10), agentEvent('cq', 11), agentEvent('cq', 12)];
    const bad = { ...agentEvent('cq', 13), id: 'evt_not-a-ulid' };
    await assert.rejects(
      store.ingest([...good, bad], 'link', T0),
      (e: unknown) =>
        isDomainError(e, 'invalid-argument') &&
        e.field === 'events[3].id' &&
        e.message === 'events[3].id: must be evt_<ULID>',
    );
    const noPayload = { ...agentEvent('cq', 14), payload: 'x' } as unknown as EventEnvelope;
    await assert.rejects(
      store.ingest([noPayload], 'link', T0),
      (e: unknown) => isDomainError(e, 'invalid-argument') && /^events\[0\]\.payload: /.test(e.message),
    );
    assert.equal(await countEvents(), before);
  });

  test('call.ended with a queue becomes a call fact; without a queue it does not', async () => {
    const answered = callEnded('cq', 'cq-call-1', {
      queueId: 'retail',
      waitMs: 12_000,
      answered: true,
      abandoned: false,
      endedAtMs: T0 + 100_000,
    });
    const abandoned = callEnded('cq', 'cq-call-2', {
      queueId: 'vip',
      waitMs: 45_000,
      answered: false,
      abandoned: true,
      endedAtMs: T0 + 200_000,
    });
    const selfService = callEnded('cq', 'cq-call-3', {
      waitMs: 0,
      answered: false,
      abandoned: false,
      endedAtMs: T0 + 300_000,
    });
    const r = await store.ingest([answered, abandoned, selfService], 'kafka', T0);
    assert.deepEqual(r, { accepted: 3, duplicates: 0 });
    // Replaying the events adds no second fact.
    await store.ingest([answered, abandoned], 'link', T0);

    const facts = await store.callFacts(T0 + 100_000);
    assert.deepEqual(facts, [
      {
        siteId: 'cq',
        queueId: 'retail',
        endedAtMs: T0 + 100_000,
        queued: true,
        answered: true,
        abandoned: false,
        waitMs: 12_000,
      },
      {
        siteId: 'cq',
        queueId: 'vip',
        endedAtMs: T0 + 200_000,
        queued: true,
        answered: false,
        abandoned: true,
        waitMs: 45_000,
      },
    ]);
    // `sinceMs` is inclusive and filters by end time.
    assert.equal((await store.callFacts(T0 + 100_001)).length, 1);
    assert.equal((await store.callFacts(T0 + 200_001)).length, 0);
  });

  test("the origin's end of a call moved to another site is stored but is no call fact; the target's end is one", async () => {
    const moved = makeEvent({
      type: 'call.ended',
      siteId: 'wz',
      aggregateId: 'wz-moved-1',
      occurredAtMs: T0 + 500_000,
      schemaVersion: 2,
      payload: {
        from: 'queued',
        to: 'overflowed',
        reason: 'overflowed',
        detail: { toSiteId: 'cq', token: 'tok-1' },
        cdr: {
          callId: 'wz-moved-1',
          siteId: 'wz',
          queueId: 'retail',
          queuedAtMs: T0 + 460_000,
          waitMs: 40_000,
          abandoned: false,
          outcome: 'overflowed',
          finalState: 'overflowed',
          endedAtMs: T0 + 500_000,
          overflowOut: { toSiteId: 'cq', token: 'tok-1' },
        },
      },
    });
    const answeredThere = callEnded('cq', 'cq-moved-in-1', {
      queueId: 'retail',
      waitMs: 47_000,
      answered: true,
      abandoned: false,
      endedAtMs: T0 + 600_000,
    });
    assert.deepEqual(await store.ingest([moved, answeredThere], 'link', T0), { accepted: 2, duplicates: 0 });
    const facts = await store.callFacts(T0 + 500_000);
    assert.deepEqual(
      facts.map((f) => [f.siteId, f.queueId, f.answered, f.waitMs]),
      [['cq', 'retail', true, 47_000]],
    );
  });

  test('counts by site', async () => {
    await store.ingest([agentEvent('fl', 20), agentEvent('fl', 21), agentEvent('wz', 22)], 'link', T0);
    const counts = await store.countsBySite();
    const expected = await query<{ site_id: string; n: string }>(
      pool,
      'SELECT site_id, count(*) AS n FROM ingested_events GROUP BY site_id',
    );
    assert.equal(counts.size, expected.rows.length);
    for (const row of expected.rows) assert.equal(counts.get(row.site_id), Number(row.n));
    assert.equal(counts.get('fl'), 2);
  });

  test('concurrent ingests of overlapping batches store each event once', async () => {
    const events = Array.from({ length: 400 }, (_, i) =>
      i % 4 === 0
        ? callEnded('cc', `cc-call-${i}`, {
            queueId: 'retail',
            waitMs: i,
            answered: true,
            abandoned: false,
            endedAtMs: T0 + i,
          })
        : agentEvent('cc', 1000 + i),
    );
    // Eight writers, each with an overlapping window in a different order.
    const batches = Array.from({ length: 8 }, (_, w) => {
      const slice = events.slice(w * 40, w * 40 + 120);
      return w % 2 === 0 ? slice : [...slice].reverse();
    });
    batches.push(events); // and one with everything
    const results = await Promise.all(batches.map((b) => store.ingest(b, 'kafka', T0)));
    const accepted = results.reduce((n, r) => n + r.accepted, 0);
    const total = results.reduce((n, r) => n + r.accepted + r.duplicates, 0);
    assert.equal(accepted, events.length);
    assert.equal(
      total,
      batches.reduce((n, b) => n + b.length, 0),
    );
    const n = await query<{ n: string }>(
      pool,
      `SELECT count(*) AS n FROM ingested_events WHERE site_id = 'cc'`,
    );
    assert.equal(Number(n.rows[0]?.n), events.length);
    const f = await query<{ n: string }>(pool, `SELECT count(*) AS n FROM call_facts WHERE site_id = 'cc'`);
    assert.equal(Number(f.rows[0]?.n), 100);
  });
});
