/**
 * How long a caller who arrives while a queue is closed waits to be moved to another site
 * (the ACD queue's `closedOverflowWaitMs`, docs/architecture.md §4.4, §5.9), derived from the
 * topology the site runs. Pure: the policies and the queues' configured values in, one value
 * per queue out; the runtime applies it whenever it adopts a topology (overflow-wiring.ts).
 *
 * Why derived and not only configured: an `afterHours` policy can fire only while a closed
 * queue holds its callers (without a wait the ACD turns them away on arrival), and whether
 * such a policy exists is the province's decision, pushed as topology, not the site's file.
 *
 * - A queue a policy `from` this site covers with `when.afterHours`: the configured value
 *   when the site's config sets one, else DEFAULT_CLOSED_OVERFLOW_WAIT_MS.
 * - Any other queue: the configured value (none by default: turned away at once, as before).
 */
import type { OverflowPolicy } from '../../shared/topology/schema.js';

/**
 * 12 s: room for two asks (the origin's ask timeout is 2 s, and a call whose ask ended at home
 * is asked again after 5 s, trigger.ts) and a move's commit (the reservation holds 3 s). A
 * caller nobody can take by then hears the queue's after-hours treatment, 12 s later than
 * without the policy.
 */
export const DEFAULT_CLOSED_OVERFLOW_WAIT_MS = 12_000;

export interface ConfiguredQueue {
  queueId: string;
  /** The site config's `closedOverflowWaitMs` for the queue; null = not set. */
  configuredMs: number | null;
}

export function closedOverflowWaits(
  siteId: string,
  policies: readonly OverflowPolicy[],
  queues: readonly ConfiguredQueue[],
): Map<string, number | null> {
  const afterHours = new Set<string>();
  for (const p of policies) {
    if (p.from === siteId && p.when.afterHours) for (const q of p.queues) afterHours.add(q);
  }
  return new Map(
    queues.map((q) => [
      q.queueId,
      afterHours.has(q.queueId) ? (q.configuredMs ?? DEFAULT_CLOSED_OVERFLOW_WAIT_MS) : q.configuredMs,
    ]),
  );
}
