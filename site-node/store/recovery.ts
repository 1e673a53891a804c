/**
 * Crash recovery, run once when the site starts, before it takes calls. A site that stopped
 * abruptly left rows describing a world that no longer exists:
 *   1. calls in any non-terminal state: their media and signalling died with the process.
 *      Each is ended as `failed`, reason `site-restart`, with its CDR and `call.ended`
 *      (endCallTx: one transaction per call).
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

export const RESTART_REASON = 'site-restart';

export interface RecoveryReport {
  callsFailed: string[];
  agentsLoggedOut: string[];
  escalationsRescheduled: number;
  callbacksRescheduled: number;
}

export async function recoverAfterRestart(
  ctx: StoreContext,
  opts: { scheduler?: JobScheduler } = {},
): Promise<RecoveryReport> {
  const report: RecoveryReport = {
    callsFailed: [],
    agentsLoggedOut: [],
    escalationsRescheduled: 0,
    callbacksRescheduled: 0,
  };

  const live = await query<{ id: string }>(
    ctx.pool,
    `SELECT id FROM calls WHERE ended_at IS NULL ORDER BY created_at, id`,
  );
  for (const { id } of live.rows) {
    const r = await withTransaction(ctx.pool, (c) =>
      endCallTx(c, ctx, { callId: id, state: 'failed', reason: RESTART_REASON }),
    );
    if (!r.alreadyEnded) report.callsFailed.push(id);
  }

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
    agentsLoggedOut: report.agentsLoggedOut.length,
    escalationsRescheduled: report.escalationsRescheduled,
    callbacksRescheduled: report.callbacksRescheduled,
  });
  return report;
}
