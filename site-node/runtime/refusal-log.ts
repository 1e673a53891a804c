/**
 * Callers refused before the site took the call, on their way to the store as `call.refused`
 * events (the day's offered and blocked counts are rebuilt from them: stats-rebuild.ts).
 *
 * A refusal is a write like any other and must not be lost while the store is away, but
 * neither may refusals fill the buffer they were refused to protect: while one batch waits in
 * the durable writes, later refusals join it, so an outage of any length costs the buffer
 * one write. A batch taken for writing is kept as is across retries (the same events, in one
 * transaction); refusals arriving meanwhile start the next batch.
 */
import type { RefusedCall, StoreContext } from '../store/index.js';
import type { DurableWrites } from './durable-writes.js';

export type TimedRefusal = RefusedCall & { atMs: number };

export class RefusalLog {
  private pending: TimedRefusal[] = [];
  private queued = false;

  constructor(
    private readonly writes: DurableWrites,
    private readonly record: (store: StoreContext, batch: readonly TimedRefusal[]) => Promise<unknown>,
    private readonly store: StoreContext,
  ) {}

  add(r: TimedRefusal): void {
    this.pending.push(r);
    if (this.queued) return;
    this.queued = true;
    let batch: TimedRefusal[] | undefined;
    void this.writes
      .push('refused calls', async () => {
        if (!batch) {
          batch = this.pending;
          this.pending = [];
          this.queued = false;
        }
        await this.record(this.store, batch);
      })
      .then(() => {
        // Given up on before it ran (shutdown): the refusals stay pending for the next write.
        if (!batch) this.queued = false;
      });
  }

  /** Refusals not yet taken into a write. */
  get waiting(): number {
    return this.pending.length;
  }
}
