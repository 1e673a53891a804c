/**
 * The rows the statistics are rebuilt from at start (site-node/runtime/stats-rebuild.ts): the
 * outbox holds every event the site recorded, each written in the transaction of its change,
 * so it is the site's log. Read bounded: only the types asked for and only since `sinceMs`
 * (the earlier of the start of the site's day and the start of the stats window), in the order
 * they were written. The outbox has no index on `occurred_at_ms` and is never pruned, so the
 * read also bounds the event id: an id is `evt_<ULID>` made from the event's time, and its
 * unique index turns the bound into a range scan rather than a scan of every row ever written.
 *
 * Also the one fact that has no row of its own: a caller refused for want of a trunk
 * (`call.refused`), so that the day's offered and blocked calls survive a restart.
 */
import type pg from 'pg';
import { appendToOutbox } from '../../shared/events/outbox.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { newCallId, ulid } from '../../shared/ids.js';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { StoreContext } from './context.js';

export interface StatsEventRow {
  type: string;
  aggregateId: string;
  occurredAtMs: number;
  payload: Record<string, unknown>;
}

export async function readStatsEvents(
  db: pg.Pool | pg.PoolClient,
  types: readonly string[],
  sinceMs: number,
  untilMs: number,
): Promise<StatsEventRow[]> {
  const r = await query<{
    type: string;
    aggregate_id: string;
    occurred_at_ms: string;
    payload: Record<string, unknown>;
  }>(
    db,
    `SELECT type, aggregate_id, occurred_at_ms, payload FROM outbox
      WHERE id >= $4 AND occurred_at_ms >= $1 AND occurred_at_ms <= $2 AND type = ANY($3)
      ORDER BY occurred_at_ms, seq`,
    [sinceMs, untilMs, types, firstIdAt(Math.max(0, sinceMs))],
  );
  return r.rows.map((x) => ({
    type: x.type,
    aggregateId: x.aggregate_id,
    occurredAtMs: Number(x.occurred_at_ms),
    payload: x.payload,
  }));
}

/** The smallest event id of time `ms` (`makeEvent` ids: `evt_` + a ULID of the event's time). */
function firstIdAt(ms: number): string {
  return `evt_${ulid(ms, () => new Uint8Array(10))}`;
}

/**
 * Why a caller was refused before the site took the call: no free trunk, the site stopping,
 * or its store unable to take the call's writes (too many waiting, or its first row not
 * committed in time: site-node/runtime/durable-writes.ts). All count as blocked.
 */
export type RefusalReason = 'no-trunk' | 'site-stopping' | 'store-backlog' | 'store-down';

export interface RefusedCall {
  ani: string;
  dnis: string;
  reason: RefusalReason;
  /**
   * The id the call had been given when it was refused after that (its first row not
   * committed in time): the event's aggregate, so the call's one terminal record is this event.
   */
  callId?: string;
}

/** A caller refused before the site took the call. */
export function recordRefusedCall(ctx: StoreContext, refused: RefusedCall): Promise<void> {
  return recordRefusedCalls(ctx, [{ ...refused, atMs: ctx.clock.now() }]);
}

/**
 * Several refusals in one transaction, each its own `call.refused` event at its own time:
 * refusals that piled up while the store was away land as one write (runtime/refusal-log.ts).
 */
export function recordRefusedCalls(
  ctx: StoreContext,
  refused: ReadonlyArray<RefusedCall & { atMs: number }>,
): Promise<void> {
  return withTransaction(ctx.pool, async (c) => {
    for (const { atMs, callId, ...r } of refused) {
      await appendToOutbox(
        c,
        makeEvent({
          type: 'call.refused',
          siteId: ctx.siteId,
          aggregateId: callId ?? newCallId(ctx.siteId, atMs),
          occurredAtMs: atMs,
          payload: { ...r },
        }),
      );
    }
  });
}
