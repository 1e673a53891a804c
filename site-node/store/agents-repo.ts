/**
 * The agent roster, login sessions and agent state history. The ACD core decides agent state
 * (docs/architecture.md §4); this module records what it decided: each change is a history row plus an
 * `agent.state-changed` event in one transaction. Login/logout also open/close a session
 * (`agent.logged-in` / `agent.logged-out`).
 */
import type pg from 'pg';
import { DomainError, notFound } from '../../shared/errors.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { appendToOutbox, outboxValues } from '../../shared/events/outbox.js';
import { newId } from '../../shared/ids.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { ts, type StoreContext } from './context.js';

export const AGENT_STATES = ['logged-out', 'ready', 'not-ready', 'reserved', 'on-call', 'wrap-up'] as const;
export type AgentState = (typeof AGENT_STATES)[number];

export interface AgentRecord {
  agentId: string;
  name: string;
  homeSiteId: string;
  /** Skill -> proficiency 1..5. */
  skills: Record<string, number>;
  state: AgentState;
  stateReason: string | undefined;
  stateSinceMs: number;
}

export interface AgentSession {
  sessionId: string;
  agentId: string;
  siteId: string;
  loginAtMs: number;
  logoutAtMs: number | undefined;
  logoutReason: string | undefined;
}

export interface StateHistoryEntry {
  agentId: string;
  from: AgentState;
  to: AgentState;
  reason: string | undefined;
  callId: string | undefined;
  atMs: number;
}

interface AgentRow {
  id: string;
  name: string;
  home_site_id: string;
  skills: Record<string, number>;
  state: AgentState;
  state_reason: string | null;
  state_since: Date;
}

const toAgent = (r: AgentRow): AgentRecord => ({
  agentId: r.id,
  name: r.name,
  homeSiteId: r.home_site_id,
  skills: r.skills,
  state: r.state,
  stateReason: r.state_reason ?? undefined,
  stateSinceMs: r.state_since.getTime(),
});

function checkSkills(skills: Record<string, number>): void {
  for (const [k, v] of Object.entries(skills)) {
    if (!Number.isInteger(v) || v < 1 || v > 5) {
      throw new DomainError('invalid-argument', `skills.${k}: proficiency must be an integer 1..5`, {
        field: `skills.${k}`,
      });
    }
  }
}

export interface AgentInput {
  agentId: string;
  name: string;
  homeSiteId?: string;
  skills: Record<string, number>;
}

/** Add or update a roster entry (name, skills). Does not touch the agent's state. */
export async function upsertAgent(ctx: StoreContext, a: AgentInput): Promise<AgentRecord> {
  checkSkills(a.skills);
  const now = ts(ctx.clock.now());
  const r = await query<AgentRow>(
    ctx.pool,
    `INSERT INTO agents (id, name, home_site_id, skills, state, state_since, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'logged-out', $5, $5, $5)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, home_site_id = EXCLUDED.home_site_id,
       skills = EXCLUDED.skills, updated_at = EXCLUDED.updated_at
     RETURNING *`,
    [a.agentId, a.name, a.homeSiteId ?? ctx.siteId, JSON.stringify(a.skills), now],
  );
  return toAgent(r.rows[0]!);
}

export async function getAgent(
  db: pg.Pool | pg.PoolClient,
  agentId: string,
): Promise<AgentRecord | undefined> {
  const r = await query<AgentRow>(db, `SELECT * FROM agents WHERE id = $1`, [agentId]);
  return r.rows[0] ? toAgent(r.rows[0]) : undefined;
}

export async function listAgents(db: pg.Pool | pg.PoolClient): Promise<AgentRecord[]> {
  const r = await query<AgentRow>(db, `SELECT * FROM agents ORDER BY id`);
  return r.rows.map(toAgent);
}

export interface AgentStateChange {
  agentId: string;
  to: AgentState;
  /** When given, the agent must currently be in this state (else `conflict`). */
  from?: AgentState;
  /** Not-ready reason code, or why (`site-restart`, `ring-no-answer`...). */
  reason?: string;
  callId?: string;
  /**
   * Where the ACD put this change among the others of its millisecond (a counter of the site
   * process, in the event's payload): agents' writes commit side by side, so the outbox's order
   * of two agents' changes of one millisecond is not the ACD's, and the handle-time average the
   * statistics rebuild replays depends on it (stats-rebuild.ts).
   */
  order?: number;
}

/**
 * The agent's row, its history row and its `agent.state-changed` event in ONE statement (one
 * round trip, no BEGIN/COMMIT, as calls-repo.ts `transition`): `was` locks the row, the update
 * happens only from `from` (when given) and only when the state or reason changes, and the
 * history and the outbox rows are made only from the updated row. The payload's `from` is the
 * locked row's state. One row back when the agent exists: `was_state` and, when it moved, the
 * updated row.
 */
const SET_AGENT_STATE_SQL = `WITH was AS (SELECT id, state, state_reason FROM agents WHERE id = $1 FOR UPDATE),
  moved AS (
    UPDATE agents a SET state = $2, state_reason = $3, state_since = $4, updated_at = $4
    FROM was
    WHERE a.id = was.id AND ($5::text IS NULL OR was.state = $5::text)
      -- Same state (and reason) is a no-op; logged-out is logged-out whatever the reason.
      AND NOT (was.state = $2 AND ($2 = 'logged-out' OR was.state_reason IS NOT DISTINCT FROM $3::text))
    RETURNING a.*),
  hist AS (
    INSERT INTO agent_state_history (agent_id, from_state, to_state, reason, call_id, at)
    SELECT moved.id, was.state, $2, $3, $6, $4 FROM moved, was),
  ob AS (
    INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
    SELECT $7, $8, $9, moved.id, $10, $11, $12::jsonb || jsonb_build_object('from', was.state)
    FROM moved, was
    ON CONFLICT (id) DO NOTHING)
  SELECT was.state AS was_state, moved.* FROM was LEFT JOIN moved ON true`;

/** Record a state change: agents row + history row + `agent.state-changed`. Same state is a no-op. */
export async function setAgentStateTx(
  db: Queryable,
  ctx: StoreContext,
  ch: AgentStateChange,
): Promise<AgentRecord> {
  if (!(AGENT_STATES as readonly string[]).includes(ch.to)) {
    throw new DomainError('invalid-argument', `to: ${JSON.stringify(ch.to)} is not an agent state`, {
      field: 'to',
    });
  }
  const now = ctx.clock.now();
  const env = makeEvent({
    type: 'agent.state-changed',
    siteId: ctx.siteId,
    aggregateId: ch.agentId,
    occurredAtMs: now,
    payload: {
      to: ch.to,
      reason: ch.reason ?? null,
      callId: ch.callId ?? null,
      ...(ch.order !== undefined ? { order: ch.order } : {}),
    },
  });
  const r = await query<AgentRow & { was_state: AgentState }>(db, SET_AGENT_STATE_SQL, [
    ch.agentId,
    ch.to,
    ch.reason ?? null,
    ts(now),
    ch.from ?? null,
    ch.callId ?? null,
    ...outboxValues(env),
  ]);
  const row = r.rows[0];
  if (!row) throw notFound('agent', ch.agentId);
  if (row.id !== null) return toAgent(row);
  if (ch.from !== undefined && row.was_state !== ch.from) {
    throw new DomainError('conflict', `agent ${ch.agentId} is ${row.was_state}, not ${ch.from}`);
  }
  // Not moved and no conflict: the no-op. The row as it stands (the lock is gone: outside a
  // caller's transaction it may have moved since, which the caller could not tell apart anyway).
  const current = await getAgent(db as pg.Pool, ch.agentId);
  if (!current) throw notFound('agent', ch.agentId);
  return current;
}

export function setAgentState(ctx: StoreContext, ch: AgentStateChange): Promise<AgentRecord> {
  return setAgentStateTx(ctx.pool, ctx, ch);
}

/**
 * Open a session for an agent at this site and move them logged-out -> not-ready
 * (reason `login`). An agent with an open session gets `failed-precondition`.
 */
export async function loginAgent(
  ctx: StoreContext,
  agentId: string,
): Promise<{ agent: AgentRecord; session: AgentSession }> {
  return withTransaction(ctx.pool, async (c) => {
    const open = await query(c, `SELECT 1 FROM agent_sessions WHERE agent_id = $1 AND logout_at IS NULL`, [
      agentId,
    ]);
    if (open.rowCount) throw new DomainError('failed-precondition', `agent ${agentId} is already logged in`);
    const now = ctx.clock.now();
    const sessionId = newId('ses', now);
    const agent = await setAgentStateTx(c, ctx, {
      agentId,
      from: 'logged-out',
      to: 'not-ready',
      reason: 'login',
    });
    await query(c, `INSERT INTO agent_sessions (id, agent_id, site_id, login_at) VALUES ($1, $2, $3, $4)`, [
      sessionId,
      agentId,
      ctx.siteId,
      ts(now),
    ]);
    await appendToOutbox(
      c,
      makeEvent({
        type: 'agent.logged-in',
        siteId: ctx.siteId,
        aggregateId: agentId,
        occurredAtMs: now,
        payload: { sessionId },
      }),
    );
    return {
      agent,
      session: {
        sessionId,
        agentId,
        siteId: ctx.siteId,
        loginAtMs: now,
        logoutAtMs: undefined,
        logoutReason: undefined,
      },
    };
  });
}

/** Close the agent's open session and move them to logged-out. Logging out twice is a no-op. */
export async function logoutAgentTx(
  c: pg.PoolClient,
  ctx: StoreContext,
  agentId: string,
  reason = 'logout',
): Promise<AgentRecord> {
  const now = ctx.clock.now();
  const closed = await query<{ id: string }>(
    c,
    `UPDATE agent_sessions SET logout_at = GREATEST($2, login_at), logout_reason = $3
      WHERE agent_id = $1 AND logout_at IS NULL RETURNING id`,
    [agentId, ts(now), reason],
  );
  const agent = await setAgentStateTx(c, ctx, { agentId, to: 'logged-out', reason });
  for (const s of closed.rows) {
    await appendToOutbox(
      c,
      makeEvent({
        type: 'agent.logged-out',
        siteId: ctx.siteId,
        aggregateId: agentId,
        occurredAtMs: now,
        payload: { sessionId: s.id, reason },
      }),
    );
  }
  return agent;
}

export function logoutAgent(ctx: StoreContext, agentId: string, reason = 'logout'): Promise<AgentRecord> {
  return withTransaction(ctx.pool, (c) => logoutAgentTx(c, ctx, agentId, reason));
}

export async function openSessions(db: pg.Pool | pg.PoolClient): Promise<AgentSession[]> {
  const r = await query<{ id: string; agent_id: string; site_id: string; login_at: Date }>(
    db,
    `SELECT id, agent_id, site_id, login_at FROM agent_sessions WHERE logout_at IS NULL ORDER BY login_at`,
  );
  return r.rows.map((x) => ({
    sessionId: x.id,
    agentId: x.agent_id,
    siteId: x.site_id,
    loginAtMs: x.login_at.getTime(),
    logoutAtMs: undefined,
    logoutReason: undefined,
  }));
}

export async function stateHistory(
  db: pg.Pool | pg.PoolClient,
  agentId: string,
): Promise<StateHistoryEntry[]> {
  const r = await query<{
    from_state: AgentState;
    to_state: AgentState;
    reason: string | null;
    call_id: string | null;
    at: Date;
  }>(
    db,
    `SELECT from_state, to_state, reason, call_id, at FROM agent_state_history WHERE agent_id = $1 ORDER BY id`,
    [agentId],
  );
  return r.rows.map((x) => ({
    agentId,
    from: x.from_state,
    to: x.to_state,
    reason: x.reason ?? undefined,
    callId: x.call_id ?? undefined,
    atMs: x.at.getTime(),
  }));
}
