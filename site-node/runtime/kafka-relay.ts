/**
 * The site's Kafka event path (docs/architecture.md §7.3): an `OutboxRelay` over the site's
 * outbox whose ship function is a `KafkaEventShipper`. One function so the site and the resync
 * benchmark (`npm run bench -- resync`) run the very same settings.
 */
import type pg from 'pg';
import { KafkaEventShipper } from '../../shared/events/kafka.js';
import { OutboxRelay } from '../../shared/events/relay.js';
import type { Logger } from '../../shared/log.js';

export interface SiteKafkaRelay {
  shipper: KafkaEventShipper;
  relay: OutboxRelay;
}

export function siteKafkaRelay(o: {
  siteId: string;
  brokers: string;
  topic: string;
  pool: pg.Pool;
  log: Logger;
}): SiteKafkaRelay {
  const shipper = new KafkaEventShipper({
    brokers: o.brokers,
    topic: o.topic,
    clientId: `site-${o.siteId}/outbox`,
    log: o.log.child({ part: 'kafka' }),
  });
  const relay = new OutboxRelay({
    pool: o.pool,
    ship: async (events) => {
      await shipper.connect();
      await shipper.ship(events);
    },
    // A resync after an outage ships one batch per broker round trip (the relay waits for
    // every ack before the next read): 1,000 a batch, not the relay's default 100 (issue 9).
    batchSize: 1000,
    pollMs: 250,
    maxBackoffMs: 10_000,
    log: o.log.child({ part: 'outbox-relay' }),
  });
  return { shipper, relay };
}
