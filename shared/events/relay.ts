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
import { markShipped, readUnshipped, type OutboxRow } from './outbox.js';

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
    await markShipped(
      this.opts.pool,
      batch.map((e) => e.id),
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

  private async run(): Promise<void> {
    while (this.running) {
      let delay: number;
      try {
        const n = await this.shipOnce();
        this.backoffMs = this.opts.minBackoffMs;
        if (n === this.opts.batchSize) continue; // more may be waiting
        delay = this.opts.pollMs;
      } catch (e) {
        this.stats.failures++;
        this.stats.lastError = e instanceof Error ? e.message : String(e);
        this.opts.log.warn('outbox ship failed; will retry', { err: e, inMs: this.backoffMs });
        delay = this.backoffMs;
        this.backoffMs = Math.min(this.opts.maxBackoffMs, this.backoffMs * 2);
      }
      if (!this.running) break;
      await this.sleep(delay);
    }
  }
}
