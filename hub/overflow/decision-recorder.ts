/**
 * Records routing decisions off the message path: `add` returns at once and the rows go to
 * the store in the background, everything pending in one write while the last one runs (so a
 * busy hub writes more per statement, an idle one at once, as hub/ingest/group-commit.ts).
 * A failed write is logged and its rows counted as lost: the decision was already carried out
 * (the request forwarded or refused), so a database that is down or slow must never hold up a
 * call, and the log line of each decision stays as its record. Pending rows are bounded
 * (`maxPending`, the oldest dropped and counted) so an outage cannot grow the hub's memory.
 */
import type { Logger } from '../../shared/log.js';
import type { OverflowDecisionRow, OverflowDecisionStore } from '../ports.js';

export const DEFAULT_MAX_PENDING_DECISIONS = 10_000;
const MAX_ROWS_PER_WRITE = 500;

export class DecisionRecorder {
  private pending: OverflowDecisionRow[] = [];
  private running: Promise<void> | undefined;
  /** Rows written, and rows lost (a failed write, or dropped past `maxPending`). */
  readonly stats = { written: 0, failed: 0 };

  constructor(
    private readonly store: OverflowDecisionStore,
    private readonly log: Logger,
    private readonly maxPending = DEFAULT_MAX_PENDING_DECISIONS,
  ) {}

  add(row: OverflowDecisionRow): void {
    if (this.pending.length >= this.maxPending) {
      this.pending.shift();
      this.stats.failed++;
    }
    this.pending.push(row);
    this.running ??= this.drain();
  }

  /** Resolves when nothing is pending (tests, stop). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private async drain(): Promise<void> {
    try {
      while (this.pending.length > 0) {
        const rows = this.pending.splice(0, MAX_ROWS_PER_WRITE);
        try {
          await this.store.record(rows);
          this.stats.written += rows.length;
        } catch (e) {
          this.stats.failed += rows.length;
          this.log.warn('overflow decisions not recorded', {
            count: rows.length,
            requestIds: rows.slice(0, 10).map((r) => r.requestId),
            failedSoFar: this.stats.failed,
            err: e,
          });
        }
      }
    } finally {
      this.running = undefined;
    }
  }
}
