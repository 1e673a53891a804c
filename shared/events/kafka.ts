/**
 * Shipping outbox events to Kafka (docs/architecture.md §5, §7: Kafka is the production event backbone).
 * `KafkaEventShipper.ship` is an OutboxRelay `ShipFn`: it resolves only when the broker has
 * acknowledged EVERY message of the batch (acks=all, delivery reports), and rejects on any
 * delivery error or timeout, so the relay keeps the rows unshipped and retries the same batch.
 * A retry may re-send messages that did arrive; the hub dedupes on event id.
 *
 * Messages are keyed by aggregate id, so one call's (one agent's...) events land in one
 * partition in outbox order; the idempotent producer keeps that order across its own
 * internal retries and drops the duplicates those retries would otherwise cause.
 */
import Kafka from 'node-rdkafka';
import { silentLogger, type Logger } from '../log.js';
import { errorMessage, unavailable } from '../errors.js';
import type { EventEnvelope } from './envelope.js';
import type { OutboxRow } from './outbox.js';

/** The topic every site ships its events to; the hub consumes it. */
export const KAFKA_EVENTS_TOPIC = 'pcc.site-events';

export interface KafkaEventShipperOptions {
  /** `host:port[,host:port...]`. */
  brokers: string;
  topic?: string;
  /** Shown in broker logs and metrics, e.g. `site-cq/outbox`. */
  clientId: string;
  log?: Logger;
  /** A batch not fully acknowledged by then is failed (and retried by the relay); default 30 s. */
  deliveryTimeoutMs?: number;
  /** How often delivery reports are polled; default 20 ms. */
  pollIntervalMs?: number;
}

interface PendingBatch {
  remaining: number;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/** The message value: the envelope without the outbox's local `seq`. */
export function encodeEvent(e: EventEnvelope): Buffer {
  const env: EventEnvelope = {
    id: e.id,
    type: e.type,
    siteId: e.siteId,
    occurredAtMs: e.occurredAtMs,
    aggregateId: e.aggregateId,
    schemaVersion: e.schemaVersion,
    payload: e.payload,
  };
  return Buffer.from(JSON.stringify(env), 'utf8');
}

export class KafkaEventShipper {
  readonly topic: string;
  private readonly producer: Kafka.Producer;
  private readonly log: Logger;
  private readonly deliveryTimeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly pending = new Map<number, PendingBatch>();
  private nextBatch = 1;
  private connecting: Promise<void> | undefined;
  private connected = false;

  constructor(opts: KafkaEventShipperOptions) {
    this.topic = opts.topic ?? KAFKA_EVENTS_TOPIC;
    this.log = opts.log ?? silentLogger;
    this.deliveryTimeoutMs = opts.deliveryTimeoutMs ?? 30_000;
    this.pollIntervalMs = opts.pollIntervalMs ?? 20;
    this.producer = new Kafka.Producer(
      {
        'client.id': opts.clientId,
        'metadata.broker.list': opts.brokers,
        'enable.idempotence': true,
        dr_cb: true,
        // Small batches leave quickly: the relay waits for the acks before the next read.
        'linger.ms': 5,
      },
      {
        acks: -1, // all in-sync replicas
        // librdkafka gives up on a message after this and reports it failed: the relay retries.
        'message.timeout.ms': this.deliveryTimeoutMs,
      },
    );
    this.producer.on('delivery-report', (err, report) => this.onDelivery(err, report));
    this.producer.on('event.error', (err) => this.log.warn('kafka producer error', { err }));
  }

  get isConnected(): boolean {
    return this.connected;
  }

  /** Connect (idempotent); rejects `unavailable` when no broker answers within `timeoutMs`. */
  connect(timeoutMs = 10_000): Promise<void> {
    if (this.connected) return Promise.resolve();
    this.connecting ??= new Promise<void>((resolve, reject) => {
      this.producer.connect({ timeout: timeoutMs }, (err) => {
        if (err) {
          this.connecting = undefined;
          reject(unavailable(`kafka producer: cannot connect to brokers: ${errorMessage(err)}`, err));
          return;
        }
        this.connected = true;
        this.producer.setPollInterval(this.pollIntervalMs);
        resolve();
      });
    });
    return this.connecting;
  }

  /**
   * Wait (up to `flushTimeoutMs`) for messages in flight, then disconnect (idempotent).
   * Batches still unacknowledged are failed so their ship() callers are not left hanging.
   */
  async disconnect(flushTimeoutMs = 5_000): Promise<void> {
    if (this.connecting && !this.connected) await this.connecting.catch(() => {});
    if (!this.connected) return;
    this.connected = false;
    this.connecting = undefined;
    await new Promise<void>((resolve) => this.producer.flush(flushTimeoutMs, () => resolve()));
    this.producer.setPollInterval(0);
    for (const [id, p] of this.pending) this.settle(id, p, unavailable('kafka producer disconnected'));
    await new Promise<void>((resolve) => this.producer.disconnect(() => resolve()));
  }

  /** Produce the batch and resolve when every message is acknowledged (OutboxRelay ShipFn). */
  ship = (events: OutboxRow[]): Promise<void> => {
    if (events.length === 0) return Promise.resolve();
    if (!this.connected) return Promise.reject(unavailable('kafka producer is not connected'));
    const id = this.nextBatch++;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        const p = this.pending.get(id);
        if (p) {
          this.settle(
            id,
            p,
            unavailable(
              `kafka: ${p.remaining} of ${events.length} messages unacknowledged after ${this.deliveryTimeoutMs} ms`,
            ),
          );
        }
      }, this.deliveryTimeoutMs + 2_000);
      const batch: PendingBatch = { remaining: events.length, resolve, reject, timer };
      this.pending.set(id, batch);
      try {
        for (const e of events) {
          this.producer.produce(this.topic, null, encodeEvent(e), e.aggregateId, Date.now(), id);
        }
      } catch (err) {
        // e.g. the local queue is full: fail the batch; what was queued still goes out and
        // its copy in the retry is absorbed by the hub's dedupe.
        this.settle(id, batch, unavailable(`kafka: produce failed: ${errorMessage(err)}`, err));
      }
    });
  };

  private onDelivery(err: Kafka.LibrdKafkaError | null, report: Kafka.DeliveryReport): void {
    const id = typeof report.opaque === 'number' ? report.opaque : undefined;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (id === undefined || !p) return; // a batch already failed (timeout, produce error)
    if (err) {
      this.log.warn('kafka delivery failed', { topic: this.topic, err });
      this.settle(id, p, unavailable(`kafka: delivery failed: ${errorMessage(err)}`, err));
      return;
    }
    if (--p.remaining === 0) this.settle(id, p);
  }

  private settle(id: number, p: PendingBatch, err?: Error): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    if (err) p.reject(err);
    else p.resolve();
  }
}

/**
 * Create the topic if it does not exist (idempotent: "already exists" is success). Replication
 * factor 1 suits the single-broker test and demo setups; production creates topics by its
 * own provisioning.
 */
export async function ensureTopic(
  brokers: string,
  topic: string,
  partitions: number,
  timeoutMs = 10_000,
): Promise<void> {
  const admin = Kafka.AdminClient.create({
    'client.id': 'pcc-ensure-topic',
    'metadata.broker.list': brokers,
  });
  try {
    await new Promise<void>((resolve, reject) => {
      admin.createTopic({ topic, num_partitions: partitions, replication_factor: 1 }, timeoutMs, (err) => {
        if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) resolve();
        else reject(unavailable(`kafka: cannot create topic ${topic}: ${errorMessage(err)}`, err));
      });
    });
  } finally {
    admin.disconnect();
  }
}
