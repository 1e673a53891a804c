/**
 * The fence of leader-only writes (docs/architecture.md §6.6): event ingest, topology
 * versions, drain state, cover starts and stops (hub/cover/), directory writes and flags.
 * A store given a `Fence` first runs `hub_fence(hub, token)`
 * (hub/store/migrations/007_leader_lease.sql) in the write's own transaction, so a hub that
 * lost the lease (expired while it was stalled, or taken) fails with `unavailable` and
 * writes nothing. No fence (null) = unfenced: a store used alone, as in its own tests.
 */
import type { Queryable } from '../../shared/pg/pool.js';
import { query } from '../../shared/pg/pool.js';

/** The term this hub writes under, or null when writes are not fenced. */
export type Fence = () => { hubId: string; token: number } | null;

/** Run the fence check in the transaction `c` is in (no-op without a fence). */
export async function fenceTx(c: Queryable, fence: Fence | undefined): Promise<void> {
  const f = fence?.();
  if (!f) return;
  await query(c, 'SELECT hub_fence($1, $2)', [f.hubId, f.token]);
}
