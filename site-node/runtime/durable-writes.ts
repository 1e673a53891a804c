/**
 * The site's store writes, durable or refused, never dropped (docs/architecture.md §7.1).
 *
 * Writes run off the call-handling path: the ACD decides in microseconds and must not wait for
 * Postgres. Each write is about a subject (a call, an agent, a ticket) and is its own
 * transaction with its outbox events; the writes of one subject run one after another in the
 * order they were pushed (a call's `queued` row lands before its `connected` row), those of
 * different subjects up to `concurrency` at once (write-order.ts).
 *
 * While the database is away a write fails with a transient error (write-policy.ts) and stays
 * in its place; after a backoff the oldest waiting write probes the store, alone, until one
 * lands; every later write of its subject waits behind it. A permanent failure (a constraint, a bug) is logged with the write's
 * label, counted and passed over: retrying it would block every later write forever.
 * The store going away and coming back is one log line each, not one per write.
 *
 * The buffer is bounded through admission: `admissionOpen` closes (the call flow refuses new
 * callers with busy) once it holds `capacity` writes, or `closeWhileDownAt` while the store is
 * down. The writes of calls already taken are never refused: each has only a few left.
 *
 * `commit(label, write, waitMs)` is for a fact someone is about to be told about (a call's
 * first row, a ticket the caller will hear is recorded): it resolves `written` once the write
 * committed, or `withdrawn` if it had not by `waitMs`, in which case it is taken out of the
 * buffer and will never run, so "not recorded" stays true.
 */
import type { Logger } from '../../shared/log.js';
import {
  admissionOpen,
  classifyWriteError,
  DEFAULT_BACKOFF,
  retryDelayMs,
  type AdmissionPolicy,
  type BackoffPolicy,
} from './write-policy.js';
import { startable } from './write-order.js';

export type WriteOutcome = 'written' | 'failed' | 'withdrawn';

interface Entry {
  label: string;
  /** The write's subject (write-order.ts); undefined: a barrier. */
  key: string | undefined;
  write: () => Promise<unknown>;
  settle: (o: WriteOutcome) => void;
  running: boolean;
  /** Taken back by its `commit` bound: skipped if not started, not retried if it was. */
  withdrawn: boolean;
}

export interface DurableWritesOptions {
  log: Logger;
  admission: AdmissionPolicy;
  backoff?: BackoffPolicy;
  /**
   * Waits (between tries, a `commit`'s bound, the shutdown bound). Wall-clock by default: a
   * sped-up simulation must not probe the database faster. Unit tests pass one they control.
   */
  pause?: (ms: number) => Promise<void>;
  /** Wall-clock time, for how long the store was away. */
  now?: () => number;
  /**
   * Writes of different subjects running at once (write-order.ts); default 1, one at a time.
   * Each holds a connection of the site's pool while it runs.
   */
  concurrency?: number;
}

export class DurableWrites {
  private readonly buffer: Entry[] = [];
  /** Waiting out a transient failure before the next try: nothing starts meanwhile. */
  private backingOff = false;
  /** Transient failures since the last write landed (the backoff's exponent). */
  private failedTries = 0;
  private idle: Array<() => void> = [];
  private downSinceMs: number | undefined;
  private abandoned = false;
  /** Writes given up on for a permanent error (and, at shutdown, those never written). */
  failures = 0;
  completed = 0;
  /** Tries that failed transiently and were retried. */
  retries = 0;

  private readonly concurrency: number;

  constructor(private readonly o: DurableWritesOptions) {
    this.concurrency = Math.max(1, o.concurrency ?? 1);
  }

  /**
   * Queue a write about `key` (a call, an agent, a ticket: write-order.ts); without one it is a
   * barrier. The promise settles with its outcome (and never rejects).
   */
  push(label: string, write: () => Promise<unknown>, key?: string): Promise<WriteOutcome> {
    return this.enqueue(label, write, key).done;
  }

  /**
   * Queue a write and wait at most `waitMs` for it to commit; if it has not, withdraw it
   * (it will not run later). A write already running when the bound passes is waited for:
   * its transaction either committed or not, and the answer says which. That wait is bounded
   * by the site's pool (site-node/store/site-pool.ts): a query unanswered for
   * `store.queryTimeout` fails, transiently, and the withdrawn write is then not tried again.
   */
  async commit(
    label: string,
    write: () => Promise<unknown>,
    waitMs: number,
    key?: string,
  ): Promise<WriteOutcome> {
    const { entry, done } = this.enqueue(label, write, key);
    const bound = this.pause(waitMs).then(() => 'bound' as const);
    const first = await Promise.race([done, bound]);
    if (first !== 'bound') return first;
    entry.withdrawn = true;
    if (entry.running) return done;
    this.remove(entry);
    entry.settle('withdrawn');
    return 'withdrawn';
  }

  /** Writes waiting or running. */
  get depth(): number {
    return this.buffer.length;
  }

  get storeUp(): boolean {
    return this.downSinceMs === undefined;
  }

  get capacity(): number {
    return this.o.admission.capacity;
  }

  /** May the site take a new call (write-policy.ts `admissionOpen`)? */
  get admissionOpen(): boolean {
    return (
      !this.abandoned && admissionOpen({ buffered: this.depth, storeUp: this.storeUp }, this.o.admission)
    );
  }

  /** Resolves once every write pushed so far has settled. */
  drain(): Promise<void> {
    if (this.buffer.length === 0) return Promise.resolve();
    return new Promise((r) => this.idle.push(r));
  }

  /**
   * Shutdown: wait up to `boundMs` for the buffer to empty; then stop retrying and log, once,
   * what could not be written (each write's label). Returns how many were left.
   */
  async drainWithin(boundMs: number): Promise<number> {
    await Promise.race([this.drain(), this.pause(boundMs)]);
    const count = this.buffer.length;
    if (count === 0) return 0;
    this.abandoned = true;
    const left = this.buffer.filter((e) => !e.running);
    this.o.log.error('store writes not written at shutdown; recovery closes their calls at the next start', {
      count,
      writes: this.buffer.map((e) => e.label),
    });
    for (const e of left) {
      this.remove(e);
      this.failures++;
      e.settle('failed');
    }
    return count;
  }

  private enqueue(
    label: string,
    write: () => Promise<unknown>,
    key: string | undefined,
  ): { entry: Entry; done: Promise<WriteOutcome> } {
    let settle!: (o: WriteOutcome) => void;
    const done = new Promise<WriteOutcome>((r) => (settle = r));
    const entry: Entry = { label, key, write, settle, running: false, withdrawn: false };
    if (this.abandoned) {
      this.failures++;
      this.o.log.error('store write refused: the site has stopped writing', { write: label });
      settle('failed');
      return { entry, done };
    }
    this.buffer.push(entry);
    this.pump();
    return { entry, done };
  }

  private remove(entry: Entry): void {
    const i = this.buffer.indexOf(entry);
    if (i >= 0) this.buffer.splice(i, 1);
    if (this.buffer.length === 0) this.wakeIdle();
  }

  private wakeIdle(): void {
    const waiting = this.idle;
    this.idle = [];
    for (const w of waiting) w();
  }

  /** Start every write the order allows (write-order.ts), unless waiting out a failure. */
  private pump(): void {
    if (this.abandoned || this.backingOff) return;
    // Buffer order is push order; withdrawn writes not yet started are dropped here.
    for (const e of this.buffer.filter((x) => x.withdrawn && !x.running)) this.remove(e);
    // While the store is away one write probes it at a time: the oldest waiting.
    const limit = this.storeUp ? this.concurrency : 1;
    // Entries, not indexes: a write that throws at once settles (and pumps again) inside run.
    const starts = startable(this.buffer, limit).map((i) => this.buffer[i]!);
    for (const e of starts) if (!e.running && this.buffer.includes(e)) void this.run(e);
  }

  private async run(entry: Entry): Promise<void> {
    entry.running = true;
    try {
      await entry.write();
    } catch (e) {
      entry.running = false;
      this.failed(entry, e);
      return;
    }
    entry.running = false;
    this.storeCameBack();
    this.completed++;
    this.failedTries = 0;
    this.remove(entry);
    entry.settle('written');
    this.pump();
  }

  private failed(entry: Entry, e: unknown): void {
    if (classifyWriteError(e) === 'permanent') {
      this.failures++;
      this.o.log.error('store write failed for good; passed over', { write: entry.label, err: e });
      this.remove(entry);
      entry.settle('failed');
      this.pump();
      return;
    }
    this.retries++;
    this.failedTries++;
    this.storeWentAway(e);
    if (entry.withdrawn) {
      // Its caller gave up waiting and was told it is not recorded: it must not land later.
      this.remove(entry);
      entry.settle('withdrawn');
    } else if (this.abandoned) {
      // Shutdown gave up while this write was running (drainWithin settles only those
      // waiting, and named this one in its log line): it is not tried again, and whoever
      // waits for it must hear so rather than wait forever.
      this.remove(entry);
      this.failures++;
      entry.settle('failed');
    }
    // It stays in its place otherwise: nothing of its subject overtakes it. One wait at a time,
    // however many writes that were running failed with it.
    if (this.backingOff) return;
    this.backingOff = true;
    void this.pause(retryDelayMs(this.failedTries, this.o.backoff ?? DEFAULT_BACKOFF)).then(() => {
      this.backingOff = false;
      this.pump();
    });
  }

  private storeWentAway(e: unknown): void {
    if (this.downSinceMs !== undefined) return;
    this.downSinceMs = this.now();
    this.o.log.warn('store unreachable: writes wait in the buffer and are retried in order', {
      buffered: this.buffer.length,
      capacity: this.o.admission.capacity,
      err: e,
    });
  }

  private storeCameBack(): void {
    if (this.downSinceMs === undefined) return;
    this.o.log.info('store is back: buffered writes are landing in order', {
      waiting: this.buffer.length,
      downForMs: this.now() - this.downSinceMs,
    });
    this.downSinceMs = undefined;
  }

  private now(): number {
    return (this.o.now ?? Date.now)();
  }

  private pause(ms: number): Promise<void> {
    if (this.o.pause) return this.o.pause(ms);
    // Unref'd: a bound still pending must not keep a stopped process alive.
    return new Promise((r) => setTimeout(r, ms).unref());
  }
}
