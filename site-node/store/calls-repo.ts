/**
 * Calls: creation, guarded state transitions with a timeline, and ending with a CDR. Every
 * write appends its outbox event in the same transaction (docs/architecture.md §5):
 *   createCall      -> call.created (schemaVersion 2: `overflowIn`, null unless the call moved in)
 *   transition      -> call.state-changed
 *   updateCallData  -> call.data-changed
 *   endCall         -> call.ended (payload carries the CDR, and the request's detail;
 *                      schemaVersion 2: the CDR's `overflowIn` and `overflowOut`)
 * Each function has a `...Tx(client, ctx, ...)` form that joins a caller's transaction.
 * A call's move between sites (both ends) is overflow-repo.ts, built on these.
 */
import type pg from 'pg';
import { DomainError, notFound } from '../../shared/errors.js';
import { appendToOutbox, outboxValues } from '../../shared/events/outbox.js';
import { makeEvent } from '../../shared/events/envelope.js';
import { newCallId } from '../../shared/ids.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import {
  CALL_STATES,
  canTransition,
  checkCallTransition,
  isCallState,
  isTerminal,
  TERMINAL_CALL_STATES,
  type CallState,
  type TerminalCallState,
} from './call-states.js';
import { buildCdr, type Cdr, type CdrInput, type OverflowIn, type OverflowOut } from './cdr.js';
import { ts, type StoreContext } from './context.js';
import { getRecording } from './recordings-repo.js';

/** One call leg: a signalling dialog and its media endpoint. */
export interface CallLeg {
  legId: string;
  role: 'caller' | 'ivr' | 'agent' | 'relay' | 'outbound';
  /** Site whose media server terminates this leg. */
  siteId: string;
  /** SIP URI or trunk channel the leg is signalled on. */
  signalling?: string;
  media?: { address: string; port: number; codec: string };
  startedAtMs: number;
  endedAtMs?: number;
}

export interface CallRecord {
  callId: string;
  ani: string;
  dnis: string;
  entrySiteId: string;
  currentSiteId: string;
  state: CallState;
  queueId: string | undefined;
  priority: number;
  customerId: string | undefined;
  verified: boolean;
  attached: Record<string, string>;
  ivrPath: string[];
  legs: CallLeg[];
  agentId: string | undefined;
  createdAtMs: number;
  updatedAtMs: number;
  endedAtMs: number | undefined;
  endReason: string | undefined;
  /** Moves between sites so far (not the ACD's moves between queues). */
  hops: number;
  /** Every site the call has been at, this one included; empty for a call that never moved. */
  visitedSiteIds: string[];
  /** Set for a call that moved in from another site. */
  overflowIn: OverflowIn | undefined;
}

export interface TimelineEntry {
  seq: number;
  atMs: number;
  state: CallState;
  event: string;
  detail: Record<string, unknown>;
}

/** Fields that may change with a transition or on their own. */
export interface CallDataPatch {
  queueId?: string;
  priority?: number;
  customerId?: string;
  verified?: boolean;
  /** Merged into the existing attached data. */
  attached?: Record<string, string>;
  /** Replaces the IVR path. */
  ivrPath?: string[];
  /** Replaces the legs. */
  legs?: CallLeg[];
  agentId?: string | null;
  currentSiteId?: string;
}

export interface NewCall extends CallDataPatch {
  /** Defaults to a fresh `<site>-<ULID>`. */
  callId?: string;
  ani: string;
  dnis: string;
  /** Defaults to this site (a call overflowed here carries its origin). */
  entrySiteId?: string;
  /** Defaults to `ivr`. */
  state?: 'ivr' | 'queued';
  /** A call moved in from another site (overflow-repo.ts); its timeline starts `overflow-in`. */
  overflowIn?: OverflowIn;
  hops?: number;
  visitedSiteIds?: string[];
}

interface CallRow {
  id: string;
  ani: string;
  dnis: string;
  entry_site_id: string;
  current_site_id: string;
  state: CallState;
  queue_id: string | null;
  priority: number;
  customer_id: string | null;
  verified: boolean;
  attached: Record<string, string>;
  ivr_path: string[];
  legs: CallLeg[];
  agent_id: string | null;
  created_at: Date;
  updated_at: Date;
  ended_at: Date | null;
  end_reason: string | null;
  hops: number;
  visited_site_ids: string[];
  overflow_in: OverflowIn | null;
}

const toCall = (r: CallRow): CallRecord => ({
  callId: r.id,
  ani: r.ani,
  dnis: r.dnis,
  entrySiteId: r.entry_site_id,
  currentSiteId: r.current_site_id,
  state: r.state,
  queueId: r.queue_id ?? undefined,
  priority: r.priority,
  customerId: r.customer_id ?? undefined,
  verified: r.verified,
  attached: r.attached,
  ivrPath: r.ivr_path,
  legs: r.legs,
  agentId: r.agent_id ?? undefined,
  createdAtMs: r.created_at.getTime(),
  updatedAtMs: r.updated_at.getTime(),
  endedAtMs: r.ended_at?.getTime(),
  endReason: r.end_reason ?? undefined,
  hops: r.hops,
  visitedSiteIds: r.visited_site_ids,
  overflowIn: r.overflow_in ?? undefined,
});

function requireText(field: string, v: unknown): void {
  if (typeof v !== 'string' || v.length === 0) {
    throw new DomainError('invalid-argument', `${field}: must be a non-empty string`, { field });
  }
}

async function lockCall(client: pg.PoolClient, callId: string): Promise<CallRow> {
  const r = await query<CallRow>(client, `SELECT * FROM calls WHERE id = $1 FOR UPDATE`, [callId]);
  const row = r.rows[0];
  if (!row) throw notFound('call', callId);
  return row;
}

/** UPDATE fragments for a patch; returns SET clauses starting at parameter $start. */
function patchSql(patch: CallDataPatch, start: number): { sets: string[]; values: unknown[] } {
  const sets: string[] = [];
  const values: unknown[] = [];
  const add = (sql: string, v: unknown): void => {
    values.push(v);
    sets.push(sql.replace('?', `$${start + values.length - 1}`));
  };
  if (patch.queueId !== undefined) add('queue_id = ?', patch.queueId);
  if (patch.priority !== undefined) add('priority = ?', patch.priority);
  if (patch.customerId !== undefined) add('customer_id = ?', patch.customerId);
  if (patch.verified !== undefined) add('verified = ?', patch.verified);
  if (patch.attached !== undefined) add('attached = attached || ?::jsonb', JSON.stringify(patch.attached));
  if (patch.ivrPath !== undefined) add('ivr_path = ?::jsonb', JSON.stringify(patch.ivrPath));
  if (patch.legs !== undefined) add('legs = ?::jsonb', JSON.stringify(patch.legs));
  if (patch.agentId !== undefined) add('agent_id = ?', patch.agentId);
  if (patch.currentSiteId !== undefined) add('current_site_id = ?', patch.currentSiteId);
  return { sets, values };
}

/**
 * The call's row, its first timeline entry and its `call.created` event in ONE statement (no
 * BEGIN/COMMIT: one round trip, as `transition`'s; docs/operations.md §8.7). The event's
 * payload is made here from the request, which is what the row holds.
 */
const CREATE_CALL_SQL = `WITH c AS (
    INSERT INTO calls (id, ani, dnis, entry_site_id, current_site_id, state, queue_id, priority, customer_id,
                       verified, attached, ivr_path, legs, agent_id, created_at, updated_at, hops,
                       visited_site_ids, overflow_in)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15, $16, $17, $18)
    RETURNING *),
  tl AS (
    INSERT INTO call_timeline (call_id, seq, at, state, event, detail)
    SELECT c.id, COALESCE((SELECT MAX(seq) FROM call_timeline WHERE call_id = $1), 0) + 1, $15, $6, $19, $20::jsonb
    FROM c),
  ob AS (
    INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
    SELECT $21, $22, $23, c.id, $24, $25, $26::jsonb FROM c
    ON CONFLICT (id) DO NOTHING)
  SELECT * FROM c`;

export async function createCallTx(db: Queryable, ctx: StoreContext, input: NewCall): Promise<CallRecord> {
  requireText('ani', input.ani);
  requireText('dnis', input.dnis);
  const now = ctx.clock.now();
  const callId = input.callId ?? newCallId(ctx.siteId, now);
  const state = input.state ?? 'ivr';
  if (state !== 'ivr' && state !== 'queued') {
    throw new DomainError('invalid-argument', `state: a call starts in ivr or queued, not ${state}`, {
      field: 'state',
    });
  }
  const entrySiteId = input.entrySiteId ?? ctx.siteId;
  const hops = input.hops ?? 0;
  const visitedSiteIds = input.visitedSiteIds ?? [];
  const env = makeEvent({
    type: 'call.created',
    siteId: ctx.siteId,
    aggregateId: callId,
    occurredAtMs: now,
    schemaVersion: 2,
    payload: {
      ani: input.ani,
      dnis: input.dnis,
      entrySiteId,
      state,
      queueId: input.queueId ?? null,
      customerId: input.customerId ?? null,
      // Version 2: the site's statistics rebuild counts the wait from the origin's (stats-rebuild.ts).
      overflowIn: input.overflowIn ? { ...input.overflowIn, hops, visitedSiteIds } : null,
    },
  });
  // A moved-in call's history starts with where it came from (the origin's timeline has the rest).
  const first = input.overflowIn
    ? { event: 'overflow-in', detail: { ...input.overflowIn } }
    : { event: 'created', detail: {} };
  const r = await query<CallRow>(db, CREATE_CALL_SQL, [
    callId,
    input.ani,
    input.dnis,
    entrySiteId,
    input.currentSiteId ?? ctx.siteId,
    state,
    input.queueId ?? null,
    input.priority ?? 0,
    input.customerId ?? null,
    input.verified ?? false,
    JSON.stringify(input.attached ?? {}),
    JSON.stringify(input.ivrPath ?? []),
    JSON.stringify(input.legs ?? []),
    input.agentId ?? null,
    ts(now),
    hops,
    JSON.stringify(visitedSiteIds),
    input.overflowIn ? JSON.stringify(input.overflowIn) : null,
    first.event,
    JSON.stringify(first.detail),
    ...outboxValues(env),
  ]);
  return toCall(r.rows[0]!);
}

export function createCall(ctx: StoreContext, input: NewCall): Promise<CallRecord> {
  return createCallTx(ctx.pool, ctx, input);
}

export interface TransitionRequest {
  callId: string;
  to: CallState;
  /** When given, the call must currently be in this state (else `conflict`, nothing written). */
  from?: CallState;
  /** What caused it, for the timeline: `offer`, `answer`, `ring-no-answer`... Default `to`. */
  event?: string;
  detail?: Record<string, unknown>;
  patch?: CallDataPatch;
}

/**
 * Move a live call to another live state. Illegal moves (see call-states.ts) throw
 * `failed-precondition`, a stale `from` throws `conflict`; either way nothing is written.
 * Terminal states go through `endCall`, which also writes the CDR.
 */
/**
 * The call's row, its timeline entry and its `call.state-changed` event in ONE statement (so
 * `transition` needs no BEGIN/COMMIT: one round trip to PostgreSQL, not six; the store's
 * writes were bound by their round trips, docs/operations.md §8.7). `was` locks the row; the
 * update happens only from a state in `$allowed`; the timeline and the outbox rows are made
 * only from the updated row, so a refused move writes nothing. The event's payload is the
 * request's part merged with the row's (`from`, queue, agent, priority). One row back when
 * the call exists: `was_state` and, when it moved, the updated row.
 */
function transitionSql(sets: string[], n: number): string {
  const p = (i: number) => `$${n + i}`;
  return `WITH was AS (SELECT id, state FROM calls WHERE id = $1 FOR UPDATE),
  moved AS (
    UPDATE calls c SET state = $2, updated_at = $3${sets.map((x) => ', ' + x).join('')}
    FROM was WHERE c.id = was.id AND was.state = ANY(${p(0)}::text[])
    RETURNING c.*),
  tl AS (
    INSERT INTO call_timeline (call_id, seq, at, state, event, detail)
    SELECT moved.id, COALESCE((SELECT MAX(seq) FROM call_timeline WHERE call_id = $1), 0) + 1,
           $3, $2, ${p(1)}, ${p(2)}::jsonb
    FROM moved),
  ob AS (
    INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
    SELECT ${p(3)}, ${p(4)}, ${p(5)}, moved.id, ${p(6)}, ${p(7)},
           ${p(8)}::jsonb || jsonb_build_object('from', was.state, 'queueId', moved.queue_id,
                                               'agentId', moved.agent_id, 'priority', moved.priority)
    FROM moved, was
    ON CONFLICT (id) DO NOTHING)
  SELECT was.state AS was_state, moved.* FROM was LEFT JOIN moved ON true`;
}

/** The states `to` may be entered from (call-states.ts), narrowed to `from` when given. */
function allowedFrom(to: CallState, from: CallState | undefined): CallState[] {
  return CALL_STATES.filter((s) => canTransition(s, to) && (from === undefined || s === from));
}

export async function transitionTx(
  db: Queryable,
  ctx: StoreContext,
  req: TransitionRequest,
): Promise<CallRecord> {
  if ((TERMINAL_CALL_STATES as readonly string[]).includes(req.to)) {
    throw new DomainError('invalid-argument', `to: ${req.to} is terminal; end the call with endCall`, {
      field: 'to',
    });
  }
  if (!isCallState(req.to)) checkCallTransition(req.callId, 'ivr', req.to); // throws invalid-argument
  const now = ctx.clock.now();
  const { sets, values } = patchSql(req.patch ?? {}, 4);
  const event = req.event ?? req.to;
  const detail = req.detail ?? {};
  const env = makeEvent({
    type: 'call.state-changed',
    siteId: ctx.siteId,
    aggregateId: req.callId,
    occurredAtMs: now,
    payload: { to: req.to, event, detail },
  });
  const r = await query<CallRow & { was_state: CallState }>(db, transitionSql(sets, 4 + values.length), [
    req.callId,
    req.to,
    ts(now),
    ...values,
    allowedFrom(req.to, req.from),
    event,
    JSON.stringify(detail),
    ...outboxValues(env),
  ]);
  const row = r.rows[0];
  if (!row) throw notFound('call', req.callId);
  if (row.id === null) {
    // Not moved: say why, as a read-then-check would have.
    if (req.from !== undefined && row.was_state !== req.from) {
      throw new DomainError('conflict', `call ${req.callId} is ${row.was_state}, not ${req.from}`);
    }
    checkCallTransition(req.callId, row.was_state, req.to);
    throw new DomainError('internal', `call ${req.callId}: ${row.was_state} -> ${req.to} not written`);
  }
  return toCall(row);
}

export function transition(ctx: StoreContext, req: TransitionRequest): Promise<CallRecord> {
  return transitionTx(ctx.pool, ctx, req);
}

/** Change a live call's data (customer identified, verified, IVR path...) without a state change. */
export async function updateCallDataTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  callId: string,
  patch: CallDataPatch,
): Promise<CallRecord> {
  const row = await lockCall(client, callId);
  if (isTerminal(row.state)) throw new DomainError('failed-precondition', `call ${callId} has ended`);
  const now = ctx.clock.now();
  const { sets, values } = patchSql(patch, 3);
  if (sets.length === 0) return toCall(row);
  const r = await query<CallRow>(
    client,
    `UPDATE calls SET updated_at = $2, ${sets.join(', ')} WHERE id = $1 RETURNING *`,
    [callId, ts(now), ...values],
  );
  await appendToOutbox(
    client,
    makeEvent({
      type: 'call.data-changed',
      siteId: ctx.siteId,
      aggregateId: callId,
      occurredAtMs: now,
      payload: { ...patch } as Record<string, unknown>,
    }),
  );
  return toCall(r.rows[0]!);
}

export function updateCallData(ctx: StoreContext, callId: string, patch: CallDataPatch): Promise<CallRecord> {
  return withTransaction(ctx.pool, (c) => updateCallDataTx(c, ctx, callId, patch));
}

export interface EndCallRequest {
  callId: string;
  /** Terminal state; default `ended`. */
  state?: TerminalCallState;
  /** Why: `caller-hangup`, `agent-hangup`, `self-service`, `site-restart`... */
  reason: string;
  cdr?: CdrInput;
  detail?: Record<string, unknown>;
  /** Required with state `overflowed`, refused with any other (overflow-repo.ts). */
  overflowOut?: OverflowOut;
}

export interface EndCallResult {
  call: CallRecord;
  cdr: Cdr;
  /** True when the call had already ended: nothing was written, the stored CDR is returned. */
  alreadyEnded: boolean;
}

/** The call's row and its timeline as they are, in one read (endCallTx). */
const READ_FOR_END_SQL = `SELECT c.*, COALESCE(
    (SELECT json_agg(json_build_object('seq', t.seq, 'at', t.at, 'state', t.state, 'event', t.event,
                                       'detail', t.detail) ORDER BY t.seq)
     FROM call_timeline t WHERE t.call_id = c.id), '[]') AS timeline, c.xmin::text AS row_version
  FROM calls c WHERE c.id = $1`;

/**
 * The end itself, in ONE statement: the row (locked, and only if it is still the version that
 * was read: its `xmin` changes with every update; and the same last timeline entry), the timeline entry, the
 * CDR, the contact history (for a known customer) and the `call.ended` event. Nothing is
 * written when the row changed in between: one row back with `id` null, and the caller reads
 * again.
 */
const END_CALL_SQL = `WITH was AS (SELECT id, state, xmin::text AS row_version FROM calls WHERE id = $1 FOR UPDATE),
  ok AS (
    SELECT was.id FROM was
    WHERE was.state = $2 AND was.row_version = $3
      AND COALESCE((SELECT MAX(seq) FROM call_timeline WHERE call_id = $1), 0) = $4),
  moved AS (
    UPDATE calls c SET state = $5, updated_at = $6, ended_at = $6, end_reason = $7
    FROM ok WHERE c.id = ok.id
    RETURNING c.*),
  tl AS (
    INSERT INTO call_timeline (call_id, seq, at, state, event, detail)
    SELECT moved.id, $4 + 1, $6, $5, $7, $8::jsonb FROM moved),
  cdr AS (
    INSERT INTO cdrs (call_id, site_id, entry_site_id, ani, dnis, queue_id, customer_id, agent_id, started_at,
                      queued_at, offered_at, answered_at, ended_at, wait_ms, talk_ms, wrapup_code, final_state,
                      outcome, abandoned, end_reason, overflow_in, overflow_out)
    SELECT moved.id, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26,
           $27, $28, $29
    FROM moved),
  ch AS (
    INSERT INTO contact_history (customer_id, call_id, at, channel, summary)
    SELECT $14, moved.id, $6, $30, $31 FROM moved WHERE $14::text IS NOT NULL),
  ob AS (
    INSERT INTO outbox (id, type, site_id, aggregate_id, occurred_at_ms, schema_version, payload)
    SELECT $32, $33, $34, moved.id, $35, $36, $37::jsonb FROM moved
    ON CONFLICT (id) DO NOTHING)
  SELECT moved.* FROM was LEFT JOIN moved ON true`;

/** A call moved while it was being ended this many times in a row: give up (`conflict`). */
const END_CALL_TRIES = 5;

/**
 * End a call: terminal state + timeline entry + CDR + contact history + `call.ended`, all or
 * nothing. Two round trips (a read, then one guarded statement), not the nine of a transaction
 * of single statements: the store's writes are bound by their round trips (docs/operations.md
 * §8.7). The CDR is built here from what was read, so the write is refused, and the call read
 * again, if the call changed in between. Ending a call that has already ended writes nothing
 * and returns the stored CDR (idempotent), whatever terminal state was asked for.
 */
export async function endCallTx(
  db: Queryable,
  ctx: StoreContext,
  req: EndCallRequest,
): Promise<EndCallResult> {
  requireText('reason', req.reason);
  for (let attempt = 1; ; attempt++) {
    const read = await query<
      CallRow & { timeline: Array<Omit<TimelineEntry, 'atMs'> & { at: string }>; row_version: string }
    >(db, READ_FOR_END_SQL, [req.callId]);
    const row = read.rows[0];
    if (!row) throw notFound('call', req.callId);
    if (isTerminal(row.state)) {
      const cdr = await getCdr(db, req.callId);
      if (!cdr) throw new DomainError('internal', `call ${req.callId} is ${row.state} but has no CDR`);
      return { call: toCall(row), cdr, alreadyEnded: true };
    }
    const to = req.state ?? 'ended';
    checkCallTransition(req.callId, row.state, to);
    if ((to === 'overflowed') !== (req.overflowOut !== undefined)) {
      throw new DomainError(
        'invalid-argument',
        `overflowOut: a call ends overflowed exactly when it names the site and token it left with`,
        { field: 'overflowOut' },
      );
    }
    const now = ctx.clock.now();
    const before: TimelineEntry[] = row.timeline.map((t) => ({
      seq: t.seq,
      atMs: new Date(t.at).getTime(),
      state: t.state,
      event: t.event,
      detail: t.detail,
    }));
    const lastSeq = before.at(-1)?.seq ?? 0;
    const detail = req.detail ?? {};
    const ending: TimelineEntry = { seq: lastSeq + 1, atMs: now, state: to, event: req.reason, detail };
    const was = toCall(row);
    const cdr = buildCdr(
      {
        callId: was.callId,
        siteId: ctx.siteId,
        entrySiteId: was.entrySiteId,
        ani: was.ani,
        dnis: was.dnis,
        queueId: was.queueId,
        customerId: was.customerId,
        agentId: was.agentId,
        startedAtMs: was.createdAtMs,
        timeline: [...before, ending],
        finalState: to,
        endedAtMs: now,
        endReason: req.reason,
        ...(row.overflow_in ? { overflowIn: row.overflow_in } : {}),
        ...(req.overflowOut ? { overflowOut: req.overflowOut } : {}),
      },
      req.cdr,
    );
    const env = makeEvent({
      type: 'call.ended',
      siteId: ctx.siteId,
      aggregateId: was.callId,
      occurredAtMs: now,
      schemaVersion: 2,
      payload: {
        from: row.state,
        to,
        reason: req.reason,
        ...(req.detail ? { detail: req.detail } : {}),
        cdr: cdr as unknown as Record<string, unknown>,
      },
    });
    const optTs = (ms: number | undefined) => (ms === undefined ? null : ts(ms));
    const w = await query<CallRow>(db, END_CALL_SQL, [
      req.callId,
      row.state,
      row.row_version,
      lastSeq,
      to,
      ts(now),
      req.reason,
      JSON.stringify(detail),
      cdr.siteId,
      cdr.entrySiteId,
      cdr.ani,
      cdr.dnis,
      cdr.queueId ?? null,
      cdr.customerId ?? null,
      cdr.agentId ?? null,
      ts(cdr.startedAtMs),
      optTs(cdr.queuedAtMs),
      optTs(cdr.offeredAtMs),
      optTs(cdr.answeredAtMs),
      ts(cdr.endedAtMs),
      cdr.waitMs,
      cdr.talkMs,
      cdr.wrapupCode ?? null,
      cdr.finalState,
      cdr.outcome,
      cdr.abandoned,
      cdr.endReason,
      cdr.overflowIn ? JSON.stringify(cdr.overflowIn) : null,
      cdr.overflowOut ? JSON.stringify(cdr.overflowOut) : null,
      cdr.answeredAtMs === undefined ? 'voice-ivr' : 'voice-agent',
      [cdr.outcome, was.queueId, cdr.wrapupCode].filter(Boolean).join(' / '),
      ...outboxValues(env),
    ]);
    const ended = w.rows[0];
    if (!ended) throw notFound('call', req.callId);
    if (ended.id !== null) return { call: toCall(ended), cdr, alreadyEnded: false };
    if (attempt >= END_CALL_TRIES) {
      throw new DomainError('conflict', `call ${req.callId} kept changing while it was being ended`);
    }
  }
}

export function endCall(ctx: StoreContext, req: EndCallRequest): Promise<EndCallResult> {
  return endCallTx(ctx.pool, ctx, req);
}

export async function getCall(db: pg.Pool | pg.PoolClient, callId: string): Promise<CallRecord | undefined> {
  const r = await query<CallRow>(db, `SELECT * FROM calls WHERE id = $1`, [callId]);
  return r.rows[0] ? toCall(r.rows[0]) : undefined;
}

/** Calls not in a terminal state, oldest first. */
export async function listLiveCalls(db: pg.Pool | pg.PoolClient): Promise<CallRecord[]> {
  const r = await query<CallRow>(db, `SELECT * FROM calls WHERE ended_at IS NULL ORDER BY created_at, id`);
  return r.rows.map(toCall);
}

export async function getTimeline(db: pg.Pool | pg.PoolClient, callId: string): Promise<TimelineEntry[]> {
  const r = await query<{
    seq: number;
    at: Date;
    state: CallState;
    event: string;
    detail: Record<string, unknown>;
  }>(db, `SELECT seq, at, state, event, detail FROM call_timeline WHERE call_id = $1 ORDER BY seq`, [callId]);
  return r.rows.map((x) => ({
    seq: x.seq,
    atMs: x.at.getTime(),
    state: x.state,
    event: x.event,
    detail: x.detail,
  }));
}

interface CdrRow {
  call_id: string;
  site_id: string;
  entry_site_id: string;
  ani: string;
  dnis: string;
  queue_id: string | null;
  customer_id: string | null;
  agent_id: string | null;
  started_at: Date;
  queued_at: Date | null;
  offered_at: Date | null;
  answered_at: Date | null;
  ended_at: Date;
  wait_ms: string;
  talk_ms: string;
  wrapup_code: string | null;
  final_state: TerminalCallState;
  outcome: Cdr['outcome'];
  abandoned: boolean;
  end_reason: string;
  overflow_in: OverflowIn | null;
  overflow_out: OverflowOut | null;
}

export async function getCdr(db: Queryable, callId: string): Promise<Cdr | undefined> {
  const r = await query<CdrRow>(db, `SELECT * FROM cdrs WHERE call_id = $1`, [callId]);
  const x = r.rows[0];
  if (!x) return undefined;
  const recording = await getRecording(db, callId);
  return {
    callId: x.call_id,
    siteId: x.site_id,
    entrySiteId: x.entry_site_id,
    ani: x.ani,
    dnis: x.dnis,
    queueId: x.queue_id ?? undefined,
    customerId: x.customer_id ?? undefined,
    agentId: x.agent_id ?? undefined,
    startedAtMs: x.started_at.getTime(),
    queuedAtMs: x.queued_at?.getTime(),
    offeredAtMs: x.offered_at?.getTime(),
    answeredAtMs: x.answered_at?.getTime(),
    endedAtMs: x.ended_at.getTime(),
    waitMs: Number(x.wait_ms),
    talkMs: Number(x.talk_ms),
    wrapupCode: x.wrapup_code ?? undefined,
    finalState: x.final_state,
    outcome: x.outcome,
    abandoned: x.abandoned,
    endReason: x.end_reason,
    ...(x.overflow_in ? { overflowIn: x.overflow_in } : {}),
    ...(x.overflow_out ? { overflowOut: x.overflow_out } : {}),
    ...(recording ? { recording } : {}),
  };
}
