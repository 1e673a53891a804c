/**
 * The target's side of the overflow protocol (docs/architecture.md §5.9): offers in, accepts
 * or refusals out, reservations held until a commit or their deadline. Pure:
 * `reservationStep(book, event, nowMs, options) -> { book, commands }`; the adapter gives it
 * the site's own state with each offer (ready agents, expected wait) and a fresh random token
 * (node:crypto, so the core stays deterministic).
 *
 * One reservation per token, each:
 *
 *          accept          commit (right token,            admit-done (the ACD admitted it
 *   (offer) -----> held --- before the deadline) --> admitting --- and the row is durable) --> admitted
 *                   |                                     |
 *                   | cancel, deadline, caller-left       | admit-failed
 *                   v                                     v
 *                released  (the token is dead: a later commit or caller-left is refused)
 *
 * - Accept by the hub's rule (docs/architecture.md §5.8 `no-capacity`), so the two judge
 *   alike: a ready agent of the queue not already promised to another held reservation; else
 *   agents serving the queue and the caller's patience unknown or at least the expected wait
 *   (an unknown expected wait fits only an unknown patience); else refuse. Also refused: a
 *   queue this site does not run, a caller who has already waited the queue's `maxWaitMs`
 *   (admitted, it would fall back at once), a site with no trunk free for it (`no-trunk`: its
 *   free trunks, given by the adapter, all promised to held reservations and admits in
 *   progress, `trunksPromised`), and a request whose numbers are out of range (the refusal
 *   names the field).
 * - The admitted call ranks by its ORIGINAL enqueue time: `now - waitedMs` in this site's clock.
 * - Its rank (`rankOf`): an overflow call `by-wait` (priority, then that time); a covered call
 *   as its entry says in the topology this site runs (the adapter passes `coverRank`), and
 *   `below-own`, the topology's default, when this site does not know the entry (it runs an
 *   older version): below every own caller of the queue, any priority, later arrivals too
 *   (site-node/acd/routing.ts), ranked by priority and that time among such calls. The offer is
 *   judged on the expected wait AT that rank (`expectedWaitBelowOwnMs` for below-own: every own
 *   caller waiting is ahead of it), so a caller whose patience cannot outlast the site's own
 *   line is refused rather than parked behind it; once admitted, the queue's max wait still
 *   ends its wait from its original time.
 * - The book follows the ACD, never leads it: a commit makes it `admitting` and asks the
 *   adapter to admit (`admit-call`); only the adapter's `admit-done` (the ACD admitted it AND
 *   the admitted row is committed with it) sends the `commit-ack`, and `admit-failed` the
 *   refusal naming the token. A commit repeated meanwhile gets no answer: the origin resends.
 * - A reservation never outlives its deadline: a commit at or after it is refused, a repeated
 *   offer is answered as released, and it promises no agent any more (`heldFor`), even if the
 *   deadline's timer has not fired yet (a late timer); the timer releases it. Once `admitting`,
 *   the deadline was met: neither the timer nor a cancel lets it go.
 * - Only the origin speaks for its reservation: a commit, cancel or caller-left (or a repeated
 *   offer) from any other site is not acted on and is reported once (`wrong-sender`, the adapter
 *   logs it). The hub stamps `fromSiteId` from the sender's certificate, but a hub that forgot
 *   the request relays by `toSiteId` alone, so this check is the site's own (§5.8). It is not
 *   answered: the answer would name the token to a site it was never given to.
 * - The caller hung up after the commit (`caller-left`): a held reservation is released and
 *   refused (never admitted), an admitted call is ended (`end-admitted`, once) and acked, an
 *   unknown or released token refused; while admitting the answer waits for the adapter's.
 *   Every token's answer is the same whichever message asks: commit-ack (admitted) or refuse.
 * - Duplicates get the same answer: an offer of a request already answered is answered again
 *   the same way (same token); a repeated commit of an admitted token is acked, never admitted
 *   twice. A commit naming a token this site did not issue, or issued for another request, is
 *   refused. The refusal of a commit names the token, which tells the origin the call was not
 *   admitted and never will be under it (origin.ts relies on exactly this).
 * - A restart: `bookFromAdmitted` rebuilds a book from the admitted rows, for a target whose
 *   admitted calls outlive its book (the property test restarts books, not ACDs). A site's
 *   admitted calls die with its process, so its adapter starts with an empty book
 *   (runtime/overflow-target.ts): a resent commit for one of them is refused as unknown, and
 *   so is one for a held reservation, which is the truth (it was not admitted) and safe (the
 *   call goes back to its place at home).
 * - Forgetting (sweep): a released token or a refusal is forgotten `retainMs` after it ended;
 *   a commit naming it later is refused as unknown, which is the truth (it was not admitted).
 *   An admitted token is kept `retainAdmittedMs` (a day): refusing a commit for an admitted
 *   call would send the origin's copy home while this site offers it.
 */
import { DomainError, failedPrecondition } from '../../shared/errors.js';
import { DEFAULT_COVER_RANK, type CoverRank } from '../../shared/topology/schema.js';
import { throwInvalid } from '../../shared/validate.js';
import {
  NO_CALL_DATA,
  type CallData,
  type OverflowMessage,
  type RequestMessage,
  type WrongSender,
} from './messages.js';

export type ReservationStatus = 'held' | 'admitting' | 'admitted' | 'released';

export interface Reservation {
  token: string;
  requestId: string;
  callId: string;
  /** The origin site. */
  fromSiteId: string;
  queueId: string;
  priority: number;
  /** The caller's original enqueue time, in this site's clock. */
  enqueueMs: number;
  /** How it ranks among this site's callers once admitted (`rankOf`). */
  rank: CoverRank;
  /** The call's hops once here (the request's + 1) and the sites it was at before, home first. */
  hops: number;
  visitedSiteIds: readonly string[];
  data: CallData;
  deadlineMs: number;
  status: ReservationStatus;
  /** When it was admitted or released (for the sweep). */
  endedMs: number | null;
  /** The origin said the caller hung up (an admitted call is ended once). */
  callerLeft: boolean;
}

/**
 * What the adapter stores for an admitted reservation, in the transaction that admits the call
 * into the ACD: plain, serializable, enough to answer a resent commit after a restart.
 */
export interface AdmittedRow {
  token: string;
  requestId: string;
  callId: string;
  fromSiteId: string;
  queueId: string;
  /** In this site's clock. */
  admittedAtMs: number;
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

/**
 * This site's own state for the offered queue, read by the adapter when the offer arrives
 * (names as in the hub's snapshot, docs/architecture.md §5.8).
 */
export interface LocalQueueState {
  /** The site runs the queue at all (the topology says so, but the ACD decides). */
  offersQueue: boolean;
  /** Agents ready now who may take the call (the queue's skill). */
  agentsReady: number;
  /** Agents logged in with the queue's skill, whatever their state. */
  agentsServing: number;
  /** Expected wait of a call of the caller's priority joining now; null = unknown. */
  expectedWaitMs: number | null;
  /** The same for a call ranked below every own caller (a below-own cover call); null = unknown. */
  expectedWaitBelowOwnMs: number | null;
  /** The queue's max wait; null = none. */
  maxWaitMs: number | null;
  /**
   * Trunks of the site not held by a call now (its `trunks` less its live calls): a moved-in
   * call holds one like any call, and with real voice the origin's INVITE takes it. Absent or
   * null: no trunk limit to judge (the pure simulations have none).
   */
  trunksFree?: number | null;
}

export type ReservationEvent =
  | {
      type: 'offer';
      request: RequestMessage;
      token: string;
      local: LocalQueueState;
      /**
       * The rank the topology this site runs gives the cover entry the request names; null or
       * absent when it has no such entry (or the request is under an overflow policy).
       */
      coverRank?: CoverRank | null;
    }
  | { type: 'message'; message: OverflowMessage }
  /** The adapter's answer to `admit-call`: the ACD admitted the call and the row is durable. */
  | { type: 'admit-done'; token: string }
  /** The adapter's answer to `admit-call`: the ACD did not admit it (nothing was stored). */
  | { type: 'admit-failed'; token: string; reason: string }
  | { type: 'timer-fired'; id: string }
  /** Forget answers older than retainMs (run now and then). */
  | { type: 'sweep' };

export type ReservationCommand =
  | { type: 'send'; message: OverflowMessage }
  /**
   * Queue the call here at its original place, with its data, and store `row` with it in one
   * transaction; answer `admit-done` or `admit-failed`. `fromSiteId` and `token` are the
   * `overflow-in` record's facts.
   */
  | {
      type: 'admit-call';
      callId: string;
      queueId: string;
      priority: number;
      enqueueMs: number;
      /** How it ranks here: below every own caller, or by its wait (`rankOf`). */
      rank: CoverRank;
      fromSiteId: string;
      token: string;
      hops: number;
      visitedSiteIds: readonly string[];
      data: CallData;
      row: AdmittedRow;
    }
  /** The caller of an admitted call hung up at the origin: end it here (if still live). */
  | { type: 'end-admitted'; callId: string; fromSiteId: string; token: string }
  /** A message for a reservation from a site that is not its origin: not acted on; log it once. */
  | WrongSender
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

const isText = (v: unknown): v is string => typeof v === 'string' && v.length > 0;
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v);

/** A book rebuilt at start from the admitted rows (docs/architecture.md §5.9: durable book). */
export function bookFromAdmitted(site: string, rows: readonly AdmittedRow[], nowMs: number): ReservationBook {
  const problems: string[] = [];
  rows.forEach((r, i) => {
    for (const f of ['token', 'requestId', 'callId', 'fromSiteId', 'queueId'] as const) {
      if (!isText(r[f])) problems.push(`rows[${i}].${f}: must be a non-empty string`);
    }
    if (!isTime(r.admittedAtMs)) problems.push(`rows[${i}].admittedAtMs: must be an integer time in ms`);
  });
  if (problems.length > 0) throwInvalid(problems, problems[0]!.slice(0, problems[0]!.indexOf(':')));
  const book = emptyBook(site);
  for (const r of rows) {
    book.byToken.set(r.token, {
      token: r.token,
      requestId: r.requestId,
      callId: r.callId,
      fromSiteId: r.fromSiteId,
      queueId: r.queueId,
      priority: 0,
      enqueueMs: r.admittedAtMs,
      rank: 'by-wait', // not used again: an admitted call is not admitted twice
      hops: 0,
      visitedSiteIds: [],
      data: NO_CALL_DATA,
      deadlineMs: r.admittedAtMs,
      status: 'admitted',
      // A row from a clock that went back is kept its full retention from now.
      endedMs: Math.min(r.admittedAtMs, nowMs),
      callerLeft: false,
    });
    book.byRequest.set(r.requestId, { token: r.token });
  }
  return book;
}

const timerOf = (token: string): string => `reservation:${token}`;

/** Held and not past its deadline: one past it is as good as released, whether or not its timer fired. */
const holds = (r: Reservation, nowMs: number): boolean => r.status === 'held' && nowMs < r.deadlineMs;

/** Reservations held now for a queue (each promises one ready agent). */
export function heldFor(book: ReservationBook, queueId: string, nowMs: number): number {
  let n = 0;
  for (const r of book.byToken.values()) if (r.queueId === queueId && holds(r, nowMs)) n++;
  return n;
}

/**
 * Trunks the book has promised and the adapter's `trunksFree` does not count yet: one per held
 * reservation (not past its deadline) and per admit in progress, whatever the queue. An
 * admitting call the adapter has already adopted is counted twice for a moment: an offer
 * refused a little early is safe, one accepted onto a trunk already taken is not.
 */
export function trunksPromised(book: ReservationBook, nowMs: number): number {
  let n = 0;
  for (const r of book.byToken.values()) if (holds(r, nowMs) || r.status === 'admitting') n++;
  return n;
}

/** The report of a message from a site that is not the reservation's origin (header). */
const wrongSender = (
  r: Reservation,
  m: { kind: OverflowMessage['kind']; fromSiteId: string },
): ReservationCommand => ({
  type: 'wrong-sender',
  requestId: r.requestId,
  kind: m.kind,
  fromSiteId: m.fromSiteId,
  reason: `${m.kind} of ${r.requestId} from site ${m.fromSiteId}, but the reservation is ${r.fromSiteId}'s`,
});

const isMs = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const isCount = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0;

/** The first field of the request that is out of range, as a refusal reason; null = fine. */
function badRequest(req: RequestMessage): string | null {
  if (!isCount(req.priority))
    return `request.priority: must be an integer >= 0 (got ${String(req.priority)})`;
  if (!isMs(req.waitedMs))
    return `request.waitedMs: must be a number of ms >= 0 (got ${String(req.waitedMs)})`;
  if (req.remainingPatienceMs !== null && !isMs(req.remainingPatienceMs)) {
    return `request.remainingPatienceMs: must be a number of ms >= 0, or null when unknown (got ${String(req.remainingPatienceMs)})`;
  }
  if (!isCount(req.hops)) return `request.hops: must be an integer >= 0 (got ${String(req.hops)})`;
  if (!isMs(req.callAgeMs))
    return `request.callAgeMs: must be a number of ms >= 0 (got ${String(req.callAgeMs)})`;
  if (!isText(req.callId)) return 'request.callId: required';
  if (!isText(req.queueId)) return 'request.queueId: required';
  if (!isText(req.fromSiteId)) return 'request.fromSiteId: required';
  return null;
}

/**
 * How a request's call ranks here once admitted (header): an overflow call by its wait; a
 * covered one as its entry says, or the topology's default when this site does not know it.
 */
export function rankOf(
  req: Pick<RequestMessage, 'coverEntryId'>,
  coverRank: CoverRank | null | undefined,
): CoverRank {
  if (req.coverEntryId === null) return 'by-wait';
  return coverRank ?? DEFAULT_COVER_RANK;
}

/** Why this site cannot take the call, or null to accept (the hub's rule, header). */
function refusal(
  book: ReservationBook,
  req: RequestMessage,
  local: LocalQueueState,
  rank: CoverRank,
  nowMs: number,
): string | null {
  if (!local.offersQueue) return `site ${book.site} does not offer queue ${req.queueId}`;
  if (local.maxWaitMs !== null && req.waitedMs >= local.maxWaitMs) {
    return `the caller has waited ${req.waitedMs} ms, at or past queue ${req.queueId}'s max wait of ${local.maxWaitMs} ms`;
  }
  const free = local.trunksFree ?? null;
  if (free !== null) {
    const promised = trunksPromised(book, nowMs);
    if (free <= promised)
      return `no-trunk: site ${book.site} has no trunk free (${free} free, ${promised} promised)`;
  }
  if (local.agentsReady > heldFor(book, req.queueId, nowMs)) return null;
  if (local.agentsServing === 0) return `no agent serves queue ${req.queueId} at site ${book.site}`;
  const patience = req.remainingPatienceMs;
  if (patience === null) return null;
  const belowOwn = rank === 'below-own';
  const ewt = belowOwn ? local.expectedWaitBelowOwnMs : local.expectedWaitMs;
  if (ewt !== null && ewt <= patience) return null;
  const at = belowOwn ? ' (ranked below own callers)' : '';
  return ewt === null
    ? `no agent ready and the expected wait${at} is unknown`
    : `no agent ready and the expected wait${at} of ${ewt} ms is beyond the caller's ${patience} ms`;
}

/** The token's answer once admitted (to a commit, a repeated one, or a caller-left). */
const ackOf = (book: ReservationBook, r: Reservation): ReservationCommand => ({
  type: 'send',
  message: {
    kind: 'commit-ack',
    requestId: r.requestId,
    fromSiteId: book.site,
    toSiteId: r.fromSiteId,
    token: r.token,
  },
});

const acceptOf = (book: ReservationBook, r: Reservation, nowMs: number): ReservationCommand => ({
  type: 'send',
  message: {
    kind: 'accept',
    requestId: r.requestId,
    fromSiteId: book.site,
    toSiteId: r.fromSiteId,
    token: r.token,
    holdMs: r.deadlineMs - nowMs,
  },
});

function refuse(
  book: ReservationBook,
  requestId: string,
  toSiteId: string,
  token: string | null,
  reason: string,
): ReservationCommand {
  return {
    type: 'send',
    message: { kind: 'refuse', requestId, fromSiteId: book.site, toSiteId, token, reason, byHub: false },
  };
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
  const origin = req.fromSiteId;
  const known = book.byRequest.get(req.requestId);
  if (known) {
    // A duplicate: the same answer again (a held reservation with what is left of it).
    if ('refused' in known) return [refuse(book, req.requestId, origin, null, known.refused)];
    const r = book.byToken.get(known.token)!;
    if (r.fromSiteId !== origin) return [wrongSender(r, req)];
    if (r.status === 'held' && nowMs >= r.deadlineMs) {
      // Past its deadline (the timer is late): released now, never offered again.
      release(r, nowMs);
      return [
        { type: 'cancel-timer', id: timerOf(r.token) },
        refuse(book, req.requestId, origin, null, 'reservation expired'),
      ];
    }
    if (r.status === 'held') return [acceptOf(book, r, nowMs)];
    if (r.status === 'released') return [refuse(book, req.requestId, origin, null, 'reservation released')];
    return []; // admitting or admitted: the origin gets its answer to the commit
  }
  if (book.byToken.has(e.token)) {
    // Tokens are one-time: a repeated one is the adapter's bug, never the peer's.
    throw new DomainError('internal', `overflow token issued twice at site ${book.site}`);
  }
  // A bad request is refused naming the field and remembered as nothing (the same request
  // gets the same refusal again anyway).
  const bad = badRequest(req);
  if (bad !== null) return [refuse(book, req.requestId, origin, null, bad)];
  const rank = rankOf(req, e.coverRank);
  const why = refusal(book, req, e.local, rank, nowMs);
  if (why !== null) {
    book.byRequest.set(req.requestId, { refused: why, atMs: nowMs });
    return [refuse(book, req.requestId, origin, null, why)];
  }
  const r: Reservation = {
    token: e.token,
    requestId: req.requestId,
    callId: req.callId,
    fromSiteId: origin,
    queueId: req.queueId,
    priority: req.priority,
    enqueueMs: nowMs - req.waitedMs,
    rank,
    hops: req.hops + 1,
    visitedSiteIds: [...req.visitedSiteIds],
    data: {
      ani: req.ani,
      dnis: req.dnis,
      customerId: req.customerId,
      customerHomeSiteId: req.customerHomeSiteId,
      ivrPath: [...req.ivrPath],
      attached: req.attached,
    },
    deadlineMs: nowMs + o.holdMs,
    status: 'held',
    endedMs: null,
    callerLeft: false,
  };
  book.byToken.set(r.token, r);
  book.byRequest.set(r.requestId, { token: r.token });
  return [acceptOf(book, r, nowMs), { type: 'start-timer', id: timerOf(r.token), atMs: r.deadlineMs }];
}

/** The reservation a commit or caller-left names, if it is that request's. */
function named(book: ReservationBook, requestId: string, token: string): Reservation | undefined {
  const r = book.byToken.get(token);
  return r && r.requestId === requestId ? r : undefined;
}

function onCommit(
  book: ReservationBook,
  m: { kind: 'commit'; requestId: string; fromSiteId: string; token: string },
  nowMs: number,
): ReservationCommand[] {
  const r = named(book, m.requestId, m.token);
  if (!r) return [refuse(book, m.requestId, m.fromSiteId, m.token, 'unknown token')];
  if (r.fromSiteId !== m.fromSiteId) return [wrongSender(r, m)];
  switch (r.status) {
    case 'admitted':
      return [ackOf(book, r)];
    case 'admitting':
      return []; // the answer waits for the ACD's (header)
    case 'released':
      return [refuse(book, r.requestId, r.fromSiteId, r.token, 'reservation released')];
    case 'held':
      if (nowMs >= r.deadlineMs) {
        release(r, nowMs);
        return [
          { type: 'cancel-timer', id: timerOf(r.token) },
          refuse(book, r.requestId, r.fromSiteId, r.token, 'reservation expired'),
        ] satisfies ReservationCommand[];
      }
      r.status = 'admitting';
      return [
        { type: 'cancel-timer', id: timerOf(r.token) },
        {
          type: 'admit-call',
          callId: r.callId,
          queueId: r.queueId,
          priority: r.priority,
          enqueueMs: r.enqueueMs,
          rank: r.rank,
          fromSiteId: r.fromSiteId,
          token: r.token,
          hops: r.hops,
          visitedSiteIds: r.visitedSiteIds,
          data: r.data,
          row: {
            token: r.token,
            requestId: r.requestId,
            callId: r.callId,
            fromSiteId: r.fromSiteId,
            queueId: r.queueId,
            admittedAtMs: nowMs,
          },
        },
      ] satisfies ReservationCommand[];
  }
}

function onCallerLeft(
  book: ReservationBook,
  m: { kind: 'caller-left'; requestId: string; fromSiteId: string; token: string },
  nowMs: number,
): ReservationCommand[] {
  const r = named(book, m.requestId, m.token);
  if (!r) return [refuse(book, m.requestId, m.fromSiteId, m.token, 'unknown token')];
  if (r.fromSiteId !== m.fromSiteId) return [wrongSender(r, m)];
  switch (r.status) {
    case 'held':
      release(r, nowMs);
      r.callerLeft = true;
      return [
        { type: 'cancel-timer', id: timerOf(r.token) },
        refuse(book, r.requestId, r.fromSiteId, r.token, 'the caller left'),
      ];
    case 'released':
      return [refuse(book, r.requestId, r.fromSiteId, r.token, 'reservation released')];
    case 'admitting':
      r.callerLeft = true; // ended as soon as it is admitted (admit-done)
      return [];
    case 'admitted': {
      const end: ReservationCommand[] = r.callerLeft
        ? []
        : [{ type: 'end-admitted', callId: r.callId, fromSiteId: r.fromSiteId, token: r.token }];
      r.callerLeft = true;
      return [...end, ackOf(book, r)];
    }
  }
}

function admitting(book: ReservationBook, token: unknown, what: string): Reservation {
  const r = typeof token === 'string' ? book.byToken.get(token) : undefined;
  if (!r || r.status !== 'admitting') {
    // Only the adapter sends these, once per admit-call: anything else is its bug.
    throw failedPrecondition(
      `${what} for token ${JSON.stringify(token)} at site ${book.site}: no reservation is being admitted under it`,
    );
  }
  return r;
}

function onAdmitDone(book: ReservationBook, token: string, nowMs: number): ReservationCommand[] {
  const r = admitting(book, token, 'admit-done');
  r.status = 'admitted';
  r.endedMs = nowMs;
  const end: ReservationCommand[] = r.callerLeft
    ? [{ type: 'end-admitted', callId: r.callId, fromSiteId: r.fromSiteId, token: r.token }]
    : [];
  return [...end, ackOf(book, r)];
}

function onAdmitFailed(
  book: ReservationBook,
  token: string,
  reason: string,
  nowMs: number,
): ReservationCommand[] {
  const r = admitting(book, token, 'admit-failed');
  release(r, nowMs);
  return [refuse(book, r.requestId, r.fromSiteId, r.token, `not admitted: ${String(reason)}`)];
}

function onCancel(
  book: ReservationBook,
  m: { kind: 'cancel'; requestId: string; fromSiteId: string; token: string | null },
  nowMs: number,
): ReservationCommand[] {
  const answer = book.byRequest.get(m.requestId);
  const t = m.token ?? (answer && 'token' in answer ? answer.token : undefined);
  const r = t === undefined ? undefined : book.byToken.get(t);
  if (!r || r.requestId !== m.requestId) return [];
  if (r.fromSiteId !== m.fromSiteId) return [wrongSender(r, m)];
  // Only a held reservation of that very request lets go; an admitting or admitted call is
  // this site's now.
  if (r.status !== 'held') return [];
  release(r, nowMs);
  return [{ type: 'cancel-timer', id: timerOf(r.token) }] satisfies ReservationCommand[];
}

function sweep(book: ReservationBook, nowMs: number, o: ReservationOptions): void {
  for (const [token, r] of book.byToken) {
    const keepMs = r.status === 'admitted' ? o.retainAdmittedMs : o.retainMs;
    if (r.endedMs !== null && r.status !== 'admitting' && nowMs - r.endedMs >= keepMs) {
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
    case 'message': {
      const m = e.message;
      if (m.kind === 'commit') commands = onCommit(book, m, nowMs);
      else if (m.kind === 'caller-left') commands = onCallerLeft(book, m, nowMs);
      else if (m.kind === 'cancel') commands = onCancel(book, m, nowMs);
      break; // anything else is not for the target
    }
    case 'admit-done':
      commands = onAdmitDone(book, e.token, nowMs);
      break;
    case 'admit-failed':
      commands = onAdmitFailed(book, e.token, e.reason, nowMs);
      break;
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
