/**
 * The Kafka event path end to end, on the real services (docs/architecture.md §5, §7): a site's outbox
 * (site schema on PostgreSQL) -> OutboxRelay -> KafkaEventShipper -> Kafka broker ->
 * KafkaIngestConsumer -> PgIngestStore (hub schema on PostgreSQL).
 *
 * Proves: every event arrives exactly once and its outbox row is marked shipped; call.ended
 * CDRs become call facts; a replay of already shipped rows is absorbed as duplicates; a
 * consumer stopped mid-stream and restarted in the same group loses nothing (and does not
 * start over), and so does one dropped from its group by a long database outage; a garbage message is rejected without stalling the events behind it.
 *
 * Each test has its own topic, consumer group and databases. Waits are bounded polls.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import Kafka from 'node-rdkafka';
import type pg from 'pg';
import { isDomainError, unavailable } from '../../shared/errors.js';
import { makeEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { ensureTopic, KafkaEventShipper } from '../../shared/events/kafka.js';
import { appendToOutbox, countUnshipped, type OutboxRow } from '../../shared/events/outbox.js';
import { OutboxRelay } from '../../shared/events/relay.js';
import { newCallId } from '../../shared/ids.js';
import { createPool, query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { KafkaIngestConsumer } from '../../hub/ingest/kafka-ingest.js';
import type { IngestStore } from '../../hub/ports.js';
import { PgIngestStore } from '../../hub/ingest/pg-ingest.js';
import { migrateHubStore } from '../../hub/store/migrate.js';
import type { Cdr } from '../../site-node/store/cdr.js';
import { siteTestDb, type SiteTestDb } from '../../site-node/store/testing.js';
import { groupMembers } from '../support/kafka-group.js';
import { freshDatabase, type TestDatabase } from '../support/pg.js';
import { waitFor } from '../support/wait.js';

const BROKERS = process.env.KAFKA_BROKERS ?? '';
const skip =
  BROKERS && process.env.TEST_PG_URL
    ? false
    : 'KAFKA_BROKERS / TEST_PG_URL not set: `bash deploy/services.sh up && source .services/env.sh`';

const DEADLINE_MS = 30_000;
const SITE = 'cq';

const unique = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`;

/** Every fifth event is a call.ended with a queued CDR (answered or abandoned). */
function siteEvents(n: number, t0: number): EventEnvelope[] {
  return Array.from({ length: n }, (_, i) => {
    const at = t0 + i;
    if (i % 5 !== 0) {
      return makeEvent({
        type: 'agent.state-changed',
        siteId: SITE,
        aggregateId: `agent-${i % 7}`,
        occurredAtMs: at,
        payload: { state: i % 2 === 0 ? 'ready' : 'on-call', seq: i },
      });
    }
    const callId = newCallId(SITE, at);
    const answered = i % 10 === 0;
    const cdr: Cdr = {
      callId,
      siteId: SITE,
      entrySiteId: SITE,
      ani: '13800000000',
      dnis: '95533',
      queueId: 'retail',
      customerId: undefined,
      agentId: answered ? 'agent-1' : undefined,
      startedAtMs: at - 90_000,
      queuedAtMs: at - 60_000,
      offeredAtMs: answered ? at - 45_000 : undefined,
      answeredAtMs: answered ? at - 40_000 : undefined,
      endedAtMs: at,
      waitMs: answered ? 20_000 : 60_000,
      talkMs: answered ? 40_000 : 0,
      wrapupCode: undefined,
      finalState: answered ? 'ended' : 'abandoned',
      outcome: answered ? 'answered' : 'abandoned',
      abandoned: !answered,
      endReason: answered ? 'agent-hangup' : 'caller-hangup',
    };
    // JSON round trip: the outbox stores the payload as JSON (undefined fields drop out).
    const payload = JSON.parse(JSON.stringify({ cdr })) as Record<string, unknown>;
    return makeEvent({ type: 'call.ended', siteId: SITE, aggregateId: callId, occurredAtMs: at, payload });
  });
}

async function appendAll(site: SiteTestDb, events: readonly EventEnvelope[]): Promise<void> {
  await withTransaction(site.pool, async (c) => {
    for (const e of events) await appendToOutbox(c, e);
  });
}

/** Produce raw values (not envelopes) and wait for their delivery reports. */
async function produceRaw(topic: string, values: readonly string[]): Promise<void> {
  const p = new Kafka.Producer({ 'metadata.broker.list': BROKERS, dr_cb: true }, { acks: -1 });
  await new Promise<void>((resolve, reject) =>
    p.connect({ timeout: 10_000 }, (e) => (e ? reject(e) : resolve())),
  );
  p.setPollInterval(20);
  try {
    await new Promise<void>((resolve, reject) => {
      let left = values.length;
      p.on('delivery-report', (err) => {
        if (err) reject(new Error(err.message));
        else if (--left === 0) resolve();
      });
      for (const v of values) p.produce(topic, null, Buffer.from(v), 'garbage');
    });
  } finally {
    p.setPollInterval(0);
    await new Promise<void>((resolve) => p.disconnect(() => resolve()));
  }
}

describe.skipIf(skip)('site outbox -> Kafka -> hub ingest', { timeout: 180_000 }, () => {
  let hubDb: TestDatabase;
  let hubPool: pg.Pool;
  let store: PgIngestStore;
  const cleanups: Array<() => Promise<unknown>> = [];

  beforeAll(async () => {
    hubDb = await freshDatabase('kafkahub');
    hubPool = createPool(hubDb.url, { applicationName: 'test/kafka-hub', max: 6 });
    await migrateHubStore(hubPool);
    store = new PgIngestStore(hubPool);
  });

  afterAll(async () => {
    // Newest first: consumers and relays before the producers and pools they use.
    for (const c of cleanups.reverse()) await c().catch(() => {});
    await hubPool?.end();
    await hubDb?.drop();
  });

  async function newSite(): Promise<SiteTestDb> {
    const site = await siteTestDb('kafkasite', { siteId: SITE });
    cleanups.push(() => site.close());
    return site;
  }

  async function newShipper(topic: string): Promise<KafkaEventShipper> {
    const shipper = new KafkaEventShipper({ brokers: BROKERS, topic, clientId: `test-${SITE}` });
    await shipper.connect();
    cleanups.push(() => shipper.disconnect());
    return shipper;
  }

  function newConsumer(topic: string, groupId: string, batchSize = 200): KafkaIngestConsumer {
    const c = new KafkaIngestConsumer({ brokers: BROKERS, topic, groupId, store, batchSize });
    cleanups.push(() => c.stop());
    return c;
  }

  async function storedCount(ids: readonly string[]): Promise<number> {
    const r = await query<{ n: string }>(
      hubPool,
      'SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)',
      [ids],
    );
    return Number(r.rows[0]?.n);
  }

  test('every event arrives exactly once; outbox shipped; call facts; a replay is absorbed', async () => {
    const topic = unique('pcc-test-events');
    await ensureTopic(BROKERS, topic, 3);
    const site = await newSite();
    const events = siteEvents(300, Date.now() - 60_000);
    const ids = events.map((e) => e.id);
    await appendAll(site, events);

    const shipper = await newShipper(topic);
    const consumer = newConsumer(topic, unique('hub-test'));
    await consumer.start();
    const relay = new OutboxRelay({ pool: site.pool, ship: shipper.ship, batchSize: 50, pollMs: 50 });
    cleanups.push(() => relay.stop());
    relay.start();

    await waitFor(
      'all 300 events stored at the hub',
      async () => (await storedCount(ids)) === 300,
      DEADLINE_MS,
    );
    await waitFor('the outbox drained', async () => (await countUnshipped(site.pool)) === 0, DEADLINE_MS);
    await relay.stop();
    assert.equal(relay.stats.shipped, 300);
    assert.equal(relay.stats.failures, 0);
    assert.equal(consumer.stats.ingested, 300);
    assert.equal(consumer.stats.rejected, 0);

    const via = await query<{ via: string; n: string }>(
      hubPool,
      'SELECT via, count(*) AS n FROM ingested_events WHERE id = ANY($1) GROUP BY via',
      [ids],
    );
    assert.deepEqual(via.rows, [{ via: 'kafka', n: '300' }]);
    const facts = await query<{ answered: boolean; abandoned: boolean; n: string }>(
      hubPool,
      `SELECT answered, abandoned, count(*) AS n FROM call_facts
        WHERE event_id = ANY($1) GROUP BY answered, abandoned ORDER BY answered`,
      [ids],
    );
    assert.deepEqual(facts.rows, [
      { answered: false, abandoned: true, n: '30' },
      { answered: true, abandoned: false, n: '30' },
    ]);
    const payload = await query<{ payload: Record<string, unknown> }>(
      hubPool,
      'SELECT payload FROM ingested_events WHERE id = $1',
      [events[3]!.id],
    );
    assert.deepEqual(payload.rows[0]?.payload, events[3]!.payload);

    // Replay: the same rows shipped again (as after a relay crash before markShipped).
    const rows: OutboxRow[] = events.map((e, i) => ({ ...e, seq: i + 1 }));
    await shipper.ship(rows);
    await waitFor('the replay counted as duplicates', () => consumer.stats.duplicates === 300, DEADLINE_MS);
    assert.equal(await storedCount(ids), 300);
    assert.equal(consumer.stats.ingested, 300);
    await consumer.stop();
  });

  test('a consumer stopped mid-stream and restarted in the same group loses nothing', async () => {
    const topic = unique('pcc-test-restart');
    await ensureTopic(BROKERS, topic, 3);
    const site = await newSite();
    const first = siteEvents(400, Date.now() - 60_000);
    const second = siteEvents(100, Date.now() - 30_000);
    const ids = [...first, ...second].map((e) => e.id);
    await appendAll(site, first);

    const shipper = await newShipper(topic);
    const relay = new OutboxRelay({ pool: site.pool, ship: shipper.ship, batchSize: 100 });
    assert.equal(await relay.flush(), 400);

    const group = unique('hub-test');
    const a = newConsumer(topic, group, 10);
    await a.start();
    await waitFor('the first consumer stored some events', () => a.stats.ingested >= 30, DEADLINE_MS);
    await a.stop();
    await a.stop(); // idempotent
    const storedByA = await storedCount(ids);
    assert.ok(storedByA >= 30, `stored ${storedByA}`);

    // More events while no consumer runs.
    await appendAll(site, second);
    assert.equal(await relay.flush(), 100);

    const b = newConsumer(topic, group, 10);
    await b.start();
    await b.start(); // idempotent
    await waitFor('all 500 events stored', async () => (await storedCount(ids)) === 500, DEADLINE_MS);
    await b.stop();
    // Each event stored once, by one of the two; B resumed from A's committed offsets, so it
    // saw at most the one batch per partition A had not committed, not the whole topic again.
    assert.equal(a.stats.ingested + b.stats.ingested, 500);
    assert.equal(b.stats.ingested, 500 - storedByA);
    assert.ok(b.stats.duplicates <= 3 * 10, `B saw ${b.stats.duplicates} duplicates`);
    console.log(`stored by A ${storedByA}, by B ${b.stats.ingested}, B duplicates ${b.stats.duplicates}`);
  });

  test('ingest failures are retried and nothing is committed until the store succeeds', async () => {
    const topic = unique('pcc-test-dbdown');
    await ensureTopic(BROKERS, topic, 3);
    const site = await newSite();
    const events = siteEvents(100, Date.now() - 60_000);
    const ids = events.map((e) => e.id);
    await appendAll(site, events);
    const shipper = await newShipper(topic);
    assert.equal(await new OutboxRelay({ pool: site.pool, ship: shipper.ship }).flush(), 100);

    // The hub database "down": the store refuses every batch. The consumer must keep
    // retrying, never commit, and leave everything for whoever consumes next.
    let failNext = Number.POSITIVE_INFINITY;
    const flaky: IngestStore = {
      ingest: (evs, via, now) =>
        failNext-- > 0
          ? Promise.reject(unavailable('database unreachable: ECONNREFUSED'))
          : store.ingest(evs, via, now),
      ingestReturningIds: (evs, via, now) => store.ingestReturningIds(evs, via, now),
      countsBySite: () => store.countsBySite(),
      callFacts: (since) => store.callFacts(since),
    };
    const group = unique('hub-test');
    const a = new KafkaIngestConsumer({
      brokers: BROKERS,
      topic,
      groupId: group,
      store: flaky,
      minBackoffMs: 20,
    });
    cleanups.push(() => a.stop());
    await a.start();
    await waitFor('the first consumer retrying', () => a.stats.failures >= 3, DEADLINE_MS);
    await a.stop();
    assert.equal(a.stats.ingested, 0);
    assert.match(a.stats.lastError ?? '', /ECONNREFUSED/);
    assert.equal(await storedCount(ids), 0);

    // Same group, the database fails twice more, then recovers: everything arrives once.
    failNext = 2;
    const b = new KafkaIngestConsumer({
      brokers: BROKERS,
      topic,
      groupId: group,
      store: flaky,
      minBackoffMs: 20,
    });
    cleanups.push(() => b.stop());
    await b.start();
    await waitFor(
      'all 100 events stored after the outage',
      async () => (await storedCount(ids)) === 100,
      DEADLINE_MS,
    );
    await b.stop();
    assert.equal(b.stats.failures, 2);
    assert.equal(b.stats.ingested, 100);
    assert.equal(b.stats.duplicates, 0);
    assert.ok(b.stats.lagMs !== undefined && b.stats.lagMs >= 0);
  });

  test('a database outage longer than the poll interval: the consumer leaves the group, rejoins, and loses nothing', async () => {
    // librdkafka drops a consumer from its group when it does not poll for
    // max.poll.interval.ms, which is what happens while the hub retries one batch against a
    // database that is down (300 s by default; 7 s here). Its offsets were never committed,
    // so after the outage it rejoins, the batch comes again, and every event is stored once.
    const topic = unique('pcc-test-longdown');
    await ensureTopic(BROKERS, topic, 3);
    const site = await newSite();
    const first = siteEvents(60, Date.now() - 60_000);
    await appendAll(site, first);
    const shipper = await newShipper(topic);
    const relay = new OutboxRelay({ pool: site.pool, ship: shipper.ship });
    assert.equal(await relay.flush(), 60);

    let down = true;
    const flaky: IngestStore = {
      ingest: (evs, via, now) =>
        down
          ? Promise.reject(unavailable('database unreachable: ECONNREFUSED'))
          : store.ingest(evs, via, now),
      ingestReturningIds: (evs, via, now) => store.ingestReturningIds(evs, via, now),
      countsBySite: () => store.countsBySite(),
      callFacts: (since) => store.callFacts(since),
    };
    const groupId = unique('hub-test');
    const c = new KafkaIngestConsumer({
      brokers: BROKERS,
      topic,
      groupId,
      store: flaky,
      minBackoffMs: 100,
      maxBackoffMs: 1000,
      maxPollIntervalMs: 7000,
      sessionTimeoutMs: 6000,
    });
    cleanups.push(() => c.stop());
    await c.start();
    await waitFor(
      'the consumer retrying against the dead database',
      () => c.stats.failures >= 2,
      DEADLINE_MS,
    );
    await waitFor(
      'the consumer in its group',
      async () => (await groupMembers(BROKERS, groupId)) === 1,
      DEADLINE_MS,
    );
    // Past max.poll.interval the coordinator drops it: the group has no member left.
    await waitFor(
      'the consumer dropped from its group',
      async () => (await groupMembers(BROKERS, groupId)) === 0,
      DEADLINE_MS,
    );
    assert.equal(await storedCount(first.map((e) => e.id)), 0);
    down = false;
    await waitFor(
      'every event of the outage stored',
      async () => (await storedCount(first.map((e) => e.id))) === 60,
      DEADLINE_MS,
    );

    // Still a member of the group afterwards: what sites send next arrives too.
    const later = siteEvents(40, Date.now() - 1_000);
    await appendAll(site, later);
    assert.equal(await relay.flush(), 40);
    await waitFor(
      'the events sent after the outage stored',
      async () => (await storedCount(later.map((e) => e.id))) === 40,
      DEADLINE_MS,
    );
    const all = [...first, ...later].map((e) => e.id);
    const rows = await query<{ n: string }>(
      hubPool,
      `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`,
      [all],
    );
    assert.equal(Number(rows.rows[0]!.n), 100, 'each event once');
    assert.equal(c.stats.ingested, 100);
    assert.ok(c.stats.leftGroup >= 1, 'the consumer was dropped from its group and came back');
  });

  test('a batch the broker refuses fails ship; the relay keeps every row unshipped', async () => {
    const topic = unique('pcc-test-refused');
    // A topic that takes nothing over 2 KB: the broker refuses the big message of the batch.
    const admin = Kafka.AdminClient.create({ 'metadata.broker.list': BROKERS });
    await new Promise<void>((resolve, reject) =>
      admin.createTopic(
        { topic, num_partitions: 1, replication_factor: 1, config: { 'max.message.bytes': '2000' } },
        10_000,
        (e) => (e ? reject(new Error(e.message)) : resolve()),
      ),
    );
    admin.disconnect();
    const site = await newSite();
    const events = siteEvents(3, Date.now());
    events[1]!.payload = { ...events[1]!.payload, note: 'x'.repeat(10_000) };
    await appendAll(site, events);
    const shipper = await newShipper(topic);
    const relay = new OutboxRelay({ pool: site.pool, ship: shipper.ship });
    await assert.rejects(
      relay.flush(),
      (e: unknown) => isDomainError(e, 'unavailable') && /kafka: delivery failed/.test(e.message),
    );
    assert.equal(await countUnshipped(site.pool), 3);
    // The shipper still works for batches the broker accepts.
    await shipper.ship(siteEvents(2, Date.now()).map((e, i) => ({ ...e, seq: i + 1 })));
  });

  test('a garbage message is rejected and the events behind it still arrive', async () => {
    const topic = unique('pcc-test-garbage');
    await ensureTopic(BROKERS, topic, 1); // one partition: the good events really are behind it
    const site = await newSite();
    const before = siteEvents(10, Date.now() - 60_000);
    const behind = siteEvents(10, Date.now() - 30_000);
    const ids = [...before, ...behind].map((e) => e.id);
    const shipper = await newShipper(topic);
    const relay = new OutboxRelay({ pool: site.pool, ship: shipper.ship });

    await appendAll(site, before);
    await relay.flush();
    await produceRaw(topic, ['not json at all', JSON.stringify({ id: 'evt_bogus', type: 'call.ended' }), '']);
    await appendAll(site, behind);
    await relay.flush();

    const consumer = newConsumer(topic, unique('hub-test'));
    await consumer.start();
    await waitFor('the 20 good events stored', async () => (await storedCount(ids)) === 20, DEADLINE_MS);
    await waitFor('the 3 bad messages rejected', () => consumer.stats.rejected === 3, DEADLINE_MS);
    assert.equal(consumer.stats.ingested, 20);
    await consumer.stop();
  });
});
