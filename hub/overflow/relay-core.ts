/**
 * The hub's part of the overflow protocol, the pure half (docs/architecture.md §5.9): what to
 * do with one envelope a site sent, given what the hub remembers of the requests it routed.
 * No I/O, no clock: the adapter (overflow-relay.ts) routes, sends, logs and records what this
 * decides.
 *
 * The sender S is the link's certificate identity, never the envelope's `fromSiteId` (a site
 * speaks only for itself): every relayed envelope leaves with `fromSiteId = S`, and a relayed
 * refuse never says `by_hub` (only the hub's own refusals do).
 *
 *   request     -> route it (the adapter runs hub/routing/), or, for a request id already
 *                  decided, the same again: relayed to the same target (a duplicate offer gets
 *                  the target's same answer) or the same refusal answered
 *   the rest    -> relayed to the other party of the remembered request; `toSiteId`, when
 *                  set, must name it. A cancel with no `toSiteId` goes where the request went.
 *                  Unremembered (the hub restarted, failed over, or forgot): relayed by
 *                  `toSiteId` alone; the receiving site checks `fromSiteId` against its own
 *                  records.
 *
 * Refused and logged once (nothing is relayed): a site that is not a party of the remembered
 * request, a site naming itself as the target, a message sent by the wrong party (an accept
 * from the origin), a request whose call id is not the one its request id names, a request
 * with `toSiteId` set or not exactly one of policy / cover entry, and a message with no
 * `toSiteId` where it must be set. A refused request is also answered (a by-hub refuse), so
 * its origin goes home at once instead of waiting out its ask timeout; other refusals are not
 * answered, since their sender is not waiting on the hub.
 *
 * The memory is bounded in time (`ttlMs`, 10 min by default: far longer than an attempt lives,
 * 2 s of asking and 3 s of holding plus the commit's resends) and in size (`maxEntries`, the
 * oldest forgotten first), so a flood of requests cannot grow the hub without end; what it
 * forgets is relayed by `toSiteId` as after a restart.
 */
import type { OverflowEnvelope } from '../../proto/gen/federation.js';
import type { CoverRequest, OverflowRequest } from '../routing/request.js';

export const DEFAULT_MEMORY_TTL_MS = 10 * 60_000;
export const DEFAULT_MAX_REMEMBERED = 100_000;

/** What the hub remembers of a request it decided. */
export interface RememberedRequest {
  originSiteId: string;
  /** Where the request went; null = the hub refused it (the refusal is in `refusal`). */
  targetSiteId: string | null;
  /** The reason the hub answered with when it refused the request. */
  refusal: string | null;
  rule: { kind: 'overflow' | 'cover'; id: string };
  atMs: number;
}

/**
 * Request id -> what was decided, oldest first (a Map keeps insertion order; `nowMs` never goes
 * backwards for one hub, so insertion order is age order).
 */
export class RequestMemory {
  private readonly entries = new Map<string, RememberedRequest>();

  constructor(
    readonly ttlMs = DEFAULT_MEMORY_TTL_MS,
    readonly maxEntries = DEFAULT_MAX_REMEMBERED,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(requestId: string, nowMs: number): RememberedRequest | undefined {
    this.forget(nowMs);
    return this.entries.get(requestId);
  }

  remember(requestId: string, r: RememberedRequest): void {
    this.entries.delete(requestId);
    this.entries.set(requestId, r);
    this.forget(r.atMs);
  }

  private forget(nowMs: number): void {
    for (const [id, r] of this.entries) {
      if (this.entries.size <= this.maxEntries && nowMs - r.atMs < this.ttlMs) return;
      this.entries.delete(id);
    }
  }
}

export type RouteRequest =
  { kind: 'overflow'; request: OverflowRequest } | { kind: 'cover'; request: CoverRequest };

/** A refusal to log once (who is the sender) and, for a request, to answer. */
export interface Refused {
  kind: 'refuse';
  error: { kind: 'invalid-argument' | 'permission-denied'; field: string; reason: string };
  /** The by-hub refuse for the sender, or null (nobody waits on the hub for this message). */
  answer: OverflowEnvelope | null;
}

export type RelayVerdict =
  | { kind: 'route'; requestId: string; route: RouteRequest; envelope: OverflowEnvelope }
  | { kind: 'relay'; to: string; envelope: OverflowEnvelope }
  /** The sender is answered (a repeated request the hub had refused). */
  | { kind: 'answer'; to: string; envelope: OverflowEnvelope }
  | Refused
  /** Nothing to do and nobody at fault (a cancel for a request the hub never routed anywhere). */
  | { kind: 'drop'; why: string };

type BodyCase = NonNullable<OverflowEnvelope['body']>['$case'];

/** Which party of a request sends each message. */
const SENT_BY: Record<Exclude<BodyCase, 'request'>, 'origin' | 'target'> = {
  accept: 'target',
  refuse: 'target',
  commitAck: 'target',
  commit: 'origin',
  cancel: 'origin',
  callerLeft: 'origin',
};

const REQUEST_ID = /^(.+)#(\d+)$/;

/** The by-hub refuse of `requestId`, to its origin. */
export function hubRefuse(requestId: string, reason: string): OverflowEnvelope {
  return {
    fromSiteId: '',
    toSiteId: '',
    requestId,
    body: { $case: 'refuse', value: { reason, token: '', byHub: true } },
  };
}

const refused = (
  kind: Refused['error']['kind'],
  field: string,
  reason: string,
  answer: OverflowEnvelope | null = null,
): Refused => ({ kind: 'refuse', error: { kind, field, reason }, answer });

/** Decide what to do with `env`, sent by site `from` (its certificate) at `nowMs`. */
export function judgeEnvelope(
  memory: RequestMemory,
  from: string,
  env: OverflowEnvelope,
  nowMs: number,
): RelayVerdict {
  const body = env.body;
  const requestId = env.requestId;
  if (!body) return refused('invalid-argument', 'overflow.body', 'empty overflow envelope: no message in it');
  if (requestId === '') {
    return refused('invalid-argument', 'overflow.requestId', `${body.$case}: requestId is required`);
  }
  if (env.toSiteId === from) {
    return refused(
      'invalid-argument',
      'overflow.toSiteId',
      `${body.$case} of ${requestId}: site ${from} names itself as the site it is for`,
      body.$case === 'request' ? hubRefuse(requestId, 'invalid-argument: toSiteId names the origin') : null,
    );
  }
  const known = memory.get(requestId, nowMs);
  if (body.$case === 'request') return judgeRequest(known, from, { ...env, body });

  // `by_hub` is the hub's word alone: a site's refuse is relayed as the site's, whatever it says.
  const stamped = (to: string): OverflowEnvelope => ({
    ...env,
    fromSiteId: from,
    toSiteId: to,
    ...(body.$case === 'refuse' ? { body: { ...body, value: { ...body.value, byHub: false } } } : {}),
  });
  if (!known) {
    if (env.toSiteId !== '') return { kind: 'relay', to: env.toSiteId, envelope: stamped(env.toSiteId) };
    if (body.$case === 'cancel') {
      return { kind: 'drop', why: `cancel of ${requestId}: the hub does not remember where it went` };
    }
    return refused(
      'invalid-argument',
      'overflow.toSiteId',
      `${body.$case} of ${requestId}: toSiteId is required (the hub does not remember this request)`,
    );
  }
  const role = from === known.originSiteId ? 'origin' : from === known.targetSiteId ? 'target' : null;
  const parties = `${known.originSiteId} and ${known.targetSiteId ?? 'no target (the hub refused it)'}`;
  if (role === null) {
    return refused(
      'permission-denied',
      'overflow.requestId',
      `${body.$case} of ${requestId}: site ${from} is not a party of it (it is between ${parties})`,
    );
  }
  if (SENT_BY[body.$case] !== role) {
    return refused(
      'permission-denied',
      'overflow.body',
      `${body.$case} of ${requestId}: sent by ${from}, its ${role}; only the ${SENT_BY[body.$case]} sends it`,
    );
  }
  const other = role === 'origin' ? known.targetSiteId : known.originSiteId;
  if (other === null) {
    return {
      kind: 'drop',
      why: `${body.$case} of ${requestId}: the hub refused the request; it went nowhere`,
    };
  }
  if (env.toSiteId !== '' && env.toSiteId !== other) {
    return refused(
      'permission-denied',
      'overflow.toSiteId',
      `${body.$case} of ${requestId}: names ${env.toSiteId}, but the request is between ${parties}`,
    );
  }
  if (env.toSiteId === '' && body.$case !== 'cancel') {
    return refused(
      'invalid-argument',
      'overflow.toSiteId',
      `${body.$case} of ${requestId}: toSiteId is required (only a cancel may leave it empty)`,
    );
  }
  return { kind: 'relay', to: other, envelope: stamped(other) };
}

function judgeRequest(
  known: RememberedRequest | undefined,
  from: string,
  env: OverflowEnvelope & { body: Extract<OverflowEnvelope['body'], { $case: 'request' }> },
): RelayVerdict {
  const requestId = env.requestId;
  const r = env.body.value;
  if (known) {
    if (known.originSiteId !== from) {
      return refused(
        'permission-denied',
        'overflow.requestId',
        `request ${requestId}: already asked by ${known.originSiteId}; site ${from} cannot reuse its id`,
      );
    }
    if (known.targetSiteId !== null) {
      return {
        kind: 'relay',
        to: known.targetSiteId,
        envelope: { ...env, fromSiteId: from, toSiteId: known.targetSiteId },
      };
    }
    return { kind: 'answer', to: from, envelope: hubRefuse(requestId, known.refusal ?? 'no-eligible-site') };
  }
  const problems: { field: string; text: string }[] = [];
  const m = REQUEST_ID.exec(requestId);
  if (!m || m[1] !== r.callId) {
    problems.push({
      field: 'overflow.requestId',
      text: `request ${requestId}: must be "<callId>#<attempt>" with the request's call id "${r.callId}"`,
    });
  }
  if (env.toSiteId !== '') {
    problems.push({
      field: 'overflow.toSiteId',
      text: `request ${requestId}: toSiteId must be empty (the hub picks the target; got ${env.toSiteId})`,
    });
  }
  if ((r.policyId === '') === (r.coverEntryId === '')) {
    problems.push({
      field: 'overflow.request.policyId',
      text: `request ${requestId}: exactly one of policyId and coverEntryId must be set`,
    });
  }
  if (problems.length > 0) {
    const reason = problems.map((p) => p.text).join('; ');
    return refused(
      'invalid-argument',
      problems[0]!.field,
      reason,
      hubRefuse(requestId, `invalid-argument: ${reason}`),
    );
  }
  const base = {
    originSiteId: from,
    callId: r.callId,
    queueId: r.queueId,
    priority: r.priority,
    waitedMs: r.waitedMs,
    remainingPatienceMs: r.remainingPatienceMs ?? null,
    visitedSiteIds: r.visitedSiteIds,
  };
  const route: RouteRequest =
    r.policyId !== ''
      ? { kind: 'overflow', request: { ...base, policyId: r.policyId } }
      : { kind: 'cover', request: { ...base, coverEntryId: r.coverEntryId } };
  return { kind: 'route', requestId, route, envelope: { ...env, fromSiteId: from } };
}
