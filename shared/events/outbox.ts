/**
 * The transactional outbox (docs/architecture.md §5). A fact is written to `outbox` by the SAME
 * transaction that changes the state (`appendToOutbox(client, envelope)` with the client of
 * that transaction), so an event exists if and only if its change committed. A relay reads
 * unshipped rows in `seq` order, ships them, and only then marks them shipped.
 *
 * Order: `seq` is a bigserial assigned at insert. Writers of the same aggregate are
 * serialised by the aggregate's row lock, so per-aggregate order is commit order. Across
 * aggregates, two concurrent transactions may commit out of seq order; a row that commits
 * late is simply picked up by a later read, never lost.
 *
 * The table (OUTBOX_TABLE_SQL, outbox-table.sql) is created by the node's migrations
 * (site-node/store/migrations/001_outbox.sql): outbox(seq bigserial PK, id text UNIQUE, type,
 * site_id, aggregate_id, occurred_at_ms, schema_version, payload jsonb, created_at,
 * shipped_at NULL until shipped).
 */
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { query, type Queryable } from '../pg/pool.js';
import type { EventEnvelope } from './envelope.js';

/**
 * The path of outbox-table.sql, the DDL of the table this module works on (a node's migration
 * creates the same): tests create the table from it, and a site test checks its migration against it.
 */
export const OUTBOX_TABLE_SQL = fileURLToPath(new URL('./outbox-table.sql', import.meta.url));

export interface OutboxRow extends EventEnvelope {
  /** Position in the outbox; strictly increasing per insert. */
  seq: number;
}

/**
 * Append one event. Call it with the client of the transaction making the change. Appending
 * the same event id twice is a no-op (returns false), so a retried write stays one event.
 */
export async function appendToOutbox(client: pg.PoolClient, env: EventEnvelope<object>): Promise<boolean> {
  const r = await query(
    client,
    `INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (id) DO NOTHING`,
    [
      env.id,
      env.type,
      env.siteId,
      env.aggregateId,
      env.occurredAtMs,
      env.schemaVersion,
      JSON.stringify(env.payload),
    ],
  );
  return r.rowCount === 1;
}

/**
 * An event's outbox columns but its aggregate, in table order (id, type, site_id,
 * occurred_at_ms, schema_version, payload), for the statements that insert the outbox row in
 * the same statement as the row it is about and take the aggregate from that row.
 */
export function outboxValues(env: EventEnvelope<object>): unknown[] {
  return [env.id, env.type, env.siteId, env.occurredAtMs, env.schemaVersion, JSON.stringify(env.payload)];
}

interface Row {
  seq: string;
  id: string;
  type: string;
  site_id: string;
  aggregate_id: string;
  occurred_at_ms: string;
  schema_version: number;
  payload: Record<string, unknown>;
}

const toRow = (r: Row): OutboxRow => ({
  seq: Number(r.seq),
  id: r.id,
  type: r.type,
  siteId: r.site_id,
  aggregateId: r.aggregate_id,
  occurredAtMs: Number(r.occurred_at_ms),
  schemaVersion: r.schema_version,
  payload: r.payload,
});

/**
 * The oldest `limit` unshipped events, in seq order, leaving out the rows `exceptSeqs` names (a
 * batch in flight, not marked yet: a shipper reads its next batch while the hub stores the
 * one before). Always from the oldest, never "after the last seq": a row of a lower seq that
 * committed late comes first, so one aggregate's events still go in order. (`<> ALL` of an
 * array is a hash lookup from PostgreSQL 15, not a scan of the array per row.)
 */
export async function readUnshipped(
  db: Queryable,
  limit: number,
  exceptSeqs: readonly number[] = [],
): Promise<OutboxRow[]> {
  const r = await query<Row>(
    db,
    exceptSeqs.length === 0
      ? `SELECT seq, id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload
           FROM outbox WHERE shipped_at IS NULL ORDER BY seq LIMIT $1`
      : `SELECT seq, id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload
           FROM outbox WHERE shipped_at IS NULL AND seq <> ALL($2::bigint[]) ORDER BY seq LIMIT $1`,
    exceptSeqs.length === 0 ? [limit] : [limit, exceptSeqs],
  );
  return r.rows.map(toRow);
}

/** Mark events shipped by id. Already shipped ids are left alone. Returns how many changed. */
export async function markShipped(db: Queryable, ids: readonly string[]): Promise<number> {
  if (ids.length === 0) return 0;
  const r = await query(
    db,
    `UPDATE outbox SET shipped_at = now() WHERE id = ANY($1::text[]) AND shipped_at IS NULL`,
    [ids],
  );
  return r.rowCount ?? 0;
}

/**
 * Mark events shipped by seq, the way shippers do: `seq` is the key of both the table and
 * the index of unshipped rows, so each row is one index lookup. By id the planner may instead
 * walk every unshipped row (its estimate of them is low after a backlog grew fast), once per
 * batch: a resync of 100,000 events then did 100 such walks (issue 9). Returns how many changed.
 */
export async function markShippedSeqs(db: Queryable, seqs: readonly number[]): Promise<number> {
  if (seqs.length === 0) return 0;
  const r = await query(db, MARK_SHIPPED_SEQS_SQL, [seqs]);
  return r.rowCount ?? 0;
}

/** The statement of markShippedSeqs ($1: the seqs), for the test of its plan. */
export const MARK_SHIPPED_SEQS_SQL = `UPDATE outbox SET shipped_at = now() WHERE seq = ANY($1::bigint[]) AND shipped_at IS NULL`;

/** Events about one aggregate, oldest first (shipped or not); for tests and diagnostics. */
export async function eventsFor(db: Queryable, aggregateId: string): Promise<OutboxRow[]> {
  const r = await query<Row>(
    db,
    `SELECT seq, id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload
       FROM outbox WHERE aggregate_id = $1 ORDER BY seq`,
    [aggregateId],
  );
  return r.rows.map(toRow);
}

export async function countUnshipped(db: Queryable): Promise<number> {
  const r = await query<{ n: string }>(db, `SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`);
  return Number(r.rows[0]?.n ?? 0);
}
