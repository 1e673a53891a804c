/**
 * The site's store writes, durable or refused, never dropped (docs/architecture.md §7.1).
 *
 * Writes run one after another in the order they were pushed, off the call-handling path:
 * the ACD decides in microseconds and must not wait for Postgres, but a call's `queued` row
 * must land before its `connected` row. Each write stays its own transaction (with its outbox
 * event), so a later write never overtakes an earlier one and the outbox keeps their order.
 *
 * While the database is away the write at the head fails with a transient error
 * (write-policy.ts) and is tried again, with backoff, until it lands; everything behind it
 * waits in the buffer. A permanent failure (a constraint, a bug) is logged with the write's
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

export type WriteOutcome = 'written' | 'failed' | 'withdrawn';

interface Entry {
  label: string;
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
}

export class DurableWrites {
  private readonly buffer: Entry[] = [];
  private pumping = false;
  private idle: Array<() => void> = [];
  private downSinceMs: number | undefined;
  private abandoned = false;
  /** Writes given up on for a permanent error (and, at shutdown, those never written). */
  failures = 0;
  completed = 0;
  /** Tries that failed transiently and were retried. */
  retries = 0;

  constructor(private readonly o: DurableWritesOptions) {}

  /** Queue a write; the promise settles with its outcome (and never rejects). */
  push(label: string, write: () => Promise<unknown>): Promise<WriteOutcome> {
    return this.enqueue(label, write).done;
  }

  /**
   * Queue a write and wait at most `waitMs` for it to commit; if it has not, withdraw it
   * (it will not run later). A write already running when the bound passes is waited for:
   * its transaction either committed or not, and the answer says which. That wait is bounded
   * by the site's pool (site-node/store/site-pool.ts): a query unanswered for
   * `store.queryTimeout` fails, transiently, and the withdrawn write is then not tried again.
   */
  async commit(label: string, write: () => Promise<unknown>, waitMs: number): Promise<WriteOutcome> {
    const { entry, done } = this.enqueue(label, write);
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
  ): { entry: Entry; done: Promise<WriteOutcome> } {
    let settle!: (o: WriteOutcome) => void;
    const done = new Promise<WriteOutcome>((r) => (settle = r));
    const entry: Entry = { label, write, settle, running: false, withdrawn: false };
    if (this.abandoned) {
      this.failures++;
      this.o.log.error('store write refused: the site has stopped writing', { write: label });
      settle('failed');
      return { entry, done };
    }
    this.buffer.push(entry);
    void this.pump();
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

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      let failedTries = 0;
      while (this.buffer.length > 0 && !this.abandoned) {
        const head = this.buffer[0]!;
        if (head.withdrawn && !head.running) {
          this.remove(head);
          continue;
        }
        head.running = true;
        try {
          await head.write();
        } catch (e) {
          head.running = false;
          if (classifyWriteError(e) === 'permanent') {
            this.failures++;
            this.o.log.error('store write failed for good; passed over', { write: head.label, err: e });
            this.remove(head);
            head.settle('failed');
            failedTries = 0;
            continue;
          }
          this.retries++;
          failedTries++;
          this.storeWentAway(e);
          if (head.withdrawn) {
            // Its caller gave up waiting and was told it is not recorded: it must not land later.
            this.remove(head);
            head.settle('withdrawn');
            continue;
          }
          if (this.abandoned) {
            // Shutdown gave up while this write was running (drainWithin settles only those
            // waiting, and named this one in its log line): it is not tried again, and whoever
            // waits for it must hear so rather than wait forever.
            this.remove(head);
            this.failures++;
            head.settle('failed');
            continue;
          }
          await this.pause(retryDelayMs(failedTries, this.o.backoff ?? DEFAULT_BACKOFF));
          continue;
        }
        head.running = false;
        this.storeCameBack();
        this.completed++;
        failedTries = 0;
        this.remove(head);
        head.settle('written');
      }
    } finally {
      this.pumping = false;
    }
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
