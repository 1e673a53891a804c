/**
 * The site's memory of its hub link (table `hub_link`, one row): the topology it runs, the
 * customer feed cursor and the drain flag. Read at start (hello announces them), written as
 * the hub pushes. The cursor only moves forward, so a replayed or reordered push can never
 * move the feed back.
 *
 * The stored topology is checked again as it is read (`validateCompiledTopology`, as a push
 * is): one saved by an older version of the site gets the defaults of the fields added since
 * (a full site's `endpoints.sipTransport`, udp), so the code reading it finds them. One that no
 * longer validates is forgotten (version 0, `forgotten` says why): the site's hello then names
 * no version and the hub pushes its current one.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import { isDomainError } from '../../shared/errors.js';
import { validateCompiledTopology } from '../../shared/topology/compiled.js';
import type { Topology } from '../../shared/topology/schema.js';

export interface LinkMemory {
  topologyVersion: number;
  topology: Topology | null;
  customerCursor: number;
  drained: boolean;
  /** The stored topology did not validate any more and was forgotten: why. */
  forgotten?: string;
}

/** A stored topology as the site runs it (defaults filled), or why it cannot be run. */
export function storedTopology(
  stored: unknown,
): { ok: true; topology: Topology } | { ok: false; why: string } {
  try {
    return { ok: true, topology: validateCompiledTopology(stored) };
  } catch (e) {
    if (!isDomainError(e, 'invalid-argument')) throw e;
    return { ok: false, why: (e.problems ?? [e.message]).join('; ') };
  }
}

interface Row {
  topology_version: string;
  topology: unknown;
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
  const memory: LinkMemory = {
    topologyVersion: Number(row.topology_version),
    topology: null,
    customerCursor: Number(row.customer_cursor),
    drained: row.drained,
  };
  if (row.topology === null) return memory;
  const t = storedTopology(row.topology);
  if (t.ok) return { ...memory, topology: t.topology };
  return { ...memory, topologyVersion: 0, forgotten: `stored version ${row.topology_version}: ${t.why}` };
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
