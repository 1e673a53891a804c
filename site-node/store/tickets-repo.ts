/**
 * Tickets: complaints, suggestions, card-loss reports, callback requests, security locks and
 * left messages, each with an optional SLA clock (docs/architecture.md §4). Status:
 *
 *   open --(SLA runs out)--> escalated --(each reminder: level + 1)--> escalated
 *     \                          |
 *      '--------> closed <-------'
 *
 * Events (same transaction as the row): ticket.opened (+ card-loss.reported for card-loss,
 * + callback.scheduled for a callback request), ticket.escalated, ticket.closed (+
 * callback.placed when a callback request is closed by its answered callback, callback.failed
 * when its tries ran out).
 *
 * The pg-boss jobs that drive escalations and callbacks live in jobs.ts; this file only
 * records their ids so the restart sweep can see which tickets have lost theirs.
 */
import type pg from 'pg';
import { DomainError, notFound } from '../../shared/errors.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { appendToOutbox } from '../../shared/events/outbox.js';
import { newId } from '../../shared/ids.js';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { ts, type StoreContext } from './context.js';

export const TICKET_KINDS = [
  'complaint',
  'suggestion',
  'card-loss',
  'callback-request',
  'security-lock',
  'leave-message',
] as const;
export type TicketKind = (typeof TICKET_KINDS)[number];
export type TicketStatus = 'open' | 'escalated' | 'closed';

export interface TicketRecord {
  ticketId: string;
  kind: TicketKind;
  customerId: string | undefined;
  callId: string | undefined;
  status: TicketStatus;
  openedAtMs: number;
  updatedAtMs: number;
  closedAtMs: number | undefined;
  closeReason: string | undefined;
  slaDueAtMs: number | undefined;
  escalationLevel: number;
  nextEscalationAtMs: number | undefined;
  escalationJobId: string | undefined;
  callbackAtMs: number | undefined;
  callbackJobId: string | undefined;
  data: Record<string, unknown>;
}

export interface NewTicket {
  kind: TicketKind;
  customerId?: string;
  callId?: string;
  /** SLA as a duration from now; or give `slaDueAtMs`. No SLA means no escalation. */
  slaMs?: number;
  slaDueAtMs?: number;
  /** Callback requests: when to call back. */
  callbackAtMs?: number;
  data?: Record<string, unknown>;
  /**
   * Names the request, so that opening it again (a retried write) returns the ticket it
   * opened, with no second row and no second events. Unique among tickets not closed (a
   * closed one no longer answers for its key); absent: none.
   */
  idempotencyKey?: string;
}

/** How reminders continue after the first escalation. */
export interface EscalationPolicy {
  /** Time between reminders once escalated. */
  reminderIntervalMs: number;
  /** Highest escalation level; no reminder is scheduled past it. */
  maxLevel: number;
}

interface TicketRow {
  id: string;
  kind: TicketKind;
  customer_id: string | null;
  call_id: string | null;
  status: TicketStatus;
  opened_at: Date;
  updated_at: Date;
  closed_at: Date | null;
  close_reason: string | null;
  sla_due_at: Date | null;
  escalation_level: number;
  next_escalation_at: Date | null;
  escalation_job_id: string | null;
  callback_at: Date | null;
  callback_job_id: string | null;
  data: Record<string, unknown>;
}

const toTicket = (r: TicketRow): TicketRecord => ({
  ticketId: r.id,
  kind: r.kind,
  customerId: r.customer_id ?? undefined,
  callId: r.call_id ?? undefined,
  status: r.status,
  openedAtMs: r.opened_at.getTime(),
  updatedAtMs: r.updated_at.getTime(),
  closedAtMs: r.closed_at?.getTime(),
  closeReason: r.close_reason ?? undefined,
  slaDueAtMs: r.sla_due_at?.getTime(),
  escalationLevel: r.escalation_level,
  nextEscalationAtMs: r.next_escalation_at?.getTime(),
  escalationJobId: r.escalation_job_id ?? undefined,
  callbackAtMs: r.callback_at?.getTime(),
  callbackJobId: r.callback_job_id ?? undefined,
  data: r.data,
});

const d = (ms: number | undefined): Date | null => (ms === undefined ? null : ts(ms));

export async function openTicketTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  t: NewTicket,
): Promise<TicketRecord> {
  if (!(TICKET_KINDS as readonly string[]).includes(t.kind)) {
    throw new DomainError('invalid-argument', `kind: ${JSON.stringify(t.kind)} is not a ticket kind`, {
      field: 'kind',
    });
  }
  if (t.slaMs !== undefined && !(Number.isFinite(t.slaMs) && t.slaMs >= 0)) {
    throw new DomainError('invalid-argument', 'slaMs: must be a duration >= 0', { field: 'slaMs' });
  }
  if (t.kind === 'callback-request' && t.callbackAtMs === undefined) {
    throw new DomainError('invalid-argument', 'callbackAtMs: a callback request needs a time', {
      field: 'callbackAtMs',
    });
  }
  if (t.idempotencyKey !== undefined && t.idempotencyKey.length === 0) {
    throw new DomainError('invalid-argument', 'idempotencyKey: must not be empty', {
      field: 'idempotencyKey',
    });
  }
  const now = ctx.clock.now();
  const id = newId('tkt', now);
  const slaDue = t.slaDueAtMs ?? (t.slaMs === undefined ? undefined : now + t.slaMs);
  const r = await query<TicketRow>(
    client,
    `INSERT INTO tickets (id, kind, customer_id, call_id, status, opened_at, updated_at, sla_due_at,
                          next_escalation_at, callback_at, data, idempotency_key)
     VALUES ($1, $2, $3, $4, 'open', $5, $5, $6, $6, $7, $8, $9)
     ON CONFLICT (idempotency_key) WHERE status <> 'closed' DO NOTHING RETURNING *`,
    [
      id,
      t.kind,
      t.customerId ?? null,
      t.callId ?? null,
      ts(now),
      d(slaDue),
      d(t.callbackAtMs),
      JSON.stringify(t.data ?? {}),
      t.idempotencyKey ?? null,
    ],
  );
  // The key was used: this request was opened before (a retry). Its ticket and events exist.
  if (!r.rows[0]) return openedBefore(client, t);
  const ticket = toTicket(r.rows[0]);
  const base = { siteId: ctx.siteId, aggregateId: id, occurredAtMs: now };
  const summary = {
    kind: t.kind,
    customerId: t.customerId ?? null,
    callId: t.callId ?? null,
    slaDueAtMs: slaDue ?? null,
    data: t.data ?? {},
  };
  await appendToOutbox(client, makeEvent({ ...base, type: 'ticket.opened', payload: summary }));
  if (t.kind === 'card-loss') {
    await appendToOutbox(client, makeEvent({ ...base, type: 'card-loss.reported', payload: summary }));
  }
  if (t.kind === 'callback-request') {
    await appendToOutbox(
      client,
      makeEvent({
        ...base,
        type: 'callback.scheduled',
        payload: { ...summary, callbackAtMs: t.callbackAtMs ?? null },
      }),
    );
  }
  return ticket;
}

async function openedBefore(client: pg.PoolClient, t: NewTicket): Promise<TicketRecord> {
  const r = await query<TicketRow>(
    client,
    `SELECT * FROM tickets WHERE idempotency_key = $1 AND status <> 'closed'`,
    [t.idempotencyKey],
  );
  const row = r.rows[0];
  if (!row) throw new DomainError('internal', `ticket with key ${t.idempotencyKey} neither opened nor found`);
  if (row.kind !== t.kind) {
    throw new DomainError(
      'conflict',
      `idempotencyKey: ${t.idempotencyKey} already opened ticket ${row.id} of kind ${row.kind}, not ${t.kind}`,
      { field: 'idempotencyKey' },
    );
  }
  return toTicket(row);
}

/** Open a ticket (row + events in one transaction). Use JobScheduler.openTicket to also schedule its SLA job. */
export function openTicket(ctx: StoreContext, t: NewTicket): Promise<TicketRecord> {
  return withTransaction(ctx.pool, (c) => openTicketTx(c, ctx, t));
}

export async function getTicket(
  db: pg.Pool | pg.PoolClient,
  ticketId: string,
): Promise<TicketRecord | undefined> {
  const r = await query<TicketRow>(db, `SELECT * FROM tickets WHERE id = $1`, [ticketId]);
  return r.rows[0] ? toTicket(r.rows[0]) : undefined;
}

async function lockTicket(client: pg.PoolClient, ticketId: string): Promise<TicketRow> {
  const r = await query<TicketRow>(client, `SELECT * FROM tickets WHERE id = $1 FOR UPDATE`, [ticketId]);
  if (!r.rows[0]) throw notFound('ticket', ticketId);
  return r.rows[0];
}

/** Close a ticket. Closing a closed ticket changes nothing (returns `closed: false`). */
export async function closeTicketTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  ticketId: string,
  reason: string,
  extraEvent?: { type: string; payload: Record<string, unknown> },
): Promise<{ ticket: TicketRecord; closed: boolean }> {
  const row = await lockTicket(client, ticketId);
  if (row.status === 'closed') return { ticket: toTicket(row), closed: false };
  const now = ctx.clock.now();
  const r = await query<TicketRow>(
    client,
    `UPDATE tickets SET status = 'closed', closed_at = $2, updated_at = $2, close_reason = $3,
       next_escalation_at = NULL WHERE id = $1 RETURNING *`,
    [ticketId, ts(now), reason],
  );
  const base = { siteId: ctx.siteId, aggregateId: ticketId, occurredAtMs: now };
  await appendToOutbox(
    client,
    makeEvent({
      ...base,
      type: 'ticket.closed',
      payload: { kind: row.kind, reason, level: row.escalation_level },
    }),
  );
  if (extraEvent) await appendToOutbox(client, makeEvent({ ...base, ...extraEvent }));
  return { ticket: toTicket(r.rows[0]!), closed: true };
}

export function closeTicket(
  ctx: StoreContext,
  ticketId: string,
  reason: string,
): Promise<{ ticket: TicketRecord; closed: boolean }> {
  return withTransaction(ctx.pool, (c) => closeTicketTx(c, ctx, ticketId, reason));
}

export type EscalationOutcome = 'escalated' | 'already-escalated' | 'closed' | 'not-due';

/**
 * Escalate a ticket to `level`, exactly once: only when it is not closed and its current
 * level is `level - 1`. A second run for the same level (a retried or duplicated job) finds
 * the level already reached and writes nothing. Sets status escalated, the next reminder
 * time per `policy` (none past `maxLevel`), clears the job id, and appends ticket.escalated.
 */
export async function escalateTicketTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  ticketId: string,
  level: number,
  policy: EscalationPolicy,
): Promise<{ outcome: EscalationOutcome; ticket: TicketRecord }> {
  const row = await lockTicket(client, ticketId);
  if (row.status === 'closed') return { outcome: 'closed', ticket: toTicket(row) };
  if (row.escalation_level >= level) return { outcome: 'already-escalated', ticket: toTicket(row) };
  if (row.escalation_level !== level - 1) return { outcome: 'not-due', ticket: toTicket(row) };
  const now = ctx.clock.now();
  const next = level < policy.maxLevel ? now + policy.reminderIntervalMs : undefined;
  const r = await query<TicketRow>(
    client,
    `UPDATE tickets SET status = 'escalated', escalation_level = $2, next_escalation_at = $3,
       escalation_job_id = NULL, updated_at = $4 WHERE id = $1 RETURNING *`,
    [ticketId, level, d(next), ts(now)],
  );
  await appendToOutbox(
    client,
    makeEvent({
      type: 'ticket.escalated',
      siteId: ctx.siteId,
      aggregateId: ticketId,
      occurredAtMs: now,
      payload: {
        kind: row.kind,
        level,
        customerId: row.customer_id,
        slaDueAtMs: row.sla_due_at?.getTime() ?? null,
        nextReminderAtMs: next ?? null,
      },
    }),
  );
  return { outcome: 'escalated', ticket: toTicket(r.rows[0]!) };
}

export function escalateTicket(
  ctx: StoreContext,
  ticketId: string,
  level: number,
  policy: EscalationPolicy,
): Promise<{ outcome: EscalationOutcome; ticket: TicketRecord }> {
  return withTransaction(ctx.pool, (c) => escalateTicketTx(c, ctx, ticketId, level, policy));
}

/** Record the escalation job for the ticket's next level, if the ticket is still at `level`. */
export async function recordEscalationJob(
  db: pg.Pool,
  ticketId: string,
  level: number,
  jobId: string,
): Promise<boolean> {
  const r = await query(
    db,
    `UPDATE tickets SET escalation_job_id = $3 WHERE id = $1 AND escalation_level = $2 AND status <> 'closed'`,
    [ticketId, level, jobId],
  );
  return r.rowCount === 1;
}

export async function recordCallbackJob(db: pg.Pool, ticketId: string, jobId: string): Promise<boolean> {
  const r = await query(db, `UPDATE tickets SET callback_job_id = $2 WHERE id = $1 AND status <> 'closed'`, [
    ticketId,
    jobId,
  ]);
  return r.rowCount === 1;
}

/** Tickets with a pending escalation (not closed, next escalation time set), soonest first. */
export async function ticketsAwaitingEscalation(db: pg.Pool | pg.PoolClient): Promise<TicketRecord[]> {
  const r = await query<TicketRow>(
    db,
    `SELECT * FROM tickets WHERE status <> 'closed' AND next_escalation_at IS NOT NULL ORDER BY next_escalation_at, id`,
  );
  return r.rows.map(toTicket);
}

/** Open callback requests, soonest first. */
export async function callbacksAwaiting(db: pg.Pool | pg.PoolClient): Promise<TicketRecord[]> {
  const r = await query<TicketRow>(
    db,
    `SELECT * FROM tickets WHERE status <> 'closed' AND kind = 'callback-request' AND callback_at IS NOT NULL
      ORDER BY callback_at, id`,
  );
  return r.rows.map(toTicket);
}

/**
 * Close a callback request: `placed` (the customer answered the callback) or `failed` (the
 * tries ran out), with its event. Closing a closed request writes nothing.
 */
export function closeCallbackRequest(
  ctx: StoreContext,
  ticketId: string,
  outcome: 'placed' | 'failed',
  payload: Record<string, unknown>,
): Promise<{ ticket: TicketRecord; closed: boolean }> {
  return withTransaction(ctx.pool, (c) =>
    closeTicketTx(c, ctx, ticketId, `callback-${outcome}`, { type: `callback.${outcome}`, payload }),
  );
}

/** Record the unanswered dials of an open callback request (its `data.tries`), so a restart keeps them. */
export async function recordCallbackTries(db: pg.Pool, ticketId: string, tries: number): Promise<boolean> {
  const r = await query(
    db,
    `UPDATE tickets SET data = data || jsonb_build_object('tries', $2::int) WHERE id = $1 AND status <> 'closed'`,
    [ticketId, tries],
  );
  return r.rowCount === 1;
}
