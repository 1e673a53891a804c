/**
 * The overflow and cover decisions on the hub's Postgres (port `OverflowDecisionStore`,
 * hub/ports.ts; table in hub/store/migrations/010_overflow_decisions.sql). Only the leader
 * routes, so only the leader records: the write is fenced like every leader write
 * (hub/lease/fence.ts), and a deposed hub's late rows fail rather than land after its term.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { fenceTx, type Fence } from '../lease/fence.js';
import { MAX_DECISIONS_PAGE, type OverflowDecisionRow, type OverflowDecisionStore } from '../ports.js';

interface Row {
  request_id: string;
  call_id: string;
  kind: 'overflow' | 'cover';
  rule_id: string;
  origin_site_id: string;
  queue_id: string;
  target_site_id: string | null;
  reason: string | null;
  why: string;
  decided_at_ms: string;
  max_snapshot_age_ms: string;
  target_age_ms: string | null;
  request: OverflowDecisionRow['request'];
  candidates: OverflowDecisionRow['candidates'];
}

const COLUMNS = [
  'request_id',
  'call_id',
  'kind',
  'rule_id',
  'origin_site_id',
  'queue_id',
  'target_site_id',
  'reason',
  'why',
  'decided_at_ms',
  'max_snapshot_age_ms',
  'target_age_ms',
  'request',
  'candidates',
] as const;

const values = (r: OverflowDecisionRow): unknown[] => [
  r.requestId,
  r.callId,
  r.kind,
  r.ruleId,
  r.originSiteId,
  r.queueId,
  r.targetSiteId,
  r.reason,
  r.why,
  r.decidedAtMs,
  r.maxSnapshotAgeMs,
  r.targetAgeMs,
  JSON.stringify(r.request),
  JSON.stringify(r.candidates),
];

export class PgOverflowDecisionStore implements OverflowDecisionStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async record(rows: readonly OverflowDecisionRow[]): Promise<void> {
    if (rows.length === 0) return;
    await withTransaction(this.pool, async (c) => {
      await fenceTx(c, this.fence);
      const params: unknown[] = [];
      const tuples = rows.map((r) => {
        const at = params.length;
        params.push(...values(r));
        return `(${COLUMNS.map((_, i) => `$${at + i + 1}`).join(', ')})`;
      });
      await query(
        c,
        `INSERT INTO overflow_decisions (${COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}`,
        params,
      );
    });
  }

  async recent(q: { siteId?: string | undefined; limit: number }): Promise<OverflowDecisionRow[]> {
    const limit = Number.isFinite(q.limit)
      ? Math.max(0, Math.min(MAX_DECISIONS_PAGE, Math.floor(q.limit)))
      : 0;
    const r = await query<Row>(
      this.pool,
      `SELECT ${COLUMNS.join(', ')} FROM overflow_decisions
        WHERE $1::text IS NULL OR origin_site_id = $1 OR target_site_id = $1
        ORDER BY seq DESC LIMIT $2`,
      [q.siteId ?? null, limit],
    );
    return r.rows.map((x) => ({
      requestId: x.request_id,
      callId: x.call_id,
      kind: x.kind,
      ruleId: x.rule_id,
      originSiteId: x.origin_site_id,
      queueId: x.queue_id,
      targetSiteId: x.target_site_id,
      reason: x.reason,
      why: x.why,
      decidedAtMs: Number(x.decided_at_ms),
      maxSnapshotAgeMs: Number(x.max_snapshot_age_ms),
      targetAgeMs: x.target_age_ms === null ? null : Number(x.target_age_ms),
      request: x.request,
      candidates: x.candidates,
    }));
  }
}
