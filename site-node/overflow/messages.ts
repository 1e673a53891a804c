/**
 * The overflow protocol's messages (docs/architecture.md §5.9), as plain data, one to one with
 * federation.proto's `OverflowEnvelope` (wire.ts maps them both ways). They travel origin ->
 * hub -> target and back; the hub picks the target of a `request` and relays the rest by
 * `toSiteId`, stamping `fromSiteId` from the sending link's certificate (what a site puts there
 * is ignored). These are what origin.ts and reservation.ts exchange, and what the property
 * test loses, delays, duplicates and reorders.
 *
 * Times inside messages are durations, never instants: each site runs on its own clock, so
 * "waited 40 s" and "held for 3 s" mean the same at both ends where "until 10:00:03" would not.
 * Field names are the proto's and hub/routing/request.ts's: one name per field everywhere.
 */
import type { AttachedData } from '../acd/types.js';

/** What every message carries (the envelope). */
export interface Addressed {
  /** `<callId>#<attempt>` (origin.ts), unique per attempt. */
  requestId: string;
  /**
   * The sending site (stamped by the hub when it relays); '' on the hub's own refuse (`byHub`)
   * and only there.
   */
  fromSiteId: string;
  /** The site it is for; null on a request (the hub picks) and on a cancel before any answer. */
  toSiteId: string | null;
}

/** The data the target's agent sees before the voice arrives ('' = not known). */
export interface CallData {
  ani: string;
  dnis: string;
  customerId: string;
  customerHomeSiteId: string;
  ivrPath: readonly string[];
  attached: AttachedData;
}

/** Origin -> hub -> target: find a site for this call, under exactly one policy or cover entry. */
export interface RequestMessage extends Addressed, CallData {
  kind: 'request';
  callId: string;
  queueId: string;
  priority: number;
  /** How long the caller has waited so far: at the target it ranks as if it joined then. */
  waitedMs: number;
  /** How much longer the caller is expected to wait before giving up; null = unknown. */
  remainingPatienceMs: number | null;
  /** Every site the call has been at, the origin (the sender) included, home first. */
  visitedSiteIds: readonly string[];
  /** Exactly one of the two is set. */
  policyId: string | null;
  coverEntryId: string | null;
  /** Site moves so far; the target admits it with hops + 1. */
  hops: number;
  /** How long ago the origin's call record was created. */
  callAgeMs: number;
}

/** Target -> origin: a reservation is held for `holdMs` from when the target took it. */
export interface AcceptMessage extends Addressed {
  kind: 'accept';
  /** One-time: the commit must carry it. */
  token: string;
  holdMs: number;
}

/**
 * Target (or hub, `byHub`, when it finds no target) -> origin: no. `token` is set when it
 * answers a commit or a caller-left (the token is dead: the call was not admitted and never
 * will be under it).
 */
export interface RefuseMessage extends Addressed {
  kind: 'refuse';
  token: string | null;
  reason: string;
  byHub: boolean;
}

/** Origin -> target: the call is on its way; admit it under this token. */
export interface CommitMessage extends Addressed {
  kind: 'commit';
  token: string;
}

/** Target -> origin: admitted (sent again for a repeated commit or caller-left; admitted once). */
export interface CommitAckMessage extends Addressed {
  kind: 'commit-ack';
  token: string;
}

/**
 * Origin -> target: let the reservation go. Without a token and `toSiteId` (a request that
 * timed out before any answer) the hub sends it to wherever it forwarded the request.
 */
export interface CancelMessage extends Addressed {
  kind: 'cancel';
  token: string | null;
}

/**
 * Origin -> target: the caller hung up after the commit. A held reservation is released (the
 * call is never admitted), an admitted call is ended; the answer is the token's usual one
 * (commit-ack: it was admitted; refuse naming the token: it never will be).
 */
export interface CallerLeftMessage extends Addressed {
  kind: 'caller-left';
  token: string;
}

export type OverflowMessage =
  | RequestMessage
  | AcceptMessage
  | RefuseMessage
  | CommitMessage
  | CommitAckMessage
  | CancelMessage
  | CallerLeftMessage;

export const NO_CALL_DATA: CallData = Object.freeze({
  ani: '',
  dnis: '',
  customerId: '',
  customerHomeSiteId: '',
  ivrPath: [],
  attached: {},
});

/**
 * What the origin's machine and the target's book report of a message from a site that cannot
 * have sent it (docs/architecture.md §5.9): not acted on, not answered; the adapter logs it once.
 */
export interface WrongSender {
  type: 'wrong-sender';
  requestId: string;
  kind: OverflowMessage['kind'];
  fromSiteId: string;
  reason: string;
}
