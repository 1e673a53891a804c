/**
 * Group commit for events arriving on site links. Every site ships its outbox in small
 * batches and waits for each ack, so a hub serving a province sees hundreds of tiny batches a
 * second; one database statement each would make the database round trip the limit. Instead:
 * while one write is in flight, batches from all sites queue up; when it finishes, everything
 * queued goes in ONE write, and each batch is answered with its own counts. An idle hub writes
 * a batch at once (no timer, no added latency); a busy one writes more per statement.
 *
 * All or nothing per group: if the write fails (database down), every batch of the group is
 * failed and each site retries its own (nothing was stored). Batches are validated before
 * they are submitted, so one site's bad batch never fails another's.
 */
import type { EventEnvelope } from '../../shared/events/envelope.js';
import type { IngestResult } from '../ports.js';

export type IngestIds = (events: readonly EventEnvelope[], nowMs: number) => Promise<Set<string>>;

interface Pending {
  events: readonly EventEnvelope[];
  resolve: (r: IngestResult) => void;
  reject: (e: unknown) => void;
}

export class GroupCommit {
  private queue: Pending[] = [];
  private running = false;
  /** Writes done and batches carried, for tests and the benchmark. */
  readonly stats = { writes: 0, batches: 0, maxBatchesPerWrite: 0 };

  constructor(
    private readonly write: IngestIds,
    private readonly now: () => number,
    /** At most this many events per write; the rest waits for the next one. Default 5000. */
    private readonly maxEvents = 5000,
  ) {}

  submit(events: readonly EventEnvelope[]): Promise<IngestResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ events, resolve, reject });
      if (!this.running) void this.drain();
    });
  }

  private take(): Pending[] {
    let n = 0;
    let i = 0;
    while (i < this.queue.length && (i === 0 || n + this.queue[i]!.events.length <= this.maxEvents)) {
      n += this.queue[i]!.events.length;
      i++;
    }
    return this.queue.splice(0, i);
  }

  private async drain(): Promise<void> {
    this.running = true;
    try {
      while (this.queue.length > 0) {
        const group = this.take();
        this.stats.writes++;
        this.stats.batches += group.length;
        this.stats.maxBatchesPerWrite = Math.max(this.stats.maxBatchesPerWrite, group.length);
        try {
          const inserted = await this.write(
            group.flatMap((p) => p.events),
            this.now(),
          );
          // Each stored id counts once, for the first batch that carried it.
          const claimed = new Set<string>();
          for (const p of group) {
            let accepted = 0;
            for (const e of p.events) {
              if (inserted.has(e.id) && !claimed.has(e.id)) {
                claimed.add(e.id);
                accepted++;
              }
            }
            p.resolve({ accepted, duplicates: p.events.length - accepted });
          }
        } catch (e) {
          for (const p of group) p.reject(e);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
