/**
 * The origin's side of one call's overflow (docs/architecture.md §5.9): a pure machine,
 * `originStep(machine, event, nowMs, options) -> { machine, commands }`, in the style of the
 * site's link machine (docs/architecture.md §3.1, §3.4). Messages, timers and the home queue
 * are all events and commands; the machine touches nothing.
 *
 *            ask            accept (in time)       call-taken (in time)       commit-recorded (in time)        commit-ack
 *   waiting ----> asked -------------------> accepted ------------------> recording ------------------> committing ----> moved
 *                                                                                              (call left: caller-left, resent)
 *      ^  \         |                          |                           |                          |  ^
 *      |   \        | refuse, timeout,         | not waiting, call left,   | not recorded, too late,  |  | timer: commit again
 *      |    \       | link down, call left     | too late, link down,      | call left, link down     |  |
 *      |     \      |                          | requeued                  |                          |  |
 *      |      \     v                          v                           v                          +--+
 *      |       +--> home <---------------------+<--------------------------+<----- refuse naming our token (dead token)
 *      |   ask     (call still queued at home, in its place)
 *      +-----------+
 *
 *   (a restarted origin) resumeCommit ----> committing: the move it recorded before the crash
 *
 * The exactly-one-offer argument (the reason for every rule below):
 * - The call leaves the home queue only in `accepted -> recording`, i.e. when the home queue
 *   gave it up (`take-call` answered by `call-taken`), and the commit is sent only in
 *   `recording -> committing`, once the move is recorded (below). Before the commit is sent,
 *   whatever happens (refuse, timeout, lost messages, link drop, the call answered or abandoned
 *   here, the record not made in time) it goes back to or stays in its place, and a
 *   reservation the target may hold is cancelled or lapses at its deadline.
 * - The target admits the call only on a commit carrying its one-time token, before its
 *   deadline, and once (reservation.ts). A commit cannot be taken back, so once it is sent the
 *   origin does not know where the call is until the target says: `commit-ack` (admitted:
 *   `moved`) or a `refuse` naming the token (dead: admitted never; the call goes back to its
 *   place, `return-call`). Until one arrives the origin sends the commit again every
 *   `commitResendMs`, through timeouts and link drops: the target answers a repeated commit
 *   the same way, so the origin never guesses. (With voice the commit is the leg's move
 *   itself, and it settles the same question.)
 * - Before the first commit is sent the origin records the move durably (`record-commit`: call,
 *   request, target, token; the adapter commits it to the site's store within the time left
 *   before `reservedUntilMs - commitMarginMs` and answers `commit-recorded` or
 *   `commit-not-recorded`). A commit is thus never sent that a crash of the origin could make
 *   it forget: a restarted origin resumes every recorded move of a call still open
 *   (`resumeCommit`) and waits for the target's word like any commit. A record that does not
 *   commit in time brings the call home (`return-call`, and a cancel: the reservation lapses
 *   anyway); a record that lands after the call went home names a token that was never
 *   committed, which the target refuses: harmless. Resends need no new record.
 * - The origin commits only while `askedAtMs + holdMs - commitMarginMs` has not passed. The
 *   target started its `holdMs` after the request left, so in the origin's clock that instant
 *   is never later than the real deadline (no shared clock is needed); the margin leaves time
 *   for the commit to arrive. A commit that still arrives late is refused, which is safe: the
 *   call goes back home.
 * - A stale accept (an earlier attempt, a duplicate request that reached a second target, an
 *   answer after a timeout) is answered with a `cancel` of its token so its reservation ends
 *   before its deadline; any other stale or duplicate message is ignored.
 * - The caller hangs up after the commit (`call-left` while committing): the ACD keeps the
 *   taken call (its caller gone) until this machine settles it, and the target is told
 *   (`caller-left`, resent like the commit, which it replaces): a held reservation is then
 *   released, an admitted call ended. The target's word settles the call exactly once:
 *   `call-moved` (admitted) or `return-call` (the ACD ends it abandoned).
 * - The commit is resent until the target's word, however long: giving up would guess. After
 *   `commitAlarmAfterMs` without it the machine raises one `alarm` (the adapter logs it: a
 *   target gone silent with a call in transit) and resends every `commitSlowResendMs` after.
 * - Only the expected site speaks for the request: never this site itself, no site at all
 *   only on the hub's own refuse (`byHub`), and only a site the request's policy (its `to`) or
 *   cover entry (its covering site) names (`targetSiteIds`): among those the hub picks the
 *   target, so while `asked` any of them may accept or refuse; once an accept came, only that
 *   target refuses or acks its token (a second named site's accept or refusal of the request
 *   is stale: handled as such). Anything else is ignored, not answered (a cancel would be
 *   sent to a site the request never went to) and reported once (`wrong-sender`, the adapter
 *   logs it): a hub that forgot the request relays by `toSiteId` alone (§5.8), so the check is
 *   this site's own. An accept from an unnamed site therefore never takes the call nor makes
 *   the real target's accept look like a stray one to be cancelled.
 * - The request is for the call where it waited when asked: its queue and the ACD's count of
 *   its moves between this site's queues (`queueMoves`). A call transferred meanwhile (to
 *   another queue, or back into the same one after an agent) is not that call any more: when
 *   the home queue gives it up for the accept (`call-taken`, which says where it took it
 *   from) in another place, it goes straight back there and the reservation is cancelled
 *   (`requeued`); the trigger may ask again under its new queue's policy.
 * - `moved` is final: the call now belongs to the target and never comes back (no ping-pong:
 *   there it has `hops = 1`, and the trigger asks no call with `hops >= maxHops`).
 * - Names are the wire's (messages.ts): the request carries the call's sites so far
 *   (`visitedSiteIds`, this one last), its `hops`, the policy or cover entry, and its data.
 */
import { failedPrecondition } from '../../shared/errors.js';
import type { CallData, OverflowMessage, RequestMessage, WrongSender } from './messages.js';

export type OriginStateName =
  'waiting' | 'asked' | 'accepted' | 'recording' | 'committing' | 'moved' | 'home';

/** Why an attempt ended with the call at home. */
export type HomeReason =
  | 'refused' // no target, or the target said no
  | 'timeout' // no answer within askTimeoutMs
  | 'link-down' // the hub link dropped before the commit
  | 'call-left' // answered or abandoned here meanwhile (or hung up during a refused move)
  | 'not-waiting' // the home queue could not give the call up (offered to an agent here)
  | 'too-late' // the reservation would end before the commit could arrive
  | 'not-recorded' // the move could not be recorded durably in time: no commit was sent
  | 'requeued' // the call changed queue (or came back into it) after the request went out
  | 'commit-refused'; // the target refused the commit: the token is dead

export interface OriginMachine {
  state: OriginStateName;
  site: string;
  callId: string;
  /** The queue the call waited in when asked (the request's `queueId`). */
  queueId: string;
  /** The ACD's count of the call's moves between this site's queues when asked (its `moves`). */
  queueMoves: number;
  /** The request's policy or cover entry (exactly one is set once asked). */
  policyId: string | null;
  coverEntryId: string | null;
  /** The sites that policy (`to`) or cover entry (its covering site) names: only they answer. */
  targetSiteIds: readonly string[];
  /** Attempts made (the request id's suffix). */
  attempts: number;
  requestId: string | null;
  askedAtMs: number | null;
  /** The site that accepted (the accept's `fromSiteId`). */
  toSiteId: string | null;
  token: string | null;
  /** The last instant, in this site's clock, at which the reservation surely still holds. */
  reservedUntilMs: number | null;
  commitsSent: number;
  /** When the first commit was sent (for the alarm). */
  committedAtMs: number | null;
  /** The alarm was raised for this commit. */
  alarmed: boolean;
  /** The caller hung up while the call was in transit (between take and the target's word). */
  leftInTransit: boolean;
  homeReason: HomeReason | null;
  changedAtMs: number;
}

export interface OriginOptions {
  /** How long to wait for an accept or refuse before the call stays home. */
  askTimeoutMs: number;
  /** Commit only while at least this much of the reservation is left (the commit's transit). */
  commitMarginMs: number;
  /** Send the commit (or caller-left) again after this long without the target's word. */
  commitResendMs: number;
  /** Raise one `alarm` when the target has been silent this long after the first commit. */
  commitAlarmAfterMs: number;
  /** The resend pace after the alarm. */
  commitSlowResendMs: number;
}

export const DEFAULT_ORIGIN_OPTIONS: OriginOptions = {
  askTimeoutMs: 2_000,
  commitMarginMs: 500,
  commitResendMs: 1_000,
  commitAlarmAfterMs: 30_000,
  commitSlowResendMs: 10_000,
};

export type OriginEvent =
  | ({
      type: 'ask';
      /** Where the call waits now: its queue and the ACD's `moves` (see the header). */
      queueId: string;
      queueMoves: number;
      /** The sites the policy (`to`) or cover entry (its covering site) names. */
      targetSiteIds: readonly string[];
      priority: number;
      waitedMs: number;
      remainingPatienceMs: number | null;
      /** The sites the call was at before this one, home first (the ACD's), and its hops. */
      visitedSiteIds: readonly string[];
      hops: number;
      policyId: string | null;
      coverEntryId: string | null;
      callAgeMs: number;
    } & CallData)
  | { type: 'message'; message: OverflowMessage }
  /**
   * The home queue gave the call up for the move (answer to `take-call`), from this queue, with
   * this many moves between queues so far (the ACD's `call-taken` says where it took it from).
   */
  | { type: 'call-taken'; requestId: string; queueId: string; queueMoves: number }
  /** The home queue could not give it up: it is being offered to an agent here, or gone. */
  | { type: 'call-not-waiting'; requestId: string }
  /** The answer to `record-commit`: the move is (or is not) in the site's store. */
  | { type: 'commit-recorded'; requestId: string }
  | { type: 'commit-not-recorded'; requestId: string }
  /** The call was answered or abandoned at home, or its caller hung up (also in transit). */
  | { type: 'call-left' }
  | { type: 'link-down' }
  | { type: 'timer-fired'; id: string };

export type OriginCommand =
  | { type: 'send'; message: OverflowMessage }
  /** Take the call out of the home queue, keeping its place; answer call-taken / call-not-waiting. */
  | { type: 'take-call'; callId: string; requestId: string }
  /**
   * Commit the move to the site's store before the commit is sent (header), by `byMs` at the
   * latest (this site's clock); answer commit-recorded / commit-not-recorded.
   */
  | {
      type: 'record-commit';
      callId: string;
      requestId: string;
      toSiteId: string;
      token: string;
      byMs: number;
    }
  /**
   * Put the call back in its place (same priority, same enqueue time); a call whose caller
   * left in transit ends there instead (the ACD ends it abandoned).
   */
  | { type: 'return-call'; callId: string }
  /** The target admitted the call: it ends here as `overflowed` (CDR) with target and token. */
  | { type: 'call-moved'; callId: string; toSiteId: string; token: string }
  /** The target has said nothing for `commitAlarmAfterMs` with the call in transit: log it. */
  | { type: 'alarm'; callId: string; requestId: string; toSiteId: string; token: string; silentMs: number }
  /** A message for this call's request from a site that cannot have sent it: ignored; log it once. */
  | WrongSender
  | { type: 'start-timer'; id: string; atMs: number }
  | { type: 'cancel-timer'; id: string };

export interface OriginStep {
  machine: OriginMachine;
  commands: OriginCommand[];
}

export const initialOrigin = (
  site: string,
  callId: string,
  queueId: string,
  nowMs: number,
): OriginMachine => ({
  state: 'waiting',
  site,
  callId,
  queueId,
  queueMoves: 0,
  policyId: null,
  coverEntryId: null,
  targetSiteIds: [],
  attempts: 0,
  requestId: null,
  askedAtMs: null,
  toSiteId: null,
  token: null,
  reservedUntilMs: null,
  commitsSent: 0,
  committedAtMs: null,
  alarmed: false,
  leftInTransit: false,
  homeReason: null,
  changedAtMs: nowMs,
});

/** A request in flight: the trigger must not ask for this call. */
export const inFlight = (m: OriginMachine): boolean =>
  m.state === 'asked' || m.state === 'accepted' || m.state === 'recording' || m.state === 'committing';

/** A move recorded before its commit was sent (the site's store), as a restarted origin finds it. */
export interface RecordedMove {
  callId: string;
  queueId: string;
  requestId: string;
  toSiteId: string;
  token: string;
}

/**
 * A restarted origin takes over a move it recorded (header): the machine is `committing` again
 * and sends the commit at once, then resends it, alarm included, until the target's word. Its
 * `commit-ack` ends the call `moved`, a refusal naming the token `home` (`commit-refused`).
 */
export function resumeCommit(site: string, r: RecordedMove, nowMs: number, o: OriginOptions): OriginStep {
  const attempt = Number(r.requestId.slice(r.requestId.lastIndexOf('#') + 1));
  const m: OriginMachine = {
    ...initialOrigin(site, r.callId, r.queueId, nowMs),
    state: 'committing',
    // Only the target the move was recorded with speaks for it.
    targetSiteIds: [r.toSiteId],
    attempts: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    requestId: r.requestId,
    toSiteId: r.toSiteId,
    token: r.token,
    commitsSent: 1,
    committedAtMs: nowMs,
  };
  return { machine: m, commands: sendCommit(m, nowMs, o) };
}

const askTimer = (m: OriginMachine): string => `${m.requestId}:ask`;
const commitTimer = (m: OriginMachine): string => `${m.requestId}:commit`;

function goHome(m: OriginMachine, reason: HomeReason, nowMs: number, commands: OriginCommand[]): OriginStep {
  return {
    machine: { ...m, state: 'home', homeReason: reason, changedAtMs: nowMs },
    commands,
  };
}

/** A cancel for the current request (its token when known), so the target lets go at once. */
function cancelOf(m: OriginMachine, token: string | null, toSiteId: string | null): OriginCommand {
  return {
    type: 'send',
    message: { kind: 'cancel', requestId: m.requestId!, fromSiteId: m.site, toSiteId, token },
  };
}

/** The commit, or once the caller left the caller-left that replaces it, and the resend timer. */
function sendCommit(m: OriginMachine, nowMs: number, o: OriginOptions): OriginCommand[] {
  const head = { requestId: m.requestId!, fromSiteId: m.site, toSiteId: m.toSiteId!, token: m.token! };
  const slow = m.alarmed;
  return [
    {
      type: 'send',
      message: m.leftInTransit ? { kind: 'caller-left', ...head } : { kind: 'commit', ...head },
    },
    {
      type: 'start-timer',
      id: commitTimer(m),
      atMs: nowMs + (slow ? o.commitSlowResendMs : o.commitResendMs),
    },
  ];
}

const canCommit = (m: OriginMachine, nowMs: number, o: OriginOptions): boolean =>
  m.reservedUntilMs !== null && nowMs < m.reservedUntilMs - o.commitMarginMs;

function onAsk(m: OriginMachine, e: Extract<OriginEvent, { type: 'ask' }>, nowMs: number, o: OriginOptions) {
  if (m.state === 'moved' || inFlight(m) || (m.state === 'home' && m.homeReason === 'call-left')) {
    // The trigger never asks such a call (trigger.ts): asking now is the adapter's bug.
    throw failedPrecondition(`call ${m.callId}: cannot ask to overflow a call in state ${m.state}`);
  }
  const targetSiteIds = e.targetSiteIds.filter((s) => s !== m.site);
  if (targetSiteIds.length === 0) {
    // No site could answer: the adapter read the policy or entry wrong.
    throw failedPrecondition(`call ${m.callId}: the request names no site that may take it`);
  }
  const attempts = m.attempts + 1;
  const requestId = `${m.callId}#${attempts}`;
  const request: RequestMessage = {
    kind: 'request',
    requestId,
    fromSiteId: m.site,
    toSiteId: null, // the hub picks
    callId: m.callId,
    queueId: e.queueId,
    priority: e.priority,
    waitedMs: e.waitedMs,
    remainingPatienceMs: e.remainingPatienceMs,
    visitedSiteIds: [...e.visitedSiteIds.filter((s) => s !== m.site), m.site],
    policyId: e.policyId,
    coverEntryId: e.coverEntryId,
    hops: e.hops,
    ani: e.ani,
    dnis: e.dnis,
    customerId: e.customerId,
    customerHomeSiteId: e.customerHomeSiteId,
    ivrPath: [...e.ivrPath],
    attached: e.attached,
    callAgeMs: e.callAgeMs,
  };
  const next: OriginMachine = {
    ...m,
    state: 'asked',
    queueId: e.queueId,
    queueMoves: e.queueMoves,
    policyId: e.policyId,
    coverEntryId: e.coverEntryId,
    targetSiteIds,
    attempts,
    requestId,
    askedAtMs: nowMs,
    toSiteId: null,
    token: null,
    reservedUntilMs: null,
    commitsSent: 0,
    committedAtMs: null,
    alarmed: false,
    homeReason: null,
    changedAtMs: nowMs,
  };
  return {
    machine: next,
    commands: [
      { type: 'send', message: request },
      { type: 'start-timer', id: askTimer(next), atMs: nowMs + o.askTimeoutMs },
    ],
  } satisfies OriginStep;
}

/** The report of a message the current request's expected sender did not send (header), or null. */
function wrongSender(
  m: OriginMachine,
  msg: Extract<OverflowMessage, { kind: 'accept' | 'refuse' | 'commit-ack' }>,
): OriginCommand | null {
  if (msg.requestId !== m.requestId) return null; // another attempt's: handled as stale
  const byHub = msg.kind === 'refuse' && msg.byHub && msg.fromSiteId === '';
  let expected: string | null = null;
  if (msg.fromSiteId === m.site || (msg.fromSiteId === '' && !byHub)) {
    expected = 'another site';
  } else if (!byHub && !m.targetSiteIds.includes(msg.fromSiteId)) {
    const named = m.targetSiteIds.map((s) => `site ${s}`).join(' or ');
    expected = `${named} (named by ${namedBy(m)})`;
  } else if (
    (m.state === 'accepted' || m.state === 'recording' || m.state === 'committing') &&
    msg.kind !== 'accept'
  ) {
    // A second target's accept or refusal of the request (the hub sent it on twice) is stale,
    // not wrong: handled below. A refuse or ack of our token is only its target's to give.
    const ofOurToken = msg.token === m.token;
    if (ofOurToken && msg.fromSiteId !== m.toSiteId) expected = `site ${m.toSiteId}, which accepted it`;
  }
  if (expected === null) return null;
  const who = msg.fromSiteId === '' ? 'no site' : `site ${msg.fromSiteId}`;
  return {
    type: 'wrong-sender',
    requestId: msg.requestId,
    kind: msg.kind,
    fromSiteId: msg.fromSiteId,
    reason: `${msg.kind} of ${msg.requestId} from ${who}; only ${expected} answers it`,
  };
}

/** What named the request's possible targets, for a wrong sender's report. */
const namedBy = (m: OriginMachine): string =>
  m.policyId !== null
    ? `policy ${m.policyId}`
    : m.coverEntryId !== null
      ? `cover entry ${m.coverEntryId}`
      : 'the recorded move';

function onMessage(m: OriginMachine, msg: OverflowMessage, nowMs: number, o: OriginOptions): OriginStep {
  const same: OriginStep = { machine: m, commands: [] };
  if (msg.kind === 'accept' || msg.kind === 'refuse' || msg.kind === 'commit-ack') {
    const wrong = wrongSender(m, msg);
    if (wrong) return { machine: m, commands: [wrong] };
  }
  switch (msg.kind) {
    case 'accept': {
      const ours = m.state === 'asked' && msg.requestId === m.requestId;
      if (!ours) {
        // Our own accept again (a duplicate) changes nothing; any other holds a reservation
        // nobody will use: let it go now rather than at its deadline.
        if (msg.token === m.token) return same;
        return {
          machine: m,
          commands: [cancelOf({ ...m, requestId: msg.requestId }, msg.token, msg.fromSiteId)],
        };
      }
      const accepted: OriginMachine = {
        ...m,
        toSiteId: msg.fromSiteId,
        token: msg.token,
        reservedUntilMs: m.askedAtMs! + msg.holdMs,
      };
      const stop: OriginCommand = { type: 'cancel-timer', id: askTimer(m) };
      if (!canCommit(accepted, nowMs, o)) {
        return goHome(accepted, 'too-late', nowMs, [stop, cancelOf(accepted, msg.token, msg.fromSiteId)]);
      }
      return {
        machine: { ...accepted, state: 'accepted', changedAtMs: nowMs },
        commands: [stop, { type: 'take-call', callId: m.callId, requestId: m.requestId! }],
      };
    }
    case 'refuse':
      if (m.state === 'asked' && msg.requestId === m.requestId && msg.token === null) {
        return goHome(m, 'refused', nowMs, [{ type: 'cancel-timer', id: askTimer(m) }]);
      }
      if (m.state === 'committing' && msg.token === m.token && msg.requestId === m.requestId) {
        // The token is dead: the target did not and will not admit the call. Back to its place
        // (where a call whose caller left ends: the ACD kept it until now).
        return goHome(m, m.leftInTransit ? 'call-left' : 'commit-refused', nowMs, [
          { type: 'cancel-timer', id: commitTimer(m) },
          { type: 'return-call', callId: m.callId },
        ]);
      }
      return same;
    case 'commit-ack':
      if (m.state !== 'committing' || msg.token !== m.token || msg.requestId !== m.requestId) return same;
      return {
        machine: { ...m, state: 'moved', changedAtMs: nowMs },
        commands: [
          { type: 'cancel-timer', id: commitTimer(m) },
          { type: 'call-moved', callId: m.callId, toSiteId: m.toSiteId!, token: m.token! },
        ],
      };
    case 'request':
    case 'commit':
    case 'cancel':
    case 'caller-left':
      return same; // a target's messages; not for the origin
  }
}

export function originStep(m: OriginMachine, e: OriginEvent, nowMs: number, o: OriginOptions): OriginStep {
  const same: OriginStep = { machine: m, commands: [] };
  switch (e.type) {
    case 'ask':
      return onAsk(m, e, nowMs, o);
    case 'message':
      return onMessage(m, e.message, nowMs, o);
    case 'call-taken':
      if (m.state !== 'accepted' || e.requestId !== m.requestId) {
        // Our own answer again changes nothing once the call is in transit or moved.
        if (
          e.requestId === m.requestId &&
          (m.state === 'recording' || m.state === 'committing' || m.state === 'moved')
        )
          return same;
        // The move was given up while the home queue was letting the call go: put it back
        // (a call whose caller left meanwhile ends there: the ACD kept it taken until now).
        return { machine: m, commands: [{ type: 'return-call', callId: m.callId }] };
      }
      if (e.queueId !== m.queueId || e.queueMoves !== m.queueMoves) {
        // Transferred since the ask (header): not the call the request was for. Back to its new
        // place; the target lets the reservation go.
        return goHome(m, 'requeued', nowMs, [
          { type: 'return-call', callId: m.callId },
          cancelOf(m, m.token, m.toSiteId),
        ]);
      }
      if (!canCommit(m, nowMs, o)) {
        return goHome(m, 'too-late', nowMs, [
          { type: 'return-call', callId: m.callId },
          cancelOf(m, m.token, m.toSiteId),
        ]);
      }
      // The call is out of the home queue; the move is recorded before the commit goes (header).
      return {
        machine: { ...m, state: 'recording', changedAtMs: nowMs },
        commands: [
          {
            type: 'record-commit',
            callId: m.callId,
            requestId: m.requestId!,
            toSiteId: m.toSiteId!,
            token: m.token!,
            byMs: m.reservedUntilMs! - o.commitMarginMs,
          },
        ],
      };
    case 'commit-recorded':
      if (m.state !== 'recording' || e.requestId !== m.requestId) return same;
      if (!canCommit(m, nowMs, o)) {
        return goHome(m, 'too-late', nowMs, [
          { type: 'return-call', callId: m.callId },
          cancelOf(m, m.token, m.toSiteId),
        ]);
      }
      // From here only the target's word decides (header).
      return {
        machine: { ...m, state: 'committing', commitsSent: 1, committedAtMs: nowMs, changedAtMs: nowMs },
        commands: sendCommit(m, nowMs, o),
      };
    case 'commit-not-recorded':
      if (m.state !== 'recording' || e.requestId !== m.requestId) return same;
      return goHome(m, 'not-recorded', nowMs, [
        { type: 'return-call', callId: m.callId },
        cancelOf(m, m.token, m.toSiteId),
      ]);
    case 'call-not-waiting':
      if (m.state !== 'accepted' || e.requestId !== m.requestId) return same;
      return goHome(m, 'not-waiting', nowMs, [cancelOf(m, m.token, m.toSiteId)]);
    case 'call-left':
      switch (m.state) {
        case 'waiting':
        case 'home':
          return {
            machine: { ...m, state: 'home', homeReason: 'call-left', changedAtMs: nowMs },
            commands: [],
          };
        case 'asked':
          return goHome(m, 'call-left', nowMs, [
            { type: 'cancel-timer', id: askTimer(m) },
            cancelOf(m, null, null),
          ]);
        case 'accepted':
          return goHome(m, 'call-left', nowMs, [cancelOf(m, m.token, m.toSiteId)]);
        case 'recording':
          // No commit went: the taken call ends at home (the ACD kept it), the target lets go.
          return goHome(m, 'call-left', nowMs, [
            { type: 'return-call', callId: m.callId },
            cancelOf(m, m.token, m.toSiteId),
          ]);
        case 'committing': {
          // In transit: tell the target now (header); its word still settles the call, once.
          if (m.leftInTransit) return same;
          const left = { ...m, leftInTransit: true };
          return { machine: left, commands: sendCommit(left, nowMs, o) };
        }
        case 'moved':
          return same;
      }
      return same;
    case 'link-down':
      // Before the commit the call simply stays home; after it, only the target's word counts.
      if (m.state === 'asked') {
        return goHome(m, 'link-down', nowMs, [
          { type: 'cancel-timer', id: askTimer(m) },
          cancelOf(m, null, null),
        ]);
      }
      if (m.state === 'accepted') return goHome(m, 'link-down', nowMs, [cancelOf(m, m.token, m.toSiteId)]);
      if (m.state === 'recording') {
        // No commit went yet: the call goes back to its place rather than commit on a dead link.
        return goHome(m, 'link-down', nowMs, [
          { type: 'return-call', callId: m.callId },
          cancelOf(m, m.token, m.toSiteId),
        ]);
      }
      return same;
    case 'timer-fired':
      if (m.state === 'asked' && e.id === askTimer(m)) {
        return goHome(m, 'timeout', nowMs, [cancelOf(m, null, null)]);
      }
      if (m.state === 'committing' && e.id === commitTimer(m)) {
        const silentMs = nowMs - m.committedAtMs!;
        const alarm = !m.alarmed && silentMs >= o.commitAlarmAfterMs;
        const next = { ...m, commitsSent: m.commitsSent + 1, alarmed: m.alarmed || alarm };
        const raise: OriginCommand[] = alarm
          ? [
              {
                type: 'alarm',
                callId: m.callId,
                requestId: m.requestId!,
                toSiteId: m.toSiteId!,
                token: m.token!,
                silentMs,
              },
            ]
          : [];
        return { machine: next, commands: [...raise, ...sendCommit(next, nowMs, o)] };
      }
      return same;
  }
}
