/**
 * The origin's record of a move it is about to commit (docs/architecture.md §5.9, §7.1): the
 * call, the request, the target and the token, committed before the first commit is sent
 * (overflow/origin.ts `record-commit`). A commit cannot be taken back, so an origin killed
 * after sending one must, when it comes back, still know to ask the target for its word:
 * crash recovery (recovery.ts) leaves a live call with a recorded move open, and the origin's
 * adapter resends the commit until the target acks (the call ends `overflowed`) or refuses
 * the token (it ends as recovery ends other calls).
 *
 * Recording is idempotent per request (a retry after a lost answer finds the row it wrote);
 * the same request with another target or token, a call that is not live, and bad input are
 * refused, each logged once here with who and why, and change nothing.
 */
import type pg from 'pg';
import { z } from 'zod';
import { conflict, DomainError, isDomainError } from '../../shared/errors.js';
import { isSiteId } from '../../shared/ids.js';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { parseOrThrow } from '../../shared/validate.js';
import { ts, type StoreContext } from './context.js';

const text = z.string().min(1).max(200);

const recordSchema = z
  .object({
    callId: text,
    /** `<callId>#<attempt>` (overflow/origin.ts names requests so). */
    requestId: text,
    toSiteId: z.string().refine(isSiteId, 'must be a site id (^[a-z][a-z0-9-]{1,31}$)'),
    token: text,
  })
  .strict()
  .superRefine((v, c) => {
    if (attemptOf(v.callId, v.requestId) === undefined) {
      c.addIssue({ code: 'custom', path: ['requestId'], message: `must be ${v.callId}#<attempt>` });
    }
  });

export type OverflowCommitRecord = z.input<typeof recordSchema>;

/** A live call's move recorded before a crash, as the restarted origin takes it over. */
export interface PendingMove {
  callId: string;
  queueId: string;
  requestId: string;
  toSiteId: string;
  token: string;
  recordedAtMs: number;
}

function attemptOf(callId: string, requestId: string): number | undefined {
  if (!requestId.startsWith(`${callId}#`)) return undefined;
  const n = Number(requestId.slice(callId.length + 1));
  return Number.isInteger(n) && n > 0 ? n : undefined;
}

/** Record the move in the caller's transaction (see the header). */
export async function recordOverflowCommitTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  input: OverflowCommitRecord,
): Promise<void> {
  const r = parseOrThrow(recordSchema, input, 'overflowCommit');
  if (r.toSiteId === ctx.siteId) {
    throw new DomainError(
      'invalid-argument',
      `overflowCommit.toSiteId: a call cannot move to its own site ${ctx.siteId}`,
      { field: 'overflowCommit.toSiteId' },
    );
  }
  const call = await query<{ ended_at: Date | null }>(
    client,
    `SELECT ended_at FROM calls WHERE id = $1 FOR UPDATE`,
    [r.callId],
  );
  if (call.rows.length === 0) throw new DomainError('not-found', `call ${r.callId} is not recorded here`);
  if (call.rows[0]!.ended_at !== null) {
    throw new DomainError('failed-precondition', `call ${r.callId} has ended: it cannot move any more`);
  }
  const ins = await query(
    client,
    `INSERT INTO overflow_commits (request_id, call_id, attempt, to_site_id, token, recorded_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (request_id) DO NOTHING`,
    [r.requestId, r.callId, attemptOf(r.callId, r.requestId), r.toSiteId, r.token, ts(ctx.clock.now())],
  );
  if (ins.rowCount === 1) return;
  const had = await query<{ to_site_id: string; token: string }>(
    client,
    `SELECT to_site_id, token FROM overflow_commits WHERE request_id = $1`,
    [r.requestId],
  );
  const h = had.rows[0]!;
  if (h.to_site_id !== r.toSiteId || h.token !== r.token) {
    throw conflict(
      `request ${r.requestId} was recorded moving to ${h.to_site_id} under token ${h.token}, not to ${r.toSiteId} under ${r.token}`,
    );
  }
}

/** `recordOverflowCommitTx` in a transaction of its own; a refusal is logged here, once. */
export async function recordOverflowCommit(ctx: StoreContext, input: OverflowCommitRecord): Promise<void> {
  try {
    await withTransaction(ctx.pool, (c) => recordOverflowCommitTx(c, ctx, input));
  } catch (e) {
    if (
      isDomainError(e, 'invalid-argument') ||
      isDomainError(e, 'conflict') ||
      isDomainError(e, 'not-found') ||
      isDomainError(e, 'failed-precondition')
    ) {
      const i = (typeof input === 'object' && input !== null ? input : {}) as Partial<
        Record<string, unknown>
      >;
      ctx.log.warn('overflow commit not recorded', {
        callId: i.callId,
        requestId: i.requestId,
        toSiteId: i.toSiteId,
        err: e,
      });
    }
    throw e;
  }
}

/**
 * Every live call's latest recorded move (oldest call first): what crash recovery leaves open
 * for the origin to settle with the target's word.
 */
export async function readPendingMoves(db: pg.Pool | pg.PoolClient): Promise<PendingMove[]> {
  const r = await query<{
    call_id: string;
    queue_id: string | null;
    request_id: string;
    to_site_id: string;
    token: string;
    recorded_at: Date;
  }>(
    db,
    `SELECT DISTINCT ON (c.created_at, c.id) c.id AS call_id, c.queue_id, m.request_id, m.to_site_id,
            m.token, m.recorded_at
       FROM calls c JOIN overflow_commits m ON m.call_id = c.id
      WHERE c.ended_at IS NULL
      ORDER BY c.created_at, c.id, m.attempt DESC`,
  );
  return r.rows.map((x) => ({
    callId: x.call_id,
    queueId: x.queue_id ?? '',
    requestId: x.request_id,
    toSiteId: x.to_site_id,
    token: x.token,
    recordedAtMs: x.recorded_at.getTime(),
  }));
}
