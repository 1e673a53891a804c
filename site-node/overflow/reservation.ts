/**
 * The target's side of the overflow protocol (docs/architecture.md §5.9): offers in, accepts
 * or refusals out, reservations held until a commit or their deadline. Pure:
 * `reservationStep(book, event, nowMs, options) -> { book, commands }`; the adapter gives it
 * the site's own state with each offer (ready agents, expected wait) and a fresh random token
 * (node:crypto, so the core stays deterministic).
 *
 * One reservation per token, each:
 *
 *          accept                  commit (right token, before the deadline)
 *   (offer) -----> held ----------------------------------------------> admitted
 *                   |  cancel, deadline                                  (once; a repeated commit
 *                   v                                                     is acked again)
 *                released  (the token is dead: a later commit is refused)
 *
 * - Accept when a ready agent of the queue is not already promised to another reservation, or
 *   the expected wait is within the caller's remaining patience; otherwise refuse.
 * - The admitted call ranks by its ORIGINAL enqueue time: `now - waitedMs` in this site's clock.
 * - A reservation never outlives its deadline: a commit at or after it is refused (even if the
 *   deadline's timer has not fired yet) and the timer releases it.
 * - Duplicates get the same answer: an offer of a request already answered is answered again
 *   the same way (same token); a repeated commit of an admitted token is acked, never admitted
 *   twice. A commit naming a token this site did not issue, or issued for another request, is
 *   refused. The refusal of a commit names the token, which tells the origin the call was not
 *   admitted and never will be under it (origin.ts relies on exactly this).
 * - Forgetting (sweep): a released token or a refusal is forgotten `retainMs` after it ended;
 *   a commit naming it later is refused as unknown, which is the truth (it was not admitted).
 *   An admitted token is kept `retainAdmittedMs` (a day): refusing a commit for an admitted
 *   call would send the origin's copy home while this site offers it. An origin resends its
 *   commit only until it hears back (origin.ts), never for a day: its caller is long gone.
 */
import { DomainError } from '../../shared/errors.js';
import type { AttachedData } from '../acd/types.js';
import type { OverflowMessage, RequestMessage } from './messages.js';

export type ReservationStatus = 'held' | 'admitted' | 'released';

export interface Reservation {
  token: string;
  requestId: string;
  callId: string;
  origin: string;
  queueId: string;
  priority: number;
  /** The caller's original enqueue time, in this site's clock. */
  enqueueMs: number;
  attached: AttachedData;
  deadlineMs: number;
  status: ReservationStatus;
  /** When it was admitted or released (for the sweep). */
  endedMs: number | null;
}

export interface ReservationBook {
  site: string;
  byToken: Map<string, Reservation>;
  /** Each request's answer: its token, or the reason it was refused. */
  byRequest: Map<string, { token: string } | { refused: string; atMs: number }>;
}

export interface ReservationOptions {
  /** How long an accepted reservation is held for the commit. */
  holdMs: number;
  /** How long a released reservation or a refusal is remembered. */
  retainMs: number;
  /** How long an admitted reservation is remembered (see the header: much longer). */
  retainAdmittedMs: number;
}

export const DEFAULT_RESERVATION_OPTIONS: ReservationOptions = {
  holdMs: 3_000,
  retainMs: 600_000,
  retainAdmittedMs: 86_400_000,
};

/** This site's own state for the offered queue, read by the adapter when the offer arrives. */
export interface LocalQueueState {
  /** The site offers the queue at all (the topology says so, but the ACD decides). */
  offersQueue: boolean;
  /** Agents ready now who may take the call (the queue's skill). */
  readyAgents: number;
  /** Expected wait of a call joining now, or null when unknown. */
  expectedWaitMs: number | null;
}

export type ReservationEvent =
  | { type: 'offer'; request: RequestMessage; token: string; local: LocalQueueState }
  | { type: 'message'; message: OverflowMessage }
  | { type: 'timer-fired'; id: string }
  /** Forget answers older than retainMs (run now and then). */
  | { type: 'sweep' };

export type ReservationCommand =
  | { type: 'send'; message: OverflowMessage }
  /** Queue the call here at its original place, with its data; it came from `origin`. */
  | {
      type: 'admit-call';
      callId: string;
      queueId: string;
      priority: number;
      enqueueMs: number;
      origin: string;
      token: string;
      attached: AttachedData;
    }
  | { type: 'start-timer'; id: string; atMs: number }
  | { type: 'cancel-timer'; id: string };

export interface ReservationStepResult {
  book: ReservationBook;
  commands: ReservationCommand[];
}

export const emptyBook = (site: string): ReservationBook => ({
  site,
  byToken: new Map(),
  byRequest: new Map(),
});

const timerOf = (token: string): string => `reservation:${token}`;

/** Reservations held now for a queue (each promises one ready agent). */
export function heldFor(book: ReservationBook, queueId: string): number {
  let n = 0;
  for (const r of book.byToken.values()) if (r.status === 'held' && r.queueId === queueId) n++;
  return n;
}

/** Why this site cannot take the call, or null to accept. */
function refusal(book: ReservationBook, req: RequestMessage, local: LocalQueueState): string | null {
  if (!local.offersQueue) return `site ${book.site} does not offer queue ${req.queueId}`;
  if (local.readyAgents > heldFor(book, req.queueId)) return null;
  if (local.expectedWaitMs !== null && req.patienceMs !== null && local.expectedWaitMs <= req.patienceMs) {
    return null;
  }
  return 'no agent ready and the expected wait is beyond the caller';
}

function accept(book: ReservationBook, r: Reservation, nowMs: number): OverflowMessage {
  return {
    kind: 'accept',
    requestId: r.requestId,
    target: book.site,
    token: r.token,
    holdMs: r.deadlineMs - nowMs,
  };
}

function refuse(
  book: ReservationBook,
  requestId: string,
  token: string | null,
  reason: string,
): ReservationCommand {
  return { type: 'send', message: { kind: 'refuse', requestId, target: book.site, token, reason } };
}

function release(r: Reservation, nowMs: number): void {
  r.status = 'released';
  r.endedMs = nowMs;
}

function onOffer(
  book: ReservationBook,
  e: Extract<ReservationEvent, { type: 'offer' }>,
  nowMs: number,
  o: ReservationOptions,
): ReservationCommand[] {
  const req = e.request;
  const known = book.byRequest.get(req.requestId);
  if (known) {
    // A duplicate: the same answer again (a held reservation with what is left of it).
    if ('refused' in known) return [refuse(book, req.requestId, null, known.refused)];
    const r = book.byToken.get(known.token)!;
    if (r.status === 'held') return [{ type: 'send', message: accept(book, r, nowMs) }];
    if (r.status === 'released') return [refuse(book, req.requestId, null, 'reservation released')];
    return []; // admitted: the origin has its answer (commit-ack)
  }
  if (book.byToken.has(e.token)) {
    // Tokens are one-time: a repeated one is the adapter's bug, never the peer's.
    throw new DomainError('internal', `overflow token issued twice at site ${book.site}`);
  }
  const why = refusal(book, req, e.local);
  if (why !== null) {
    book.byRequest.set(req.requestId, { refused: why, atMs: nowMs });
    return [refuse(book, req.requestId, null, why)];
  }
  const r: Reservation = {
    token: e.token,
    requestId: req.requestId,
    callId: req.callId,
    origin: req.origin,
    queueId: req.queueId,
    priority: req.priority,
    enqueueMs: nowMs - req.waitedMs,
    attached: req.attached,
    deadlineMs: nowMs + o.holdMs,
    status: 'held',
    endedMs: null,
  };
  book.byToken.set(r.token, r);
  book.byRequest.set(r.requestId, { token: r.token });
  return [
    { type: 'send', message: accept(book, r, nowMs) },
    { type: 'start-timer', id: timerOf(r.token), atMs: r.deadlineMs },
  ];
}

function onCommit(
  book: ReservationBook,
  requestId: string,
  token: string,
  nowMs: number,
): ReservationCommand[] {
  const r = book.byToken.get(token);
  if (!r || r.requestId !== requestId) return [refuse(book, requestId, token, 'unknown token')];
  switch (r.status) {
    case 'admitted':
      return [{ type: 'send', message: { kind: 'commit-ack', requestId, target: book.site, token } }];
    case 'released':
      return [refuse(book, requestId, token, 'reservation released')];
    case 'held':
      if (nowMs >= r.deadlineMs) {
        release(r, nowMs);
        return [
          { type: 'cancel-timer', id: timerOf(token) },
          refuse(book, requestId, token, 'reservation expired'),
        ];
      }
      r.status = 'admitted';
      r.endedMs = nowMs;
      return [
        { type: 'cancel-timer', id: timerOf(token) },
        {
          type: 'admit-call',
          callId: r.callId,
          queueId: r.queueId,
          priority: r.priority,
          enqueueMs: r.enqueueMs,
          origin: r.origin,
          token,
          attached: r.attached,
        },
        { type: 'send', message: { kind: 'commit-ack', requestId, target: book.site, token } },
      ];
  }
}

function onCancel(
  book: ReservationBook,
  requestId: string,
  token: string | null,
  nowMs: number,
): ReservationCommand[] {
  const answer = book.byRequest.get(requestId);
  const t = token ?? (answer && 'token' in answer ? answer.token : undefined);
  const r = t === undefined ? undefined : book.byToken.get(t);
  // Only a held reservation of that very request lets go; an admitted call is this site's now.
  if (!r || r.requestId !== requestId || r.status !== 'held') return [];
  release(r, nowMs);
  return [{ type: 'cancel-timer', id: timerOf(r.token) }];
}

function sweep(book: ReservationBook, nowMs: number, o: ReservationOptions): void {
  for (const [token, r] of book.byToken) {
    const keepMs = r.status === 'admitted' ? o.retainAdmittedMs : o.retainMs;
    if (r.endedMs !== null && nowMs - r.endedMs >= keepMs) {
      book.byToken.delete(token);
      book.byRequest.delete(r.requestId);
    }
  }
  for (const [requestId, a] of book.byRequest) {
    if ('refused' in a && nowMs - a.atMs >= o.retainMs) book.byRequest.delete(requestId);
  }
}

/** The book is changed in place and returned (as the ACD core does, docs/architecture.md §3.1). */
export function reservationStep(
  book: ReservationBook,
  e: ReservationEvent,
  nowMs: number,
  o: ReservationOptions,
): ReservationStepResult {
  let commands: ReservationCommand[] = [];
  switch (e.type) {
    case 'offer':
      commands = onOffer(book, e, nowMs, o);
      break;
    case 'message':
      if (e.message.kind === 'commit') commands = onCommit(book, e.message.requestId, e.message.token, nowMs);
      else if (e.message.kind === 'cancel')
        commands = onCancel(book, e.message.requestId, e.message.token, nowMs);
      break; // anything else is not for the target
    case 'timer-fired': {
      const token = e.id.startsWith('reservation:') ? e.id.slice('reservation:'.length) : undefined;
      const r = token === undefined ? undefined : book.byToken.get(token);
      if (r && r.status === 'held' && nowMs >= r.deadlineMs) release(r, nowMs);
      break;
    }
    case 'sweep':
      sweep(book, nowMs, o);
      break;
  }
  return { book, commands };
}
