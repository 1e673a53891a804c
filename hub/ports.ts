/**
 * The hub's ports (docs/architecture.md §3.3): what the federation and admin services need from
 * storage. The real adapters live on the hub's Postgres (hub/store, hub/directory,
 * hub/ingest); the services only see these interfaces, so each can be tested against the
 * real database on its own and the gRPC layer stays thin.
 */
import type { CustomerProfile } from '../shared/domain/customer.js';
import type { DirectoryWriter } from './directory/write-rule.js';
import type { EventEnvelope } from '../shared/events/envelope.js';
import type { Topology } from '../shared/topology/schema.js';

// ---------------------------------------------------------------------------------------------
// Topology versions and the admin audit trail

export interface StoredTopology {
  /** Assigned by the hub: 1, 2, 3... */
  version: number;
  topology: Topology;
  /** The file as the admin wrote it (for `fedctl status --show`, and forensics). */
  sourceYaml: string;
  appliedAtMs: number;
  /** The admin certificate's id. */
  appliedBy: string;
  comment: string;
  /** `formatDiff` lines against the version it replaced. */
  changes: string[];
  /** Set when this version restored an earlier one. */
  rollbackOf: number | null;
}

export interface NewTopologyVersion {
  topology: Topology;
  sourceYaml: string;
  appliedBy: string;
  comment: string;
  changes: string[];
  rollbackOf: number | null;
  /** The version the admin planned against (0 = none stored). Stale -> DomainError 'conflict'. */
  expectedCurrentVersion: number;
  nowMs: number;
}

export interface TopologyStore {
  current(): Promise<StoredTopology | undefined>;
  get(version: number): Promise<StoredTopology | undefined>;
  /**
   * Store the next version (current + 1) and its audit entry in one transaction. Two admins
   * applying at once: exactly one wins, the other gets 'conflict' naming both versions.
   */
  append(v: NewTopologyVersion): Promise<StoredTopology>;
  /** Newest first. */
  history(limit: number): Promise<StoredTopology[]>;
}

/** Admin actions other than topology versions (drain/undrain), audited the same way. */
export interface AdminAuditEntry {
  atMs: number;
  actor: string;
  action: string;
  target: string;
  detail: Record<string, unknown>;
}

export interface SiteAdminStore {
  /** Sites an admin has drained (survives hub restarts). */
  drainedSites(): Promise<Set<string>>;
  setDrained(siteId: string, drained: boolean, actor: string, comment: string, nowMs: number): Promise<void>;
  audit(limit: number): Promise<AdminAuditEntry[]>;
}

// ---------------------------------------------------------------------------------------------
// The shared customer directory (system of record)

export type LookupKey = 'phone' | 'card' | 'customer-id';

export interface ReadAudit {
  /** The site that read. */
  readerSiteId: string;
  customerId: string;
  homeSiteId: string;
  /** 'ivr' | 'agent-screen-pop' | 'agent-search' | 'callback' ... */
  reason: string;
  callId: string | null;
  agentId: string | null;
  ivrSessionId: string | null;
  atMs: number;
}

/** A row of the read audit as admins query it. */
export interface AuditedRead extends ReadAudit {
  /** `hub`: the hub answered; `site-cache`: the site served its copy and reported it later. */
  servedFrom: 'hub' | 'site-cache';
  /**
   * Null for a read the hub corroborates; otherwise why it doubts a reported read (an unknown
   * customer, another home claimed, never served to that site). `homeSiteId` is always the
   * directory's (empty for an unknown customer).
   */
  flag: string | null;
  /** The home a `customer.read` event claimed; null for reads the hub served. */
  claimedHomeSiteId: string | null;
}

/** Most read-audit rows one query returns. */
export const MAX_AUDIT_PAGE = 1000;

/** Which reads an admin asks for (undefined = any); newest first, at most `limit`. */
export interface ReadAuditQuery {
  customerId?: string | undefined;
  readerSiteId?: string | undefined;
  sinceMs?: number | undefined;
  limit: number;
}

export interface CustomerChange {
  /** Position in the change feed (strictly increasing). */
  cursor: number;
  profile: CustomerProfile;
}

export interface WriteCustomerInput {
  /** From the caller's certificate (hub/directory/write-rule.ts decides what it may change). */
  writer: DirectoryWriter;
  profile: CustomerProfile;
  /** 0 = create. */
  baseVersion: number;
  /**
   * Which agent of the writing site made the change (or 'ivr'), as the site says: recorded
   * only scoped to the site (`wanzhou/a01`); '' = the site itself. Ignored for an admin.
   */
  claimedBy: string;
  reason: string;
  nowMs: number;
}

/** The directory's size and its roaming reads, for summaries (the province demo's). */
export interface DirectoryCounts {
  customers: number;
  /** Audited reads of a customer by a site other than their home site, per reading site. */
  roamingReadsByReader: Map<string, number>;
  /** The same reads, per the customer's home site. */
  roamingReadsByHome: Map<string, number>;
}

/** A card-loss flag request the owner rule refused: the site was never served the customer. */
export interface RefusedFlagRequest {
  eventId: string;
  siteId: string;
  customerId: string;
  /** The rule's refusal, for the log. */
  reason: string;
}

export interface FlagRequestsApplied {
  changes: CustomerChange[];
  refused: RefusedFlagRequest[];
}

export interface DirectoryStore {
  lookup(key: LookupKey, value: string): Promise<CustomerProfile | undefined>;
  /**
   * `lookup` and, when the customer's home is not the reader, `recordRead` with the purpose:
   * the roaming lookup the federation serves, in one database round trip.
   */
  lookupAudited(
    key: LookupKey,
    value: string,
    audit: Omit<ReadAudit, 'customerId' | 'homeSiteId'>,
  ): Promise<CustomerProfile | undefined>;
  /**
   * Record that a site read another site's customer (who, which agent or IVR session, which
   * customer, why), and remember that the reader now caches it (so its changes reach it).
   */
  recordRead(a: ReadAudit): Promise<void>;
  /**
   * Versioned write. `baseVersion` must equal the stored version (0 for a new customer); the
   * stored profile gets version + 1 and a change-feed entry. A stale base throws
   * DomainError('conflict') naming both versions AND records the conflict (that record
   * commits even though the write does not). Then the owner rule (directory/write-rule.ts): a
   * change the writer may not make throws DomainError('permission-denied') naming the field
   * and is recorded in `customer_write_refusals` the same way (in full for a writer's first
   * few refusals in a minute, then only counted: pg-directory.ts REFUSALS_KEPT_PER_MINUTE).
   */
  write(w: WriteCustomerInput): Promise<CustomerChange>;
  /**
   * Changes a site should see after `afterCursor`: its home customers and those it has read,
   * oldest first, at most `limit`; only the latest version of each customer.
   */
  changesFor(
    siteId: string,
    afterCursor: number,
    limit: number,
  ): Promise<{
    changes: CustomerChange[];
    headCursor: number;
  }>;
  /** Which sites should hear about a change to this customer (home site + readers). */
  interestedSites(customerId: string): Promise<string[]>;
  /**
   * Forget sites' interest in customers they have not read since `beforeMs` (every read
   * renews it); returns how many lapsed.
   */
  lapseInterest(beforeMs: number): Promise<number>;
  /**
   * Apply pending directory flag requests (a card loss reported at a site marks the
   * customer's profile `lostCard`), at most `limit`; returns the profile changes made and the
   * requests the owner rule refused (marked `uncorroborated`), for the caller to log.
   */
  applyFlagRequests(limit: number, nowMs: number): Promise<FlagRequestsApplied>;
  /** The read audit, newest first; `truncated` when more rows matched than `limit`. */
  readAudit(q: ReadAuditQuery): Promise<{ reads: AuditedRead[]; truncated: boolean }>;
  /** How many customers the directory holds and how many roaming reads it audited. */
  counts(): Promise<DirectoryCounts>;
  /**
   * Bulk load (demo data, benchmarks): creates or replaces at version 1; no audit. Only for an
   * empty directory: a site that cached a later version would never take version 1 again.
   */
  seed(profiles: readonly CustomerProfile[], nowMs: number): Promise<number>;
}

// ---------------------------------------------------------------------------------------------
// Event ingest and statistics

export interface IngestResult {
  accepted: number;
  duplicates: number;
}

export interface IngestStore {
  /**
   * Store events idempotently by id in one transaction (a replayed id is counted as a
   * duplicate and changes nothing). `call.ended` events also feed the per-queue call facts
   * the statistics read.
   */
  ingest(events: readonly EventEnvelope[], via: 'link' | 'kafka', nowMs: number): Promise<IngestResult>;
  /** The same, returning the ids this call stored (for group commit: per-batch counts). */
  ingestReturningIds(
    events: readonly EventEnvelope[],
    via: 'link' | 'kafka',
    nowMs: number,
  ): Promise<Set<string>>;
  /** Events stored per site (for `fedctl status`). */
  countsBySite(): Promise<Map<string, number>>;
  /** Call outcomes per site and queue, for calls that ended in [sinceMs, nowMs]. */
  callFacts(sinceMs: number): Promise<CallFactRow[]>;
}

/** One ended call as the statistics need it (from the `call.ended` CDR). */
export interface CallFactRow {
  siteId: string;
  queueId: string;
  endedAtMs: number;
  /** Queued at all (offered to the ACD). */
  queued: boolean;
  answered: boolean;
  abandoned: boolean;
  waitMs: number;
}

// ---------------------------------------------------------------------------------------------
// On-demand cover (hub/cover/, docs/architecture.md §5.8)

/** One start of an on-demand cover entry, as stored (`cover_activations`). */
export interface CoverActivation {
  entryId: string;
  /** The admin certificate's id. */
  startedBy: string;
  startedAtMs: number;
  /** Exclusive end on the hub's clock; null = until stopped. */
  untilMs: number | null;
  /** Null while open, and for an activation its `until` ended. */
  stoppedBy: string | null;
  stoppedAtMs: number | null;
  comment: string;
}

export interface CoverStore {
  /** Activations not stopped (some may be past their `until`: the caller's clock decides). */
  open(): Promise<CoverActivation[]>;
  /**
   * Record a start and its audit row in one transaction. An open activation of the entry
   * still running at `nowMs` -> DomainError 'failed-precondition' and nothing is written; one
   * past its `until` is closed first.
   */
  start(a: {
    entryId: string;
    by: string;
    nowMs: number;
    untilMs: number | null;
    comment: string;
  }): Promise<CoverActivation>;
  /**
   * Record a stop and its audit row in one transaction. No activation of the entry running at
   * `nowMs` -> DomainError 'failed-precondition' and nothing is written.
   */
  stop(a: { entryId: string; by: string; nowMs: number; comment: string }): Promise<CoverActivation>;
}

// ---------------------------------------------------------------------------------------------
// Overflow and cover decisions (hub/overflow/, docs/architecture.md §5.8)

/** One routing decision as recorded (table overflow_decisions). */
export interface OverflowDecisionRow {
  requestId: string;
  callId: string;
  kind: 'overflow' | 'cover';
  /** The overflow policy id or the cover entry id. */
  ruleId: string;
  originSiteId: string;
  queueId: string;
  /** null: not routed (`reason` says why). */
  targetSiteId: string | null;
  /** null when routed; else max-hops, no-eligible-site, cover-not-active, target-unreachable. */
  reason: string | null;
  why: string;
  decidedAtMs: number;
  maxSnapshotAgeMs: number;
  /** The target's snapshot age when chosen (hub clock); null without a target. */
  targetAgeMs: number | null;
  request: {
    priority: number;
    waitedMs: number;
    remainingPatienceMs: number | null;
    visitedSiteIds: readonly string[];
  };
  candidates: readonly {
    siteId: string;
    outcome: string;
    reason: string | null;
    rank: number | null;
    agentReady: boolean | null;
    why: string;
    state: { link: string; drained: boolean; ageMs: number | null; snapshotAtMs: number | null };
  }[];
}

/** Most decisions one query returns. */
export const MAX_DECISIONS_PAGE = 1000;

export interface OverflowDecisionStore {
  /** Store decisions in one (fenced) transaction. */
  record(rows: readonly OverflowDecisionRow[]): Promise<void>;
  /** Newest first; `siteId` = decisions where that site was the origin or the target. */
  recent(q: { siteId?: string | undefined; limit: number }): Promise<OverflowDecisionRow[]>;
}
