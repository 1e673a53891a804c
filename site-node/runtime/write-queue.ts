/**
 * Database writes that describe call progress run one after another, in the order the
 * facts happened, off the call-handling path: the ACD decides in microseconds and must not
 * wait for Postgres, but a call's `queued` row must still land before its `connected` row.
 *
 * A failed write is logged and counted and does not block the ones after it (each write is
 * its own transaction, so nothing is half-applied). `drain()` waits for everything queued;
 * shutdown calls it before closing the pool.
 */
import type { Logger } from '../../shared/log.js';

export class WriteQueue {
  private tail: Promise<void> = Promise.resolve();
  private queued = 0;
  failures = 0;
  completed = 0;

  constructor(private readonly log: Logger) {}

  /** Queue a write; the returned promise settles with it (and never rejects). */
  push(label: string, write: () => Promise<unknown>): Promise<void> {
    this.queued++;
    this.tail = this.tail.then(async () => {
      try {
        await write();
        this.completed++;
      } catch (e) {
        this.failures++;
        this.log.error('store write failed', { write: label, err: e });
      } finally {
        this.queued--;
      }
    });
    return this.tail;
  }

  get depth(): number {
    return this.queued;
  }

  drain(): Promise<void> {
    return this.tail;
  }
}
