/**
 * Which of the site's buffered writes may start now (docs/architecture.md §7.1): the pure
 * ordering rule that durable-writes.ts carries out. No I/O.
 *
 * Each write names its subject (`key`: a call, an agent, a ticket). Writes of one subject run
 * one at a time in the order they were pushed, so a call's `queued` row lands before its
 * `connected` row and its outbox events keep that order. Writes of different subjects share
 * nothing the store orders (shared/events/outbox.ts: order is per aggregate), so up to `limit`
 * of them run at once: one write at a time, each a few round trips to PostgreSQL, was what
 * bounded how many calls a site could take (docs/operations.md §8.7).
 *
 * A write with no subject is a barrier: it starts only once everything pushed before it has
 * settled, and nothing pushed after it starts before it has settled.
 */

export interface OrderedWrite {
  /** The write's subject; undefined for a barrier. */
  key: string | undefined;
  running: boolean;
}

/**
 * Indexes into `buffer` (oldest first) of the writes to start now, oldest first, given at
 * most `limit` running at once. Withdrawn writes are expected to be out of the buffer already.
 */
export function startable(buffer: readonly OrderedWrite[], limit: number): number[] {
  let slots = limit - buffer.filter((w) => w.running).length;
  const out: number[] = [];
  const busy = new Set<string>();
  for (let i = 0; i < buffer.length && slots > 0; i++) {
    const w = buffer[i]!;
    if (w.key === undefined) {
      // A barrier: it may start only at the head, and blocks everything behind it either way.
      if (i === 0 && !w.running) out.push(i);
      break;
    }
    if (!w.running && !busy.has(w.key)) {
      out.push(i);
      slots--;
    }
    busy.add(w.key);
  }
  return out;
}
