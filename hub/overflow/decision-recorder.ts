/**
 * Records routing decisions off the message path: `add` returns at once and the rows go to
 * the store in the background, everything pending in one write while the last one runs (so a
 * busy hub writes more per statement, as hub/ingest/group-commit.ts). A write starts
 * `lingerMs` (100 ms) after the first row of an idle recorder, not at once: each write is a
 * transaction (begin, fence, insert, commit), and one per decision at 100 requests a second
 * was a tenth of the hub's CPU in the overflow benchmark (docs/operations.md §8.6), time the
 * hub's links then waited for on a busy machine. Nothing reads the rows that soon (`fedctl
 * routes`; the log line of each decision is written at once).
 * A failed write is logged and its rows counted as lost: the decision was already carried out
 * (the request forwarded or refused), so a database that is down or slow must never hold up a
 * call, and the log line of each decision stays as its record. Pending rows are bounded
 * (`maxPending`, the oldest dropped and counted) so an outage cannot grow the hub's memory.
 */
import type { Logger } from '../../shared/log.js';
import type { OverflowDecisionRow, OverflowDecisionStore } from '../ports.js';

export const DEFAULT_MAX_PENDING_DECISIONS = 10_000;
export const DEFAULT_DECISION_LINGER_MS = 100;
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
    private readonly lingerMs = DEFAULT_DECISION_LINGER_MS,
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
      if (this.lingerMs > 0) await new Promise((r) => setTimeout(r, this.lingerMs));
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
