/**
 * The routing's elementary steps, counted: each ready-list entry read or moved, each queue and
 * bucket looked at, each list probed, each call record shifted in a bucket, each stats-window
 * record dropped. It is the core's cost per event without the machine in it, so the scaling
 * bench (docs/operations.md §8.5) can tell the routing's own growth with the size from the
 * memory's (the wall-clock cost per event also pays for caches that a larger centre's state
 * no longer fits in).
 *
 * One counter per process, read as a difference around a run; it never changes a decision.
 * A plain number on a module object: the cheapest thing a hot loop can add to.
 */
export const routingWork = { steps: 0 };
