/**
 * What a site killed with SIGKILL must still hold when it comes back (docs/architecture.md
 * §7.1, site-node/store/recovery.ts), whatever carried its calls: simulated callers
 * (test/integration/site-crash.test.ts) or SIP (test/sip/site-crash-sip.test.ts).
 *   `committedAtKill`: read right after the kill, what was committed (nothing can commit after it);
 *   `assertRecovered`: after the restart, nothing of it lost, the calls that were live closed
 *     `failed` / `site-restart` with exactly one CDR each, the agents signed in reset once;
 *   `assertNothingLive`: after a clean stop, no call live and every call with its CDR.
 */
import assert from 'node:assert/strict';
import type pg from 'pg';

/** Anything that runs a query: a pg.Client or a pg.Pool. */
type Db = Pick<pg.Client, 'query'>;

export interface Committed {
  calls: string[];
  cdrs: string[];
  tickets: string[];
  events: string[];
  stoppedCards: string[];
  /** Calls not ended at the kill. */
  inFlight: string[];
  /** Agents not logged out at the kill. */
  agentsIn: string[];
}

async function ids(db: Db, sql: string): Promise<string[]> {
  return (await db.query<{ id: string }>(sql)).rows.map((r) => r.id).sort();
}

async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const r = await db.query<{ n: string }>(sql, params);
  return Number(r.rows[0]!.n);
}

const SQL = {
  calls: `SELECT id FROM calls`,
  cdrs: `SELECT call_id AS id FROM cdrs`,
  tickets: `SELECT id FROM tickets`,
  events: `SELECT id FROM outbox`,
  stoppedCards: `SELECT card_number AS id FROM ledger.cards WHERE status = 'stopped'`,
} as const;

export async function committedAtKill(db: Db): Promise<Committed> {
  return {
    calls: await ids(db, SQL.calls),
    cdrs: await ids(db, SQL.cdrs),
    tickets: await ids(db, SQL.tickets),
    events: await ids(db, SQL.events),
    stoppedCards: await ids(db, SQL.stoppedCards),
    inFlight: await ids(db, `SELECT id FROM calls WHERE ended_at IS NULL`),
    agentsIn: await ids(db, `SELECT id FROM agents WHERE state <> 'logged-out'`),
  };
}

/** Run once the restarted site reported ready: recovery runs before that. */
export async function assertRecovered(db: Db, before: Committed): Promise<void> {
  for (const id of before.inFlight) {
    const r = await db.query<{ state: string; end_reason: string }>(
      `SELECT state, end_reason FROM calls WHERE id = $1`,
      [id],
    );
    assert.deepEqual(r.rows[0], { state: 'failed', end_reason: 'site-restart' }, `call ${id}`);
    assert.equal(
      await count(db, `SELECT count(*) AS n FROM cdrs WHERE call_id = $1`, [id]),
      1,
      `one CDR for ${id}`,
    );
  }
  for (const id of before.agentsIn) {
    const n = await count(
      db,
      `SELECT count(*) AS n FROM agent_state_history WHERE agent_id = $1 AND to_state = 'logged-out' AND reason = 'site-restart'`,
      [id],
    );
    assert.equal(n, 1, `agent ${id} reset once`);
  }
  for (const k of Object.keys(SQL) as Array<keyof typeof SQL>) {
    const now = new Set(await ids(db, SQL[k]));
    const lost = before[k].filter((id) => !now.has(id));
    assert.deepEqual(lost, [], `${k} lost after kill -9`);
  }
}

/** After a clean SIGTERM stop. */
export async function assertNothingLive(db: Db): Promise<void> {
  assert.equal(
    await count(db, `SELECT count(*) AS n FROM calls WHERE ended_at IS NULL`),
    0,
    'no call left live',
  );
  assert.equal(
    await count(
      db,
      `SELECT count(*) AS n FROM calls c WHERE NOT EXISTS (SELECT 1 FROM cdrs d WHERE d.call_id = c.id)`,
    ),
    0,
    'every call has its CDR',
  );
}
