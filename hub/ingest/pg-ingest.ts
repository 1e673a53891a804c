/**
 * The hub's event ingest on its Postgres (docs/architecture.md §5: delivery is at-least-once, the effect
 * exactly-once). Events arrive from the hub link and from Kafka, possibly both, possibly
 * replayed after a link outage; the event id is the primary key, so a second copy is a no-op
 * and is reported as a duplicate.
 *
 * A batch is all or nothing: it is validated up front (one malformed envelope refuses the
 * whole batch, naming `events[i].field`), then stored by ONE statement (multi-row
 * `INSERT ... SELECT FROM unnest(...)` with data-modifying CTEs for the derived tables),
 * because the hub must keep up with every site at once (the benchmark pushes 500 events/s);
 * rows are sorted by key so two concurrent overlapping batches take their row locks in the
 * same order and cannot deadlock.
 *
 * `call.ended` events whose CDR names a queue also become a `call_facts` row: the narrow,
 * time-indexed table the province statistics read (not the origin's end of a call that moved
 * to another site: callFactOf). `customer.read` events (reads a site
 * served from its cache) join the read audit with the hub's facts, not the event's claims
 * (read-check.ts): the directory's home, and a flag when the hub cannot corroborate the read;
 * only a corroborated read renews the site's interest. What the directory knows is read by
 * one query before the statement, only for batches that carry such events.
 * `card-loss.reported` events of an identified customer queue a directory flag request
 * (applied by PgDirectoryStore.applyFlagRequests).
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import { parseEvent, type EventEnvelope } from '../../shared/events/envelope.js';
import type { Fence } from '../lease/fence.js';
import type { CallFactRow, IngestResult, IngestStore, ReadAudit } from '../ports.js';
import { checkReportedRead, type ReadFacts } from './read-check.js';

/** Validate every envelope before touching the database; the first bad one names its index. */
export function validateBatch(events: readonly unknown[]): EventEnvelope[] {
  return events.map((e, i) => parseEvent(e, `events[${i}]`));
}

/**
 * The call fact a `call.ended` envelope carries, or undefined when it is not one or its CDR
 * names no queue (self-service calls never reach the ACD, so they do not count as offered), or
 * the call left for another site (outcome `overflowed`): the province counts a moved call once,
 * at the site that answered it (or lost it), whose CDR's wait is the caller's full wait, the
 * origin's included (docs/architecture.md §5.9 "Records"). The payload is a site's JSON: read
 * it defensively, never trust its types.
 */
export function callFactOf(
  e: EventEnvelope,
): (CallFactRow & { callId: string; eventId: string }) | undefined {
  if (e.type !== 'call.ended') return undefined;
  const cdr = e.payload.cdr;
  if (typeof cdr !== 'object' || cdr === null) return undefined;
  const c = cdr as Record<string, unknown>;
  if (typeof c.queueId !== 'string' || c.queueId === '') return undefined;
  if (c.outcome === 'overflowed' || e.payload.to === 'overflowed') return undefined;
  const num = (v: unknown): number | undefined =>
    typeof v === 'number' && Number.isFinite(v) ? v : undefined;
  return {
    callId: typeof c.callId === 'string' && c.callId !== '' ? c.callId : e.aggregateId,
    eventId: e.id,
    // Always the envelope's site (checked against the sender's certificate), never the
    // payload's: a site's figures can only come from that site.
    siteId: e.siteId,
    queueId: c.queueId,
    endedAtMs: Math.round(num(c.endedAtMs) ?? e.occurredAtMs),
    queued: num(c.queuedAtMs) !== undefined,
    answered: num(c.answeredAtMs) !== undefined,
    abandoned: c.abandoned === true,
    waitMs: Math.max(0, Math.round(num(c.waitMs) ?? 0)),
  };
}

interface FactDbRow {
  site_id: string;
  queue_id: string;
  ended_at_ms: string;
  queued: boolean;
  answered: boolean;
  abandoned: boolean;
  wait_ms: string;
}

export class PgIngestStore implements IngestStore {
  /** `fence`: only the leading hub stores events (lease/fence.ts); none = unfenced. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async ingest(
    events: readonly EventEnvelope[],
    via: 'link' | 'kafka',
    nowMs: number,
  ): Promise<IngestResult> {
    const inserted = await this.ingestReturningIds(events, via, nowMs);
    return { accepted: inserted.size, duplicates: events.length - inserted.size };
  }

  /**
   * Store a batch; returns the ids this call stored (the others were already there). ONE
   * statement: the events insert and, through data-modifying CTEs, the call facts and read
   * audits of the events it actually inserted. A single statement is atomic on its own, so
   * no BEGIN/COMMIT round trips: at 500 batches/s those were most of the hub's time.
   */
  async ingestReturningIds(
    events: readonly EventEnvelope[],
    via: 'link' | 'kafka',
    nowMs: number,
  ): Promise<Set<string>> {
    const valid = validateBatch(events);
    if (valid.length === 0) return new Set();
    // One row per id (a batch may carry the same event twice), in key order (lock order).
    const byId = new Map(valid.map((e) => [e.id, e]));
    const rows = [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    // A call that ends twice (two call.ended events with different ids) keeps its first fact.
    const factByCall = new Map<string, CallFactRow & { callId: string; eventId: string }>();
    for (const e of rows) {
      const f = callFactOf(e);
      if (f && !factByCall.has(f.callId)) factByCall.set(f.callId, f);
    }
    const facts = [...factByCall.values()].sort((a, b) =>
      a.callId < b.callId ? -1 : a.callId > b.callId ? 1 : 0,
    );
    const reads = await this.checkReads(rows.map(readAuditOf).filter((a) => a !== undefined));
    const interest = reads.filter((a) => a.grantsInterest);
    const flags = rows.map(flagRequestOf).filter((f) => f !== undefined);
    // The fence is an uncorrelated subquery: run once, before the first row is inserted, in
    // this statement's own transaction (a deposed hub's batch fails whole and stores nothing).
    const fence = this.fence?.();
    const r = await query<{ id: string }>(
      this.pool,
      `WITH ins AS (
         INSERT INTO ingested_events
           (id, site_id, type, aggregate_id, occurred_at_ms, schema_version, payload, via, ingested_at_ms)
         SELECT id, site_id, type, aggregate_id, occurred_at_ms, schema_version, payload, $8, $9
           FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::jsonb[])
                AS t(id, site_id, type, aggregate_id, occurred_at_ms, schema_version, payload)
         ${fence ? 'WHERE (SELECT hub_fence($40::text, $41::bigint))' : ''}
         ORDER BY id
         ON CONFLICT (id) DO NOTHING
         RETURNING id
       ),
       facts AS (
         -- Facts only for events this statement stored: a duplicate's fact went in with its first copy.
         INSERT INTO call_facts
           (call_id, event_id, site_id, queue_id, ended_at_ms, queued, answered, abandoned, wait_ms)
         SELECT f.* FROM unnest($10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[],
                                $15::bool[], $16::bool[], $17::bool[], $18::bigint[])
                  AS f(call_id, event_id, site_id, queue_id, ended_at_ms, queued, answered, abandoned, wait_ms)
          WHERE f.event_id IN (SELECT id FROM ins)
         ON CONFLICT (call_id) DO NOTHING
       ),
       reads AS (
         INSERT INTO customer_reads
           (event_id, reader_site_id, customer_id, home_site_id, reason, call_id, agent_id, ivr_session_id,
            at_ms, claimed_home_site_id, flag, served_from)
         SELECT a.*, 'site-cache' FROM unnest($19::text[], $20::text[], $21::text[], $22::text[], $23::text[],
                                              $24::text[], $25::text[], $26::text[], $27::bigint[],
                                              $34::text[], $35::text[])
                  AS a(event_id, reader_site_id, customer_id, home_site_id, reason, call_id, agent_id,
                       ivr_session_id, at_ms, claimed_home_site_id, flag)
          WHERE a.event_id IN (SELECT id FROM ins)
         ON CONFLICT (event_id) DO NOTHING
       ),
       interest AS (
         -- The site still holds the customer it served from its cache: its interest is
         -- renewed as by a read the hub served, for corroborated reads only (one row per site
         -- and customer: ON CONFLICT DO UPDATE may touch a row once per statement).
         INSERT INTO customer_interest (site_id, customer_id, since_ms, last_read_ms)
         SELECT a.reader_site_id, a.customer_id, max(a.at_ms), max(a.at_ms)
           FROM unnest($36::text[], $37::text[], $38::text[], $39::bigint[])
                  AS a(event_id, reader_site_id, customer_id, at_ms)
           JOIN customers c ON c.id = a.customer_id AND c.home_site_id <> a.reader_site_id
          WHERE a.event_id IN (SELECT id FROM ins)
          GROUP BY a.reader_site_id, a.customer_id
         ON CONFLICT (site_id, customer_id)
         DO UPDATE SET last_read_ms = greatest(customer_interest.last_read_ms, EXCLUDED.last_read_ms)
       ),
       flags AS (
         INSERT INTO directory_flag_requests (event_id, site_id, customer_id, flag, reason, at_ms)
         SELECT f.* FROM unnest($28::text[], $29::text[], $30::text[], $31::text[], $32::text[], $33::bigint[])
                  AS f(event_id, site_id, customer_id, flag, reason, at_ms)
          WHERE f.event_id IN (SELECT id FROM ins)
         ON CONFLICT (event_id) DO NOTHING
       )
       SELECT id FROM ins`,
      [
        rows.map((e) => e.id),
        rows.map((e) => e.siteId),
        rows.map((e) => e.type),
        rows.map((e) => e.aggregateId),
        rows.map((e) => e.occurredAtMs),
        rows.map((e) => e.schemaVersion),
        rows.map((e) => JSON.stringify(e.payload)),
        via,
        nowMs,
        facts.map((f) => f.callId),
        facts.map((f) => f.eventId),
        facts.map((f) => f.siteId),
        facts.map((f) => f.queueId),
        facts.map((f) => f.endedAtMs),
        facts.map((f) => f.queued),
        facts.map((f) => f.answered),
        facts.map((f) => f.abandoned),
        facts.map((f) => f.waitMs),
        reads.map((a) => a.eventId),
        reads.map((a) => a.readerSiteId),
        reads.map((a) => a.customerId),
        reads.map((a) => a.homeSiteId),
        reads.map((a) => a.reason),
        reads.map((a) => a.callId),
        reads.map((a) => a.agentId),
        reads.map((a) => a.ivrSessionId),
        reads.map((a) => a.atMs),
        flags.map((f) => f.eventId),
        flags.map((f) => f.siteId),
        flags.map((f) => f.customerId),
        flags.map((f) => f.flag),
        flags.map((f) => f.reason),
        flags.map((f) => f.atMs),
        reads.map((a) => a.claimedHomeSiteId),
        reads.map((a) => a.flag),
        interest.map((a) => a.eventId),
        interest.map((a) => a.readerSiteId),
        interest.map((a) => a.customerId),
        interest.map((a) => a.atMs),
        ...(fence ? [fence.hubId, fence.token] : []),
      ],
    );
    return new Set(r.rows.map((x) => x.id));
  }

  /**
   * The hub's verdict on each reported read (read-check.ts), from what the directory held
   * before this batch: one query, and none for a batch without reads.
   */
  private async checkReads(reads: ReadAuditRow[]): Promise<CheckedRead[]> {
    if (reads.length === 0) return [];
    const r = await query<{ n: number; home_site_id: string | null; served: boolean }>(
      this.pool,
      `SELECT x.n::int AS n, c.home_site_id,
              (EXISTS (SELECT 1 FROM customer_interest i WHERE i.site_id = x.reader AND i.customer_id = x.customer_id)
               OR EXISTS (SELECT 1 FROM customer_reads r
                           WHERE r.customer_id = x.customer_id AND r.reader_site_id = x.reader
                             AND r.served_from = 'hub')) AS served
         FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(reader, customer_id, n)
         LEFT JOIN customers c ON c.id = x.customer_id`,
      [reads.map((a) => a.readerSiteId), reads.map((a) => a.customerId)],
    );
    const facts = new Map<number, ReadFacts>(
      r.rows.map((x) => [x.n - 1, { homeSiteId: x.home_site_id ?? undefined, servedToReader: x.served }]),
    );
    return reads.map((a, i) => {
      const v = checkReportedRead(a.readerSiteId, a.customerId, a.homeSiteId, facts.get(i)!);
      return {
        ...a,
        claimedHomeSiteId: a.homeSiteId,
        homeSiteId: v.homeSiteId,
        flag: v.flag,
        grantsInterest: v.grantsInterest,
      };
    });
  }

  async countsBySite(): Promise<Map<string, number>> {
    const r = await query<{ site_id: string; n: string }>(
      this.pool,
      `SELECT site_id, count(*) AS n FROM ingested_events GROUP BY site_id ORDER BY site_id`,
    );
    return new Map(r.rows.map((x) => [x.site_id, Number(x.n)]));
  }

  async callFacts(sinceMs: number): Promise<CallFactRow[]> {
    const r = await query<FactDbRow>(
      this.pool,
      `SELECT site_id, queue_id, ended_at_ms, queued, answered, abandoned, wait_ms
         FROM call_facts WHERE ended_at_ms >= $1
        ORDER BY site_id, queue_id, ended_at_ms`,
      [sinceMs],
    );
    return r.rows.map((x) => ({
      siteId: x.site_id,
      queueId: x.queue_id,
      endedAtMs: Number(x.ended_at_ms),
      queued: x.queued,
      answered: x.answered,
      abandoned: x.abandoned,
      waitMs: Number(x.wait_ms),
    }));
  }
}

/**
 * A `customer.read` event (a site served another site's customer from its cache while the
 * hub was unreachable) as an audit row. The reader is the envelope's site (checked against
 * its certificate), never the payload's; fields are read defensively.
 */
export function readAuditOf(e: EventEnvelope): ReadAuditRow | undefined {
  if (e.type !== 'customer.read') return undefined;
  const p = e.payload;
  const text = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? v.slice(0, 200) : null);
  const customerId = text(p.customerId);
  if (!customerId) return undefined;
  return {
    eventId: e.id,
    readerSiteId: e.siteId,
    customerId,
    homeSiteId: text(p.homeSiteId) ?? '',
    reason: text(p.reason) ?? 'unspecified',
    callId: text(p.callId),
    agentId: text(p.agentId),
    ivrSessionId: text(p.ivrSessionId),
    atMs: e.occurredAtMs,
  };
}

/**
 * The directory flag a `card-loss.reported` event asks for: the reporting customer's profile
 * gets `flags.lostCard`. None when the caller was not identified (no customer id): the card
 * was still stopped by number at the bank host, there is just no profile to mark.
 */
export function flagRequestOf(e: EventEnvelope): FlagRequestRow | undefined {
  if (e.type !== 'card-loss.reported') return undefined;
  const p = e.payload;
  const customerId = typeof p.customerId === 'string' && p.customerId !== '' ? p.customerId.slice(0, 64) : '';
  if (!customerId) return undefined;
  const data = typeof p.data === 'object' && p.data !== null ? (p.data as Record<string, unknown>) : {};
  const last4 = typeof data.cardLast4 === 'string' ? data.cardLast4.replace(/\D/g, '').slice(-4) : '';
  return {
    eventId: e.id,
    siteId: e.siteId,
    customerId,
    flag: 'lostCard',
    reason: `card loss reported at ${e.siteId} (ticket ${e.aggregateId}${last4 ? `, card ending ${last4}` : ''})`,
    atMs: e.occurredAtMs,
  };
}

interface FlagRequestRow {
  eventId: string;
  siteId: string;
  customerId: string;
  flag: 'lostCard';
  reason: string;
  atMs: number;
}

/** A read audit that came as an event (one row per event id); `homeSiteId` is its claim. */
type ReadAuditRow = ReadAudit & { eventId: string };

/** The same with the hub's facts: `homeSiteId` the directory's, the claim kept beside it. */
type CheckedRead = ReadAuditRow & { claimedHomeSiteId: string; flag: string | null; grantsInterest: boolean };
