/**
 * The site's memory of its hub link (table `hub_link`, one row): the topology it runs, the
 * customer feed cursor and the drain flag. Read at start (hello announces them), written as
 * the hub pushes. The cursor only moves forward, so a replayed or reordered push can never
 * move the feed back.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import type { Topology } from '../../shared/topology/schema.js';

export interface LinkMemory {
  topologyVersion: number;
  topology: Topology | null;
  customerCursor: number;
  drained: boolean;
}

interface Row {
  topology_version: string;
  topology: Topology | null;
  customer_cursor: string;
  drained: boolean;
}

export async function readLinkMemory(db: pg.Pool): Promise<LinkMemory> {
  const r = await query<Row>(
    db,
    `SELECT topology_version, topology, customer_cursor, drained FROM hub_link WHERE id = 1`,
  );
  const row = r.rows[0];
  if (!row) return { topologyVersion: 0, topology: null, customerCursor: 0, drained: false };
  return {
    topologyVersion: Number(row.topology_version),
    topology: row.topology,
    customerCursor: Number(row.customer_cursor),
    drained: row.drained,
  };
}

export async function saveTopology(db: pg.Pool, version: number, topology: Topology): Promise<void> {
  await query(
    db,
    `UPDATE hub_link SET topology_version = $1, topology = $2, updated_at = now() WHERE id = 1`,
    [version, JSON.stringify(topology)],
  );
}

export async function advanceCustomerCursor(db: pg.Pool | pg.PoolClient, cursor: number): Promise<void> {
  await query(
    db,
    `UPDATE hub_link SET customer_cursor = GREATEST(customer_cursor, $1), updated_at = now() WHERE id = 1`,
    [cursor],
  );
}

export async function saveDrained(db: pg.Pool, drained: boolean): Promise<void> {
  await query(db, `UPDATE hub_link SET drained = $1, updated_at = now() WHERE id = 1`, [drained]);
}
