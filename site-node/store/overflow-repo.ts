/**
 * The records of a call's move between sites (docs/architecture.md §5.9 "Records", §7.1), both
 * ends, each in one transaction with its outbox event:
 *
 *   target  admitOverflow   the moved-in call (state `queued`, its timeline starting
 *                           `overflow-in` with the origin) AND the admitted reservation
 *                           -> call.created (schemaVersion 2, `overflowIn` set)
 *   origin  endOverflowed   the call ends `overflowed` naming the target and the token
 *                           -> call.ended (its CDR's `overflowOut`)
 *
 * Why the reservation is written with the call: a target restarted after admitting must answer
 * a resent commit with the same ack (reservation.ts keeps its book in memory and rebuilds the
 * admitted part from `readAdmittedReservations`); were the two apart, a crash between them
 * would leave a call here that the book does not know, or a token acked for no call.
 *
 * Why the moved-in call gets its own id (`<target>-<ULID>`, naming the origin's in
 * `overflowIn.originCallId`) and not the origin's: each site's records are its own (the hub
 * keys `call_facts` by call id and keeps the first `call.ended` it stores for an id, so with
 * one id for both the origin's `overflowed` end could hide the answer at the target, or the
 * other way round, by which site shipped first), Kafka keys a call's events by aggregate id
 * and orders them only within one site's outbox, and a call id says the site that made it
 * (§4.1). The link between the two records is `overflowIn` (the target's) and the token (both).
 *
 * Admitting is idempotent per origin call: a repeated admit with the same token changes
 * nothing and returns the call it made; another token for an origin call already admitted
 * here, or the same token for another call, is refused (`conflict`), as is bad input
 * (`invalid-argument`, every field named); each refusal is logged once here, with the origin
 * site and why, so callers do not log it again.
 */
import type pg from 'pg';
import { z } from 'zod';
import { conflict, DomainError, isDomainError } from '../../shared/errors.js';
import { isSiteId } from '../../shared/ids.js';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { parseOrThrow } from '../../shared/validate.js';
import { createCallTx, endCallTx, getCall, type CallRecord, type EndCallResult } from './calls-repo.js';
import { ts, type StoreContext } from './context.js';

const text = z.string().min(1).max(200);
const siteId = z.string().refine(isSiteId, 'must be a site id (^[a-z][a-z0-9-]{1,31}$)');
const durationMs = z.number().int().nonnegative();

const admitSchema = z
  .object({
    token: text,
    requestId: text,
    originSiteId: siteId,
    originCallId: text,
    queueId: text,
    priority: z.number().int(),
    /** The time the caller had already waited at the origin (the request's `waitedMs`). */
    waitedMs: durationMs,
    /** The request's `hops` (moves before this one); the call here has hops + 1. */
    hops: z.number().int().nonnegative(),
    /** The request's `visitedSiteIds`: every site the call has been at, the origin included. */
    visitedSiteIds: z.array(siteId).min(1),
    ani: text,
    dnis: text,
    customerId: text.optional(),
    ivrPath: z.array(z.string()).default([]),
    attached: z.record(z.string(), z.string()).default({}),
  })
  .strict()
  .superRefine((v, c) => {
    if (!v.visitedSiteIds.includes(v.originSiteId)) {
      c.addIssue({
        code: 'custom',
        path: ['visitedSiteIds'],
        message: `must include the origin ${v.originSiteId}`,
      });
    }
  });

export type OverflowAdmit = z.input<typeof admitSchema>;

export interface AdmitResult {
  call: CallRecord;
  /** False when this token had already been admitted: nothing was written, `call` is the one made then. */
  admitted: boolean;
}

/** An admitted reservation as the target's book needs it back after a restart. */
export interface AdmittedReservation {
  token: string;
  requestId: string;
  originSiteId: string;
  originCallId: string;
  /** This site's record of the call. */
  callId: string;
  queueId: string;
  priority: number;
  /** The wait at the origin it was admitted with (its original enqueue time is admitted - waited). */
  waitedMs: number;
  admittedAtMs: number;
  /** This site's record of the call is still open (crash recovery ends the ones it finds open). */
  callOpen: boolean;
}

interface ReservationRow {
  token: string;
  request_id: string;
  origin_site_id: string;
  origin_call_id: string;
  call_id: string;
  queue_id: string;
  admitted_at: Date;
}

/** Admit a moved-in call and its reservation in the caller's transaction (see the header). */
export async function admitOverflowTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  input: OverflowAdmit,
): Promise<AdmitResult> {
  const a = parseOrThrow(admitSchema, input, 'admit');
  if (a.visitedSiteIds.includes(ctx.siteId)) {
    throw new DomainError(
      'invalid-argument',
      `admit.visitedSiteIds: call ${a.originCallId} has already been at ${ctx.siteId}; it never moves back`,
      { field: 'admit.visitedSiteIds' },
    );
  }
  // One admit at a time per origin call: a repeat waits for the first and then finds it.
  await query(client, `SELECT pg_advisory_xact_lock(hashtext($1))`, [
    `overflow:${a.originSiteId}/${a.originCallId}`,
  ]);
  const existing = await query<ReservationRow>(
    client,
    `SELECT * FROM overflow_reservations WHERE token = $1 OR (origin_site_id = $2 AND origin_call_id = $3)`,
    [a.token, a.originSiteId, a.originCallId],
  );
  for (const r of existing.rows) {
    if (r.token !== a.token) {
      throw conflict(
        `call ${a.originCallId} of ${a.originSiteId} was already admitted here under another token (call ${r.call_id})`,
      );
    }
    if (
      r.origin_site_id !== a.originSiteId ||
      r.origin_call_id !== a.originCallId ||
      r.request_id !== a.requestId
    ) {
      throw conflict(
        `token ${a.token} was admitted for request ${r.request_id} (call ${r.origin_call_id} of ${r.origin_site_id}), not ${a.requestId}`,
      );
    }
    const call = await getCall(client, r.call_id);
    if (!call)
      throw new DomainError('internal', `reservation ${a.token} names call ${r.call_id}, which is missing`);
    return { call, admitted: false };
  }
  const visited = [...a.visitedSiteIds, ctx.siteId];
  const call = await createCallTx(client, ctx, {
    ani: a.ani,
    dnis: a.dnis,
    // The site the caller first reached: the first visited (the origin, with one hop).
    entrySiteId: visited[0]!,
    state: 'queued',
    queueId: a.queueId,
    priority: a.priority,
    ...(a.customerId ? { customerId: a.customerId } : {}),
    ivrPath: a.ivrPath,
    attached: a.attached,
    hops: a.hops + 1,
    visitedSiteIds: visited,
    overflowIn: {
      originSiteId: a.originSiteId,
      originCallId: a.originCallId,
      token: a.token,
      waitedMs: a.waitedMs,
    },
  });
  await query(
    client,
    `INSERT INTO overflow_reservations (token, request_id, origin_site_id, origin_call_id, call_id, queue_id, admitted_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [a.token, a.requestId, a.originSiteId, a.originCallId, call.callId, a.queueId, ts(call.createdAtMs)],
  );
  return { call, admitted: true };
}

/** `admitOverflowTx` in a transaction of its own; a refusal is logged here, once. */
export async function admitOverflow(ctx: StoreContext, input: OverflowAdmit): Promise<AdmitResult> {
  try {
    return await withTransaction(ctx.pool, (c) => admitOverflowTx(c, ctx, input));
  } catch (e) {
    if (isDomainError(e, 'invalid-argument') || isDomainError(e, 'conflict')) {
      const i = (typeof input === 'object' && input !== null ? input : {}) as Partial<
        Record<string, unknown>
      >;
      ctx.log.warn('overflow admit refused', {
        originSiteId: i.originSiteId,
        originCallId: i.originCallId,
        requestId: i.requestId,
        err: e,
      });
    }
    throw e;
  }
}

export interface OverflowedEnd {
  callId: string;
  toSiteId: string;
  token: string;
}

const endSchema = z.object({ callId: text, toSiteId: siteId, token: text }).strict();

/**
 * The origin's end of a move: the call (queued here) ends `overflowed`, its timeline entry and
 * CDR naming the target and the token. Like every end, idempotent: a call that has already
 * ended writes nothing and the result says `alreadyEnded` with the CDR it has (a caller who hung
 * up first is `abandoned` there, and the caller of this must tell the target, §5.9).
 */
export async function endOverflowedTx(
  client: pg.PoolClient,
  ctx: StoreContext,
  req: OverflowedEnd,
): Promise<EndCallResult> {
  const r = parseOrThrow(endSchema, req, 'overflowed');
  if (r.toSiteId === ctx.siteId) {
    throw new DomainError(
      'invalid-argument',
      `overflowed.toSiteId: a call cannot move to its own site ${ctx.siteId}`,
      {
        field: 'overflowed.toSiteId',
      },
    );
  }
  return endCallTx(client, ctx, {
    callId: r.callId,
    state: 'overflowed',
    reason: 'overflowed',
    detail: { toSiteId: r.toSiteId, token: r.token },
    overflowOut: { toSiteId: r.toSiteId, token: r.token },
  });
}

export async function endOverflowed(ctx: StoreContext, req: OverflowedEnd): Promise<EndCallResult> {
  try {
    return await withTransaction(ctx.pool, (c) => endOverflowedTx(c, ctx, req));
  } catch (e) {
    if (isDomainError(e, 'invalid-argument') || isDomainError(e, 'failed-precondition')) {
      ctx.log.warn('overflowed end refused', { callId: req.callId, toSiteId: req.toSiteId, err: e });
    }
    throw e;
  }
}

/**
 * The reservations admitted here since `sinceMs` (this site's clock), oldest first: what the
 * target's book is rebuilt from at start (its admitted tokens are kept a day, reservation.ts).
 */
export async function readAdmittedReservations(
  db: pg.Pool | pg.PoolClient,
  sinceMs: number,
): Promise<AdmittedReservation[]> {
  const r = await query<ReservationRow & { priority: number; waited_ms: string; call_open: boolean }>(
    db,
    `SELECT r.*, c.priority, (c.overflow_in ->> 'waitedMs') AS waited_ms, c.ended_at IS NULL AS call_open
       FROM overflow_reservations r JOIN calls c ON c.id = r.call_id
      WHERE r.admitted_at >= $1
      ORDER BY r.admitted_at, r.token`,
    [ts(sinceMs)],
  );
  return r.rows.map((x) => ({
    token: x.token,
    requestId: x.request_id,
    originSiteId: x.origin_site_id,
    originCallId: x.origin_call_id,
    callId: x.call_id,
    queueId: x.queue_id,
    priority: x.priority,
    waitedMs: Number(x.waited_ms),
    admittedAtMs: x.admitted_at.getTime(),
    callOpen: x.call_open,
  }));
}
