/**
 * The hub's Kafka consumer (docs/architecture.md §5, §7): reads site events from the events topic and
 * stores them through the IngestStore. At-least-once: offsets are committed only AFTER the
 * store has committed the batch; a crash in between redelivers the batch and the store
 * counts the copies as duplicates (it dedupes on event id).
 *
 *   stopped --start()--> running --stop()--> stopped          (both idempotent)
 *   running: consume <= batchSize -> decode -> ingest -> commit -> loop
 *            ingest failed (database down): keep the batch, back off, ingest it again;
 *            nothing is committed until it succeeds, so stopping meanwhile loses nothing.
 *            Retrying past max.poll.interval drops the consumer from its group; its next
 *            poll rejoins and the uncommitted batch comes again (counted as duplicates).
 *
 * A message that is not a valid envelope (not JSON, wrong shape) can never succeed, so it is
 * logged with its topic/partition/offset, counted as rejected and committed past: one bad
 * producer must not stall a partition for every site behind it. A batch the store refuses as
 * invalid (e.g. a payload Postgres cannot hold) is retried one event at a time so only the
 * culprit is rejected.
 */
import Kafka from 'node-rdkafka';
import { systemClock, type Clock } from '../../shared/clock.js';
import { errorMessage, isDomainError, unavailable } from '../../shared/errors.js';
import { parseEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import { KAFKA_EVENTS_TOPIC } from '../../shared/events/kafka.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { IngestStore } from '../ports.js';

export interface KafkaIngestConsumerOptions {
  /** `host:port[,host:port...]`. */
  brokers: string;
  topic?: string;
  groupId: string;
  store: IngestStore;
  log?: Logger;
  /** Most messages per consume and per ingest transaction; default 500. */
  batchSize?: number;
  clientId?: string;
  clock?: Clock;
  /** First retry delay after a failed ingest; default 200 ms, doubling up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Default 10 s. */
  maxBackoffMs?: number;
  /** How long one consume call waits for messages; default 100 ms (bounds stop() latency). */
  consumeTimeoutMs?: number;
  /**
   * librdkafka's max.poll.interval.ms (default 300 s) and session.timeout.ms (default 45 s):
   * a consumer that retries one batch longer than the poll interval (the hub's database down)
   * leaves the group and rejoins on its next poll; tests shorten both to see it happen.
   */
  maxPollIntervalMs?: number;
  sessionTimeoutMs?: number;
}

export interface KafkaIngestStats {
  /** Events newly stored. */
  ingested: number;
  /** Events the store already had (replays, redeliveries). */
  duplicates: number;
  /** Messages that were not valid events (logged with their offsets, then skipped). */
  rejected: number;
  /** Failed ingest attempts (each retried). */
  failures: number;
  /**
   * Times the consumer was dropped from its group for not polling within max.poll.interval
   * (one batch retried that long: the database was down). It rejoins on its next poll; the
   * batch, never committed, comes again and its copies count as duplicates.
   */
  leftGroup: number;
  lastError: string | undefined;
  /** When the last batch was stored (clock time). */
  lastIngestAtMs: number | undefined;
  /** For the last batch: store commit time minus the oldest message's Kafka timestamp. */
  lagMs: number | undefined;
}

interface Decoded {
  events: EventEnvelope[];
  /** Next offset to commit per topic/partition. */
  commits: Kafka.TopicPartitionOffset[];
  oldestTimestampMs: number | undefined;
}

export class KafkaIngestConsumer {
  readonly stats: KafkaIngestStats = {
    ingested: 0,
    duplicates: 0,
    rejected: 0,
    failures: 0,
    leftGroup: 0,
    lastError: undefined,
    lastIngestAtMs: undefined,
    lagMs: undefined,
  };
  private readonly topic: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly batchSize: number;
  private readonly minBackoffMs: number;
  private readonly maxBackoffMs: number;
  private consumer: Kafka.KafkaConsumer | undefined;
  private running = false;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  private lastCommits: Kafka.TopicPartitionOffset[] = [];
  private wake: (() => void) | undefined;

  constructor(private readonly opts: KafkaIngestConsumerOptions) {
    this.topic = opts.topic ?? KAFKA_EVENTS_TOPIC;
    this.log = (opts.log ?? silentLogger).child({ topic: this.topic, groupId: opts.groupId });
    this.clock = opts.clock ?? systemClock;
    this.batchSize = opts.batchSize ?? 500;
    this.minBackoffMs = opts.minBackoffMs ?? 200;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    if (this.batchSize < 1) throw new RangeError('KafkaIngestConsumer: batchSize must be >= 1');
  }

  get isRunning(): boolean {
    return this.running;
  }

  /** Connect, join the group and start consuming (idempotent). Rejects when no broker answers. */
  start(timeoutMs = 10_000): Promise<void> {
    if (this.running) return Promise.resolve();
    this.starting ??= this.connect(timeoutMs).finally(() => {
      this.starting = undefined;
    });
    return this.starting;
  }

  /**
   * Finish the batch in flight (its ingest, or its retries are abandoned uncommitted), commit
   * what was stored, leave the group, disconnect. Idempotent.
   */
  stop(): Promise<void> {
    this.stopping ??= this.shutdown().finally(() => {
      this.stopping = undefined;
    });
    return this.stopping;
  }

  private async shutdown(): Promise<void> {
    await this.starting?.catch(() => {});
    if (!this.running) {
      await this.loop;
      return;
    }
    this.running = false;
    this.wake?.();
    await this.loop;
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    if (this.lastCommits.length > 0) {
      // The loop's commits are asynchronous; make sure the last one reached the broker.
      try {
        consumer.commitSync(this.lastCommits);
      } catch (e) {
        this.log.warn('final offset commit failed (the batch will be redelivered)', { err: e });
      }
      this.lastCommits = [];
    }
    await new Promise<void>((resolve) => consumer.disconnect(() => resolve()));
  }

  private async connect(timeoutMs: number): Promise<void> {
    const consumer = new Kafka.KafkaConsumer(
      {
        'group.id': this.opts.groupId,
        'client.id': this.opts.clientId ?? `hub-ingest-${this.opts.groupId}`,
        'metadata.broker.list': this.opts.brokers,
        'enable.auto.commit': false,
        'enable.auto.offset.store': false,
        ...(this.opts.maxPollIntervalMs === undefined
          ? {}
          : { 'max.poll.interval.ms': this.opts.maxPollIntervalMs }),
        ...(this.opts.sessionTimeoutMs === undefined
          ? {}
          : { 'session.timeout.ms': this.opts.sessionTimeoutMs }),
      },
      { 'auto.offset.reset': 'earliest' },
    );
    consumer.on('event.error', (err) => this.log.warn('kafka consumer error', { err }));
    consumer.setDefaultConsumeTimeout(this.opts.consumeTimeoutMs ?? 100);
    await new Promise<void>((resolve, reject) => {
      consumer.connect({ timeout: timeoutMs }, (err) =>
        err
          ? reject(unavailable(`kafka consumer: cannot connect to brokers: ${errorMessage(err)}`, err))
          : resolve(),
      );
    });
    consumer.subscribe([this.topic]);
    this.consumer = consumer;
    this.running = true;
    this.loop = this.run(consumer);
  }

  private consumeBatch(consumer: Kafka.KafkaConsumer): Promise<Kafka.Message[]> {
    return new Promise((resolve, reject) => {
      consumer.consume(this.batchSize, (err, messages) => (err ? reject(err) : resolve(messages)));
    });
  }

  private async run(consumer: Kafka.KafkaConsumer): Promise<void> {
    let backoff = this.minBackoffMs;
    while (this.running) {
      let messages: Kafka.Message[];
      try {
        messages = await this.consumeBatch(consumer);
      } catch (e) {
        this.stats.lastError = errorMessage(e);
        if ((e as { code?: unknown }).code === Kafka.CODES.ERRORS.ERR__MAX_POLL_EXCEEDED) {
          // The next poll rejoins; nothing was committed, so nothing is lost.
          this.stats.leftGroup++;
          this.log.warn('left the consumer group (one batch retried past max.poll.interval); rejoining', {
            err: e,
          });
        } else {
          this.log.warn('kafka consume failed; will retry', { err: e, inMs: backoff });
        }
        await this.sleep(backoff);
        backoff = Math.min(this.maxBackoffMs, backoff * 2);
        continue;
      }
      backoff = this.minBackoffMs;
      if (messages.length === 0) continue;
      const batch = this.decode(messages);
      if (!(await this.ingestUntilStored(batch))) return; // stopped while failing: no commit
      try {
        consumer.commit(batch.commits);
        this.lastCommits = batch.commits;
      } catch (e) {
        // e.g. the partition was revoked meanwhile: its new owner re-reads the batch and the
        // store absorbs the copies. Not worth stopping for.
        this.log.warn('offset commit failed (the batch may be redelivered)', { err: e });
      }
    }
  }

  /** Parse messages into envelopes; the unparseable are logged and counted, never retried. */
  private decode(messages: readonly Kafka.Message[]): Decoded {
    const events: EventEnvelope[] = [];
    const next = new Map<string, Kafka.TopicPartitionOffset>();
    let oldest: number | undefined;
    for (const m of messages) {
      const key = `${m.topic}\u0000${m.partition}`;
      const prev = next.get(key);
      if (!prev || prev.offset < m.offset + 1)
        next.set(key, { topic: m.topic, partition: m.partition, offset: m.offset + 1 });
      if (m.timestamp !== undefined && m.timestamp > 0) oldest = Math.min(oldest ?? m.timestamp, m.timestamp);
      try {
        if (!m.value) throw new Error('empty message');
        events.push(parseEvent(JSON.parse(m.value.toString('utf8')) as unknown));
      } catch (e) {
        this.reject(m, e);
      }
    }
    return { events, commits: [...next.values()], oldestTimestampMs: oldest };
  }

  private reject(m: Pick<Kafka.Message, 'topic' | 'partition' | 'offset'>, e: unknown): void {
    this.stats.rejected++;
    this.log.warn('kafka message rejected: not a valid event', {
      topic: m.topic,
      partition: m.partition,
      offset: m.offset,
      err: e,
    });
  }

  /** Store the batch, retrying with backoff until it is stored (true) or we are stopped (false). */
  private async ingestUntilStored(batch: Decoded): Promise<boolean> {
    let backoff = this.minBackoffMs;
    for (;;) {
      try {
        await this.ingest(batch.events);
        const now = this.clock.now();
        this.stats.lastIngestAtMs = now;
        if (batch.oldestTimestampMs !== undefined) this.stats.lagMs = now - batch.oldestTimestampMs;
        return true;
      } catch (e) {
        this.stats.failures++;
        this.stats.lastError = errorMessage(e);
        this.log.warn('ingest failed; retrying the same batch', {
          err: e,
          events: batch.events.length,
          inMs: backoff,
        });
      }
      if (!this.running) return false;
      await this.sleep(backoff);
      if (!this.running) return false;
      backoff = Math.min(this.maxBackoffMs, backoff * 2);
    }
  }

  private async ingest(events: readonly EventEnvelope[]): Promise<void> {
    if (events.length === 0) return;
    try {
      this.count(await this.opts.store.ingest(events, 'kafka', this.clock.now()));
    } catch (e) {
      if (!isDomainError(e, 'invalid-argument') || events.length === 1) {
        if (isDomainError(e, 'invalid-argument')) {
          // One event the store can never take (it passed parseEvent): skip it, like garbage.
          this.stats.rejected++;
          this.log.warn('kafka event refused by the store', { eventId: events[0]?.id, err: e });
          return;
        }
        throw e;
      }
      // Find the culprit: one event at a time (other errors still fail the whole retry).
      for (const ev of events) await this.ingest([ev]);
    }
  }

  private count(r: { accepted: number; duplicates: number }): void {
    this.stats.ingested += r.accepted;
    this.stats.duplicates += r.duplicates;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.wake = undefined;
        resolve();
      }, ms);
      this.wake = () => {
        clearTimeout(t);
        this.wake = undefined;
        resolve();
      };
    });
  }
}
