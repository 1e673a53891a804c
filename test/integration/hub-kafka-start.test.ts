/**
 * A leader whose Kafka consumer cannot start when its term begins (docs/architecture.md §6.6,
 * hub/hub.ts lead()): the broker is unreachable (a toxiproxy proxy to the shared broker,
 * disabled), so the first start fails. The hub leads anyway, logs each failed try, and starts
 * the consumer once the broker answers (proxy enabled): an event shipped to its topic is
 * ingested, in the same term. Each failed try is logged; the hub never said it started Kafka
 * before it had.
 *
 * Needs TEST_PG_URL, KAFKA_BROKERS and TOXIPROXY_URL (`source .services/env.sh`).
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Toxiproxy, type Proxy } from 'toxiproxy-node-client';
import { makeEvent } from '../../shared/events/envelope.js';
import { ensureTopic, KafkaEventShipper } from '../../shared/events/kafka.js';
import { count, startTestProvince, type TestProvince } from '../support/federation.js';
import { waitFor } from '../support/wait.js';

const BROKERS = process.env.KAFKA_BROKERS ?? '';
const missing = ['TEST_PG_URL', 'KAFKA_BROKERS', 'TOXIPROXY_URL'].filter((v) => !process.env[v]);
const skip =
  missing.length > 0
    ? `${missing.join(', ')} not set: \`bash deploy/services.sh up && source .services/env.sh\``
    : false;

const tag = randomBytes(4).toString('hex');
const topic = `hub-kafka-start-${tag}`;
let proxy: Proxy;
let p: TestProvince;

type Line = { msg?: string; level?: string; err?: unknown };
const lines = (): Line[] => p.hubLog.map((l) => JSON.parse(l) as Line);
const logged = (msg: string) => lines().filter((l) => l.msg === msg);
/** Error lines of a Kafka consumer start the broker did not answer (whatever their wording). */
const brokerRefusals = () =>
  lines().filter((l) => l.level === 'error' && /cannot connect to brokers/.test(JSON.stringify(l.err)));

describe.skipIf(skip)('a leader whose Kafka consumer could not start', () => {
  beforeAll(async () => {
    await ensureTopic(BROKERS, topic, 1);
    // Created enabled so toxiproxy picks the port, then disabled: nothing listens there.
    proxy = await new Toxiproxy(process.env.TOXIPROXY_URL!).createProxy({
      name: `hub-kafka-start-${tag}`,
      listen: '127.0.0.1:0',
      upstream: BROKERS,
      enabled: true,
    });
    await proxy.update({ enabled: false, listen: proxy.listen, upstream: proxy.upstream });
    p = await startTestProvince({
      label: 'hub_kafka_start',
      kafka: { brokers: proxy.listen, topic, groupId: `hub-kafka-start-${tag}` },
    });
  });

  afterAll(async () => {
    await p?.close();
    await proxy?.remove();
  });

  test('it leads, retries the consumer while the broker is away, and ingests once it answers', async () => {
    assert.equal(p.hub.role, 'leader');
    await waitFor('a failed Kafka start logged', () => brokerRefusals().length > 0);
    await proxy.update({ enabled: true, listen: proxy.listen, upstream: proxy.upstream });

    const shipper = new KafkaEventShipper({ brokers: BROKERS, topic, clientId: `test-${tag}` });
    await shipper.connect();
    try {
      const ev = makeEvent({
        type: 'agent.state-changed',
        siteId: 'wanzhou',
        aggregateId: 'wanzhou-agent-1',
        occurredAtMs: Date.now(),
        payload: { state: 'ready' },
      });
      await shipper.ship([{ ...ev, seq: 1 }]);
      await waitFor(
        'the event ingested by the hub',
        async () =>
          (await count(p.hubDb.pool, `SELECT count(*) AS n FROM ingested_events WHERE id = $1`, [ev.id])) ===
          1,
        60_000,
      );
    } finally {
      await shipper.disconnect();
    }
    // The same term throughout: the consumer was retried, the term was not restarted; every
    // failed try was logged as such, and the start only once it happened.
    assert.equal(p.hub.terms, 1);
    assert.equal(logged('leading').length, 1);
    const refusals = brokerRefusals();
    assert.ok(
      refusals.every((l) => l.msg === 'kafka ingest did not start; trying again while the term lasts'),
      JSON.stringify(refusals),
    );
    assert.equal(logged('kafka ingest started').length, 1);
  });
});
