/**
 * Crash recovery, run once when the site starts, before it takes calls. A site that stopped
 * abruptly left rows describing a world that no longer exists:
 *   1. calls in any non-terminal state: their media and signalling died with the process.
 *      Each is ended as `failed`, reason `site-restart`, with its CDR and `call.ended`
 *      (endCallTx: one transaction per call). Except, when `keepPendingMoves` (a federated
 *      site), a call whose move to another site was recorded before its commit was sent
 *      (overflow-commits.ts): the commit may have reached the target, so only the target's
 *      word can say how the call ends. It stays open and is returned in `pendingMoves`; the
 *      origin's adapter resends the commit and ends it `overflowed` on the ack, or `failed`,
 *      `site-restart` like the others on a refusal (docs/architecture.md §5.9, §7.1).
 *   1b. call recordings still running: they were in the process's memory. Each is `failed`
 *      (recordings-repo.ts), so no CDR waits for a file that will never be written.
 *   2. agent sessions still open, and agents not logged out: closed / set to `logged-out`
 *      with a state-history row and events, reason `site-restart` (one transaction per agent).
 *   3. ticket escalations and callbacks whose pg-boss job was lost: re-scheduled
 *      (JobScheduler.sweep), when a started scheduler is given.
 * Idempotent: a second run finds nothing to do.
 */
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { logoutAgentTx } from './agents-repo.js';
import { endCallTx } from './calls-repo.js';
import type { StoreContext } from './context.js';
import type { JobScheduler } from './jobs.js';
import { readPendingMoves, type PendingMove } from './overflow-commits.js';
import { failOpenRecordings } from './recordings-repo.js';

export const RESTART_REASON = 'site-restart';

export interface RecoveryReport {
  callsFailed: string[];
  /** Calls whose recording was still running (in the last run's memory): now `failed`. */
  recordingsLost: string[];
  /** Live calls left open for the origin to settle with the target's word (see the header). */
  pendingMoves: PendingMove[];
  agentsLoggedOut: string[];
  escalationsRescheduled: number;
  callbacksRescheduled: number;
}

export async function recoverAfterRestart(
  ctx: StoreContext,
  opts: { scheduler?: JobScheduler; keepPendingMoves?: boolean } = {},
): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    callsFailed: [],
    recordingsLost: [],
    pendingMoves: [],
    agentsLoggedOut: [],
    escalationsRescheduled: 0,
    callbacksRescheduled: 0,
  };

  const live = await query<{ id: string }>(
    ctx.pool,
    `SELECT id FROM calls WHERE ended_at IS NULL ORDER BY created_at, id`,
  );
  if (opts.keepPendingMoves) report.pendingMoves = await readPendingMoves(ctx.pool);
  const pending = new Set(report.pendingMoves.map((m) => m.callId));
  for (const { id } of live.rows) {
    if (pending.has(id)) continue;
    const r = await withTransaction(ctx.pool, (c) =>
      endCallTx(c, ctx, { callId: id, state: 'failed', reason: RESTART_REASON }),
    );
    if (!r.alreadyEnded) report.callsFailed.push(id);
  }

  // A recording is held in the media engine's memory until its call ends: the last run's are gone.
  report.recordingsLost = await failOpenRecordings(
    ctx,
    `${RESTART_REASON}: the site stopped before the recording was written`,
  );

  const agents = await query<{ id: string }>(
    ctx.pool,
    `SELECT id FROM agents WHERE state <> 'logged-out'
     UNION SELECT agent_id FROM agent_sessions WHERE logout_at IS NULL
     ORDER BY 1`,
  );
  for (const { id } of agents.rows) {
    await withTransaction(ctx.pool, (c) => logoutAgentTx(c, ctx, id, RESTART_REASON));
    report.agentsLoggedOut.push(id);
  }

  if (opts.scheduler) {
    const s = await opts.scheduler.sweep();
    report.escalationsRescheduled = s.escalations;
    report.callbacksRescheduled = s.callbacks;
  }
  ctx.log.info('recovery done', {
    callsFailed: report.callsFailed.length,
    recordingsLost: report.recordingsLost.length,
    pendingMoves: report.pendingMoves.length,
    agentsLoggedOut: report.agentsLoggedOut.length,
    escalationsRescheduled: report.escalationsRescheduled,
    callbacksRescheduled: report.callbacksRescheduled,
  });
  return report;
}
