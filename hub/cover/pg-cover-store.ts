/**
 * On-demand cover activations on the hub's Postgres (port `CoverStore`, hub/ports.ts; table
 * `cover_activations`, migration 009). Each start and stop writes its `admin_audit` row in the
 * same transaction, so the trail cannot miss an action nor show one that did not happen, and
 * runs the leader fence first (hub/lease/fence.ts): a hub that lost the lease writes nothing.
 *
 * Whether an entry is running is decided in the transaction, on the open row locked FOR
 * UPDATE, with the caller's `nowMs` (the hub's clock, the one the active set is computed on);
 * the partial unique index settles two starts racing with no row to lock.
 */
import type pg from 'pg';
import { DomainError, invalidArgument } from '../../shared/errors.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { fenceTx, type Fence } from '../lease/fence.js';
import type { CoverActivation, CoverStore } from '../ports.js';
import { audit } from '../store/topology-store.js';

interface Row {
  entry_id: string;
  started_by: string;
  started_at_ms: string;
  until_ms: string | null;
  stopped_by: string | null;
  stopped_at_ms: string | null;
  comment: string;
}

const COLUMNS = 'entry_id, started_by, started_at_ms, until_ms, stopped_by, stopped_at_ms, comment';

const toActivation = (r: Row): CoverActivation => ({
  entryId: r.entry_id,
  startedBy: r.started_by,
  startedAtMs: Number(r.started_at_ms),
  untilMs: r.until_ms === null ? null : Number(r.until_ms),
  stoppedBy: r.stopped_by,
  stoppedAtMs: r.stopped_at_ms === null ? null : Number(r.stopped_at_ms),
  comment: r.comment,
});

function check(entryId: string, by: string, nowMs: number): void {
  if (typeof entryId !== 'string' || entryId === '') throw invalidArgument('entryId', 'must not be empty');
  if (typeof by !== 'string' || by.trim() === '') throw invalidArgument('by', 'must not be empty');
  if (!Number.isSafeInteger(nowMs) || nowMs < 0)
    throw invalidArgument('nowMs', `must be a time in ms (got ${nowMs})`);
}

/** The entry's open activation, locked; null when none or when its `until` has passed. */
async function running(c: Queryable, entryId: string, nowMs: number): Promise<CoverActivation | null> {
  const r = await query<Row>(
    c,
    `SELECT ${COLUMNS} FROM cover_activations WHERE entry_id = $1 AND stopped_at_ms IS NULL FOR UPDATE`,
    [entryId],
  );
  const a = r.rows[0] ? toActivation(r.rows[0]) : null;
  return a && (a.untilMs === null || nowMs < a.untilMs) ? a : null;
}

export class PgCoverStore implements CoverStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async open(): Promise<CoverActivation[]> {
    const r = await query<Row>(
      this.pool,
      `SELECT ${COLUMNS} FROM cover_activations WHERE stopped_at_ms IS NULL ORDER BY entry_id`,
    );
    return r.rows.map(toActivation);
  }

  async start(a: {
    entryId: string;
    by: string;
    nowMs: number;
    untilMs: number | null;
    comment: string;
  }): Promise<CoverActivation> {
    check(a.entryId, a.by, a.nowMs);
    if (a.untilMs !== null && !(Number.isSafeInteger(a.untilMs) && a.untilMs > a.nowMs)) {
      throw invalidArgument('untilMs', `must be later than now (got ${a.untilMs}, now ${a.nowMs})`);
    }
    return withTransaction(this.pool, async (c) => {
      await fenceTx(c, this.fence);
      const now = await running(c, a.entryId, a.nowMs);
      if (now) {
        throw new DomainError(
          'failed-precondition',
          `cover entry "${a.entryId}" is already active (started by ${now.startedBy}); stop it first`,
          { field: 'entryId' },
        );
      }
      // An activation its `until` ended is closed at the time it ended.
      await query(
        c,
        `UPDATE cover_activations SET stopped_at_ms = until_ms
          WHERE entry_id = $1 AND stopped_at_ms IS NULL AND until_ms <= $2`,
        [a.entryId, a.nowMs],
      );
      const r = await query<Row>(
        c,
        `INSERT INTO cover_activations (entry_id, started_by, started_at_ms, until_ms, comment)
         VALUES ($1, $2, $3, $4, $5) RETURNING ${COLUMNS}`,
        [a.entryId, a.by, a.nowMs, a.untilMs, a.comment],
      );
      await audit(c, {
        atMs: a.nowMs,
        actor: a.by,
        action: 'cover.start',
        target: a.entryId,
        detail: { untilMs: a.untilMs, comment: a.comment },
      });
      return toActivation(r.rows[0]!);
    });
  }

  async stop(a: { entryId: string; by: string; nowMs: number; comment: string }): Promise<CoverActivation> {
    check(a.entryId, a.by, a.nowMs);
    return withTransaction(this.pool, async (c) => {
      await fenceTx(c, this.fence);
      const now = await running(c, a.entryId, a.nowMs);
      if (!now) {
        throw new DomainError(
          'failed-precondition',
          `cover entry "${a.entryId}" is not active; nothing to stop`,
          {
            field: 'entryId',
          },
        );
      }
      const r = await query<Row>(
        c,
        `UPDATE cover_activations SET stopped_by = $2, stopped_at_ms = $3
          WHERE entry_id = $1 AND stopped_at_ms IS NULL RETURNING ${COLUMNS}`,
        [a.entryId, a.by, a.nowMs],
      );
      await audit(c, {
        atMs: a.nowMs,
        actor: a.by,
        action: 'cover.stop',
        target: a.entryId,
        detail: {
          startedBy: now.startedBy,
          startedAtMs: now.startedAtMs,
          untilMs: now.untilMs,
          comment: a.comment,
        },
      });
      return toActivation(r.rows[0]!);
    });
  }
}
