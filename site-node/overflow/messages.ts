/**
 * The overflow protocol's messages (docs/architecture.md §5.9), as plain data. They travel
 * origin -> hub -> target and back; the hub picks the target of a `request` and relays the rest
 * by the site they name. The wire form (new cases of federation.proto) comes with the wiring;
 * until then these are what origin.ts and reservation.ts exchange, and what the property test
 * loses, delays, duplicates and reorders.
 *
 * Times inside messages are durations, never instants: each site runs on its own clock, so
 * "waited 40 s" and "held for 3 s" mean the same at both ends where "until 10:00:03" would not.
 */
import type { AttachedData } from '../acd/types.js';

/** Origin -> hub: find a site for this call. The hub forwards it to the target it picks. */
export interface RequestMessage {
  kind: 'request';
  /** Unique per attempt: `<callId>#<attempt>` (origin.ts). */
  requestId: string;
  callId: string;
  origin: string;
  queueId: string;
  priority: number;
  /** How long the caller has waited so far: at the target it ranks as if it joined then. */
  waitedMs: number;
  /** How much longer the caller is expected to wait before giving up, if known. */
  patienceMs: number | null;
  /** The policy's targets left for this call, in preference order. */
  targets: readonly string[];
  attached: AttachedData;
}

/** Target -> origin: a reservation is held for `holdMs` from when the target took it. */
export interface AcceptMessage {
  kind: 'accept';
  requestId: string;
  target: string;
  /** One-time: the commit must carry it. */
  token: string;
  holdMs: number;
}

/**
 * Target (or hub, when no target is left) -> origin: no. `token` is set when it answers a
 * commit (the token is dead: the call was not admitted and never will be under it).
 */
export interface RefuseMessage {
  kind: 'refuse';
  requestId: string;
  target: string | null;
  token: string | null;
  reason: string;
}

/** Origin -> target: the call is on its way; admit it under this token. */
export interface CommitMessage {
  kind: 'commit';
  requestId: string;
  target: string;
  token: string;
}

/** Target -> origin: admitted (sent again for a repeated commit; admitted once). */
export interface CommitAckMessage {
  kind: 'commit-ack';
  requestId: string;
  target: string;
  token: string;
}

/**
 * Origin -> target: let the reservation go. Without a target or token (a request that timed
 * out before any answer) the hub sends it to wherever it forwarded the request.
 */
export interface CancelMessage {
  kind: 'cancel';
  requestId: string;
  target: string | null;
  token: string | null;
}

export type OverflowMessage =
  RequestMessage | AcceptMessage | RefuseMessage | CommitMessage | CommitAckMessage | CancelMessage;
