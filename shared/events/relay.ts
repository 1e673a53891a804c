/**
 * The outbox relay: reads unshipped events in seq order, hands a batch to `ship`, and marks
 * the batch shipped only after `ship` resolved (at-least-once; consumers dedupe on event id).
 * A failing `ship` is retried with capped exponential backoff on the SAME batch, starting
 * from the oldest unshipped event, so nothing is lost or reordered. Run one relay per outbox.
 *
 *   stopped --start()--> running --stop()--> stopped      (both idempotent)
 *   running: read batch -> [empty: sleep pollMs | ship -> mark -> loop | fail: sleep backoff]
 *
 * `notify()` wakes a sleeping relay early (call it after committing a write); `flush()`
 * ships everything currently unshipped and resolves when the outbox is empty (shutdown:
 * "flush the outbox", docs/architecture.md §3.7).
 */
import type pg from 'pg';
import { silentLogger, type Logger } from '../log.js';
import { markShippedSeqs, readUnshipped, type OutboxRow } from './outbox.js';

export type ShipFn = (events: OutboxRow[]) => Promise<void>;

export interface OutboxRelayOptions {
  pool: pg.Pool;
  ship: ShipFn;
  /** Events per ship call; default 100. */
  batchSize?: number;
  /** Sleep when the outbox is empty; default 500 ms. */
  pollMs?: number;
  /** First retry delay after a failed ship or read; default 200 ms, doubling up to maxBackoffMs. */
  minBackoffMs?: number;
  /** Default 30 s. */
  maxBackoffMs?: number;
  log?: Logger;
}

export interface RelayStats {
  shipped: number;
  failures: number;
  lastError: string | undefined;
}

export class OutboxRelay {
  private readonly opts: Required<Omit<OutboxRelayOptions, 'log'>> & { log: Logger };
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private timer: NodeJS.Timeout | undefined;
  private woken = false;
  private backoffMs: number;
  readonly stats: RelayStats = { shipped: 0, failures: 0, lastError: undefined };

  constructor(opts: OutboxRelayOptions) {
    this.opts = {
      batchSize: 100,
      pollMs: 500,
      minBackoffMs: 200,
      maxBackoffMs: 30_000,
      log: silentLogger,
      ...opts,
    };
    if (this.opts.batchSize < 1) throw new RangeError('OutboxRelay: batchSize must be >= 1');
    this.backoffMs = this.opts.minBackoffMs;
  }

  get isRunning(): boolean {
    return this.running;
  }

  /**
   * True while the loop sleeps out `pollMs` or a backoff, i.e. until `notify()` or the timer
   * wakes it. Observable so a test can wait for the sleep itself, rather than for a guess at
   * how long the first poll takes, before it proves that `notify()` wakes the relay.
   */
  get isSleeping(): boolean {
    return this.wake !== undefined;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /** Stop after the batch in flight (if any) finishes; resolves when the loop has exited. */
  async stop(): Promise<void> {
    if (!this.running) {
      await this.loop;
      return;
    }
    this.running = false;
    this.notify();
    await this.loop;
  }

  /** Wake the loop now instead of at the end of its sleep. */
  notify(): void {
    const w = this.wake;
    if (!w) this.woken = true; // not sleeping: skip the next sleep
    this.wake = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    w?.();
  }

  /**
   * Ship one batch now. Returns how many events were shipped (0 when the outbox was empty).
   * Throws what `ship` threw; nothing is marked shipped in that case.
   */
  async shipOnce(): Promise<number> {
    const batch = await readUnshipped(this.opts.pool, this.opts.batchSize);
    if (batch.length === 0) return 0;
    await this.opts.ship(batch);
    await markShippedSeqs(
      this.opts.pool,
      batch.map((e) => e.seq),
    );
    this.stats.shipped += batch.length;
    return batch.length;
  }

  /** Ship until the outbox is empty. Throws on the first failed ship. Use when stopped. */
  async flush(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.shipOnce();
      total += n;
      if (n === 0) return total;
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.woken) {
      this.woken = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      this.wake = resolve;
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.wake = undefined;
        resolve();
      }, ms);
    });
  }

  /**
   * One batch in flight, so the order holds and a failed batch is the next one shipped; while
   * it is in flight the next is read (leaving out its rows, not marked yet) and the one before
   * is marked shipped, so a backlog costs one `ship` per batch and nothing more (issue 9).
   */
  private async run(): Promise<void> {
    const size = this.opts.batchSize;
    /** The batch after the one in flight, read ahead. */
    let next: Promise<OutboxRow[]> | undefined;
    /** The last shipped batch being marked (never rejects). */
    let marking: Promise<void> = Promise.resolve();
    while (this.running) {
      let delay: number;
      try {
        // A read from the oldest waits for the marks, or it would read shipped rows again.
        const batch = await (next ?? marking.then(() => readUnshipped(this.opts.pool, size)));
        next = undefined;
        if (batch.length > 0) {
          const shipping = this.opts.ship(batch);
          if (batch.length === size) {
            const inFlight = batch.map((e) => e.seq);
            next = marking.then(() => readUnshipped(this.opts.pool, size, inFlight));
            next.catch(() => undefined); // awaited next time round, or dropped on a failure
          }
          await shipping;
          const mark = markShippedSeqs(
            this.opts.pool,
            batch.map((e) => e.seq),
          ).then(
            () => void (this.stats.shipped += batch.length),
            // Shipped but not marked: they go again and consumers dedupe them.
            (e: unknown) =>
              this.opts.log.warn('marking events shipped failed; they will go again', { err: e }),
          );
          // Joined to the marks still running, not in place of them: a read from the oldest that
          // waited only for the newest mark would find a slower earlier batch unshipped and send
          // it again (the hub link had the same bug, site-node/link/hub-link.ts).
          marking = Promise.all([marking, mark]).then(() => undefined);
        }
        this.backoffMs = this.opts.minBackoffMs;
        if (batch.length === size) continue; // more may be waiting
        delay = this.opts.pollMs;
      } catch (e) {
        next = undefined;
        this.stats.failures++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        this.opts.log.warn('outbox ship failed; will retry', { err: e, inMs: this.backoffMs });
        delay = this.backoffMs;
        this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs * 2);
      }
      if (!this.running) break;
      await this.sleep(delay);
    }
    await marking;
  }
}
