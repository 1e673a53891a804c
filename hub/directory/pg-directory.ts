/**
 * The provincial customer directory on the hub's Postgres (port `DirectoryStore`,
 * hub/ports.ts; docs/architecture.md §5 "Shared customer data"). It is the system of record: sites
 * cache profiles and follow the change feed (`customer_changes`) by cursor.
 *
 * Four rules shape the code:
 *
 * - **Writes by their owner.** Who may change which field is a pure rule
 *   (write-rule.ts) run on the stored row the write has locked, after the version check: the
 *   home site and admins change identity fields; another site, only if the hub served it the
 *   customer, adds notes, a preferred callback number where none is stored and the lost-card
 *   flag. A refusal is recorded in `customer_write_refusals` after the write rolled back,
 *   like a conflict (in full for the first few per writer per minute, then counted).
 * - **Versioned writes, conflicts surfaced.** A write names the version it was based on; the
 *   row is locked (`FOR UPDATE`) and a stale base is refused. The refusal is recorded in
 *   `customer_conflicts` by a separate statement after the write's transaction rolled back,
 *   so the record survives while the write does not.
 * - **One owner per phone and card.** The side tables' primary keys enforce it; a write that
 *   would give a phone or card to a second customer is refused naming the owner, because an
 *   ANI lookup that could match two customers would serve a caller someone else's profile.
 * - **A feed with no holes.** Sequence values are handed out at insert time but become visible
 *   at commit, so with plain `bigserial` a reader could see cursor 11 before a slower
 *   transaction commits cursor 10, move its cursor to 11 and never see 10. Every writer of the
 *   feed therefore takes an EXCLUSIVE lock on `customer_changes` as its last step (readers are
 *   not blocked) and holds it to commit: cursors become visible in order. The lock is taken
 *   after all row locks, so it cannot join a deadlock cycle with them.
 */
import type pg from 'pg';
import type { ContactNote, CustomerProfile } from '../../shared/domain/customer.js';
import { customerIdSchema, parseCustomerProfile } from '../../shared/domain/customer-schema.js';
import { normalizePhone } from '../../shared/domain/phone.js';
import { DomainError, invalidArgument, isDomainError } from '../../shared/errors.js';
import { assertSiteId } from '../../shared/ids.js';
import { query, queryPrepared, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { fenceTx, type Fence } from '../lease/fence.js';
import {
  MAX_AUDIT_PAGE,
  type AuditedRead,
  type CustomerChange,
  type DirectoryCounts,
  type DirectoryStore,
  type FlagRequestsApplied,
  type LookupKey,
  type RefusedFlagRequest,
  type ReadAudit,
  type ReadAuditQuery,
  type WriteCustomerInput,
} from '../ports.js';
import { authorOf, decideWrite, droppedNotes } from './write-rule.js';

/**
 * Refused writes kept in full per writer per minute; the ones after are only counted (`more`
 * on the minute's last full record), so a site that floods refused writes cannot grow
 * `customer_write_refusals` by a profile per attempt (docs/operations.md).
 */
export const REFUSALS_KEPT_PER_MINUTE = 10;

/** Rows per statement in `seed` (keeps each statement's parameters and plan small). */
const SEED_CHUNK = 500;
const MAX_CHANGES_PAGE = 10_000;

/** A read of a customer the site already has interest in renews it (see lapseInterest). */
const RENEW_INTEREST = `ON CONFLICT (site_id, customer_id)
         DO UPDATE SET last_read_ms = greatest(customer_interest.last_read_ms, EXCLUDED.last_read_ms)`;

const PROFILE_COLUMNS = `c.id, c.name, c.phones, c.cards, c.home_site_id, c.segment, c.language, c.flags,
  c.account_ids, c.version, c.notes, c.preferred_callback`;

interface ProfileRow {
  id: string;
  name: string;
  phones: string[];
  cards: string[];
  home_site_id: string;
  segment: CustomerProfile['segment'];
  language: string;
  flags: CustomerProfile['flags'];
  account_ids: string[];
  /** bigint: node-postgres returns it as a string. */
  version: string;
  notes: ContactNote[];
  preferred_callback: string | null;
}

const toProfile = (r: ProfileRow): CustomerProfile => ({
  customerId: r.id,
  name: r.name,
  phones: r.phones,
  cards: r.cards,
  homeSiteId: r.home_site_id,
  segment: r.segment,
  language: r.language,
  flags: { blacklisted: r.flags.blacklisted, lostCard: r.flags.lostCard },
  accountIds: r.account_ids,
  version: Number(r.version),
  // Absent rather than empty, as customerFromProto reads them (shared/domain/customer-proto.ts).
  ...(r.notes.length > 0 ? { notes: r.notes } : {}),
  ...(r.preferred_callback ? { preferredCallback: r.preferred_callback } : {}),
});

/** The two lookup keys with a side table (table and column names are fixed, never input). */
const KEY_TABLES = {
  phone: { table: 'customer_phones', column: 'phone', field: 'phones' },
  card: { table: 'customer_cards', column: 'card', field: 'cards' },
} as const;
type KeyKind = keyof typeof KEY_TABLES;

/** Thrown inside the write transaction so it rolls back; turned into the conflict outside. */
class StaleBase extends Error {
  constructor(
    readonly current: number,
    readonly changedBy: string | null,
  ) {
    super('stale base version');
  }
}

function checkSiteId(field: string, siteId: string): void {
  try {
    assertSiteId(siteId);
  } catch (e) {
    throw invalidArgument(field, (e as Error).message, e);
  }
}

function checkText(field: string, s: unknown): void {
  if (typeof s !== 'string' || s.trim() === '') throw invalidArgument(field, 'must not be empty');
}

function checkCount(field: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw invalidArgument(field, `must be an integer >= 0 (got ${n})`);
}

function staleMessage(customerId: string, base: number, s: StaleBase): string {
  const by = s.changedBy ? ` (changed by ${s.changedBy})` : '';
  const based = base === 0 ? 'version 0 (a new customer)' : `version ${base}`;
  const current = s.current === 0 ? 'the customer does not exist' : `version ${s.current} is current${by}`;
  return `customer ${customerId}: your change was based on ${based} but ${current}; reload and retry`;
}

/** The lookup of one profile by key, `$1` the value (also the first step of lookupAudited). */
function lookupSql(key: LookupKey): string {
  switch (key) {
    case 'phone':
      return `SELECT ${PROFILE_COLUMNS} FROM customer_phones k JOIN customers c ON c.id = k.customer_id
               WHERE k.phone = $1`;
    case 'card':
      return `SELECT ${PROFILE_COLUMNS} FROM customer_cards k JOIN customers c ON c.id = k.customer_id
               WHERE k.card = $1`;
    case 'customer-id':
      return `SELECT ${PROFILE_COLUMNS} FROM customers c WHERE c.id = $1`;
    default:
      throw invalidArgument('key', `must be phone, card or customer-id (got ${JSON.stringify(key)})`);
  }
}

/**
 * The value as stored: phones are kept canonical (the profile schema normalises them), so a
 * phone key is normalised the same way before it is compared. Context-free: the hub knows no
 * caller's area code (a site qualifies local numbers before it asks). A value that is not a
 * phone number is the caller's mistake, named like any other bad argument.
 */
function keyValue(key: LookupKey, value: string): string {
  return key === 'phone' ? normalizePhone(value, {}, 'value') : value;
}

export class PgDirectoryStore implements DirectoryStore {
  /**
   * `fence`: only the leading hub writes profiles and applies flags (lease/fence.ts); none =
   * unfenced. Read audits are not fenced: they record reads that were served.
   */
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async lookup(key: LookupKey, value: string): Promise<CustomerProfile | undefined> {
    if (typeof value !== 'string' || value === '') return undefined;
    const v = keyValue(key, value);
    const r = await queryPrepared<ProfileRow>(this.pool, `dir-lookup-${key}`, lookupSql(key), [v]);
    return r.rows[0] ? toProfile(r.rows[0]) : undefined;
  }

  /**
   * Look up and, when the customer belongs to another site than the reader, audit the read
   * and give the reader interest, all in ONE statement: every roaming call pays for this,
   * so it costs one database round trip, not three.
   */
  async lookupAudited(
    key: LookupKey,
    value: string,
    a: Omit<ReadAudit, 'customerId' | 'homeSiteId'>,
  ): Promise<CustomerProfile | undefined> {
    if (typeof value !== 'string' || value === '') return undefined;
    const v = keyValue(key, value);
    checkSiteId('readerSiteId', a.readerSiteId);
    checkText('reason', a.reason);
    checkCount('atMs', a.atMs);
    const r = await queryPrepared<ProfileRow>(
      this.pool,
      `dir-lookup-audited-${key}`,
      `WITH found AS (${lookupSql(key)}),
       audit AS (
         INSERT INTO customer_reads (reader_site_id, customer_id, home_site_id, reason, call_id, agent_id,
                                     ivr_session_id, at_ms)
         SELECT $2, f.id, f.home_site_id, $3, $4, $5, $6, $7 FROM found f WHERE f.home_site_id <> $2
       ),
       interest AS (
         INSERT INTO customer_interest (site_id, customer_id, since_ms, last_read_ms)
         SELECT $2, f.id, $7, $7 FROM found f WHERE f.home_site_id <> $2
         ${RENEW_INTEREST}
       )
       SELECT * FROM found`,
      [v, a.readerSiteId, a.reason, a.callId, a.agentId, a.ivrSessionId, a.atMs],
    );
    return r.rows[0] ? toProfile(r.rows[0]) : undefined;
  }

  /**
   * Audit the read and give the reader interest in the customer, in one transaction. A site
   * reading its own customer gets no interest row: it hears about its home customers anyway,
   * and home sites read their customers on every call.
   */
  async recordRead(a: ReadAudit): Promise<void> {
    checkSiteId('readerSiteId', a.readerSiteId);
    checkText('customerId', a.customerId);
    checkText('reason', a.reason);
    checkCount('atMs', a.atMs);
    // One statement (atomic by itself): every roaming lookup pays for this audit, so no
    // BEGIN/COMMIT round trips.
    await query(
      this.pool,
      `WITH audit AS (
         INSERT INTO customer_reads (reader_site_id, customer_id, home_site_id, reason, call_id, agent_id,
                                     ivr_session_id, at_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       )
       INSERT INTO customer_interest (site_id, customer_id, since_ms, last_read_ms)
       SELECT $1, id, $8, $8 FROM customers WHERE id = $2 AND home_site_id <> $1
       ${RENEW_INTEREST}`,
      [a.readerSiteId, a.customerId, a.homeSiteId, a.reason, a.callId, a.agentId, a.ivrSessionId, a.atMs],
    );
  }

  async write(w: WriteCustomerInput): Promise<CustomerChange> {
    if (w.writer?.kind !== 'site' && w.writer?.kind !== 'admin') {
      throw invalidArgument('writer.kind', 'must be site or admin');
    }
    checkSiteId('writer.id', w.writer.id);
    checkCount('baseVersion', w.baseVersion);
    checkCount('nowMs', w.nowMs);
    if (typeof w.reason !== 'string') throw invalidArgument('reason', 'must be a string');
    const author = authorOf(w.writer, typeof w.claimedBy === 'string' ? w.claimedBy : '', 'claimedBy');
    const p = parseCustomerProfile(w.profile, 'profile');
    const siteId = w.writer.kind === 'site' ? w.writer.id : '';
    try {
      return await withTransaction(this.pool, async (c) => {
        await fenceTx(c, this.fence);
        return this.writeTx(c, w, p, author);
      });
    } catch (e) {
      if (isDomainError(e, 'permission-denied')) {
        try {
          await this.recordRefusal(w.writer, p, author, e, w.nowMs);
        } catch (recordErr) {
          throw new DomainError('permission-denied', `${e.message} (the refusal could not be recorded)`, {
            field: e.field,
            cause: recordErr,
          });
        }
        throw e;
      }
      if (!(e instanceof StaleBase)) throw e;
      const conflict = new DomainError('conflict', staleMessage(p.customerId, w.baseVersion, e), {
        field: 'baseVersion',
      });
      try {
        await query(
          this.pool,
          `INSERT INTO customer_conflicts (customer_id, site_id, base_version, current_version, attempted,
                                           changed_by, at_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7)`,
          [p.customerId, siteId, w.baseVersion, e.current, JSON.stringify(p), author, w.nowMs],
        );
      } catch (recordErr) {
        // The writer still needs to hear about the conflict; the lost record is in the message.
        throw new DomainError('conflict', `${conflict.message} (the conflict could not be recorded)`, {
          field: 'baseVersion',
          cause: recordErr,
        });
      }
      throw conflict;
    }
  }

  /**
   * Record a refused write: in full (the attempted profile) for the writer's first
   * REFUSALS_KEPT_PER_MINUTE in the minute, after that only counted on the minute's last
   * full record. One writer's refusals are recorded one at a time (an advisory lock on the
   * writer), so the count per minute is exact under concurrent refusals.
   */
  private async recordRefusal(
    writer: WriteCustomerInput['writer'],
    p: CustomerProfile,
    author: string,
    e: DomainError,
    nowMs: number,
  ): Promise<void> {
    const minute = nowMs - (nowMs % 60_000);
    await withTransaction(this.pool, async (c) => {
      await query(c, `SELECT pg_advisory_xact_lock(hashtext('customer_write_refusals'), hashtext($1))`, [
        `${writer.kind} ${writer.id}`,
      ]);
      await query(
        c,
        `WITH win AS (
           SELECT count(*)::int AS n, max(id) AS last FROM customer_write_refusals
            WHERE writer_kind = $2 AND writer_id = $3 AND at_ms >= $9 AND at_ms < $9 + 60000
         ),
         counted AS (
           UPDATE customer_write_refusals r SET more = r.more + 1 FROM win
            WHERE win.n >= $10 AND r.id = win.last
         )
         INSERT INTO customer_write_refusals (customer_id, writer_kind, writer_id, changed_by, field, reason,
                                              attempted, at_ms)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8 FROM win WHERE win.n < $10`,
        [
          p.customerId,
          writer.kind,
          writer.id,
          author,
          e.field ?? '',
          e.message,
          JSON.stringify(p),
          nowMs,
          minute,
          REFUSALS_KEPT_PER_MINUTE,
        ],
      );
    });
  }

  /**
   * `proposed` as parsed; what is stored is what the owner rule makes of it over the locked
   * row. `author`: authorOf(w.writer, w.claimedBy).
   */
  private async writeTx(
    c: pg.PoolClient,
    w: Pick<WriteCustomerInput, 'writer' | 'baseVersion' | 'reason' | 'nowMs'>,
    proposed: CustomerProfile,
    author: string,
  ): Promise<CustomerChange> {
    const cur = await query<ProfileRow & { updated_by: string }>(
      c,
      `SELECT ${PROFILE_COLUMNS}, c.updated_by FROM customers c WHERE c.id = $1 FOR UPDATE`,
      [proposed.customerId],
    );
    const row = cur.rows[0];
    const current = row ? Number(row.version) : 0;
    if (current !== w.baseVersion) throw new StaleBase(current, row?.updated_by ?? null);
    const siteId = w.writer.kind === 'site' ? w.writer.id : '';
    const stored = row ? toProfile(row) : undefined;
    const servedToWriter =
      siteId !== '' &&
      row !== undefined &&
      row.home_site_id !== siteId &&
      (await this.served(c, siteId, row.id));
    const p = decideWrite(w.writer, stored, proposed, { author, nowMs: w.nowMs, servedToWriter });
    const version = current + 1;
    const values = [
      p.customerId,
      p.name,
      p.phones,
      p.cards,
      p.homeSiteId,
      p.segment,
      p.language,
      JSON.stringify(p.flags),
      p.accountIds,
      version,
      w.nowMs,
      siteId,
      author,
      JSON.stringify(p.notes ?? []),
      p.preferredCallback ?? null,
    ];
    if (row) {
      await query(
        c,
        `UPDATE customers SET name = $2, phones = $3, cards = $4, home_site_id = $5, segment = $6, language = $7,
           flags = $8, account_ids = $9, version = $10, updated_at_ms = $11, updated_by_site = $12, updated_by = $13,
           notes = $14, preferred_callback = $15
         WHERE id = $1`,
        values,
      );
    } else {
      const ins = await query(
        c,
        `INSERT INTO customers (id, name, phones, cards, home_site_id, segment, language, flags, account_ids, version,
                                updated_at_ms, updated_by_site, updated_by, notes, preferred_callback)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
         ON CONFLICT (id) DO NOTHING`,
        values,
      );
      if (ins.rowCount === 0) {
        // Another writer created the same customer meanwhile (it committed while we waited).
        const now = await query<{ version: string; updated_by: string }>(
          c,
          `SELECT version, updated_by FROM customers WHERE id = $1`,
          [p.customerId],
        );
        throw new StaleBase(Number(now.rows[0]?.version ?? 0), now.rows[0]?.updated_by ?? null);
      }
    }
    await this.claimKeys(c, p.customerId, 'phone', p.phones);
    await this.claimKeys(c, p.customerId, 'card', p.cards);
    const dropped = droppedNotes(stored, p);
    if (dropped.length > 0) {
      // Moved out of the profile by newer notes (write-rule.ts), kept here: nothing committed is lost.
      await query(
        c,
        `INSERT INTO customer_notes_archive (customer_id, version, site_id, by, at_ms, text, archived_at_ms)
         SELECT $1, $2, n."siteId", n.by, n."atMs", n.text, $3
           FROM jsonb_to_recordset($4::jsonb) AS n("siteId" text, by text, "atMs" bigint, text text)`,
        [p.customerId, version, w.nowMs, JSON.stringify(dropped)],
      );
    }

    // Who must hear about this change besides the (new) home site: a home site the customer
    // just moved away from, whose cache still holds it as a home customer. Not the writer: a
    // site other than the home that may write the customer was served it and follows it
    // already, and a write must not be a way to start following one (docs/architecture.md §5.5).
    if (row && row.home_site_id !== p.homeSiteId) {
      await query(
        c,
        `INSERT INTO customer_interest (site_id, customer_id, since_ms, last_read_ms)
         VALUES ($1, $2, $3, $3)
         ${RENEW_INTEREST}`,
        [row.home_site_id, p.customerId, w.nowMs],
      );
    }

    // Last step, held to commit: see "a feed with no holes" in the module comment.
    await query(c, 'LOCK TABLE customer_changes IN EXCLUSIVE MODE');
    const ch = await query<{ cursor: string }>(
      c,
      `INSERT INTO customer_changes (customer_id, version, changed_at_ms, site_id, changed_by, reason)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING cursor`,
      [p.customerId, version, w.nowMs, siteId, author, w.reason],
    );
    return { cursor: Number(ch.rows[0]!.cursor), profile: { ...p, version } };
  }

  /**
   * The hub served `customerId` to `siteId`: a lookup it answered (an audit row `served_from =
   * hub`, never deleted) or an interest the site holds. The same facts read-check.ts
   * corroborates a reported read with (pg-ingest.ts checkReads).
   */
  private async served(c: Queryable, siteId: string, customerId: string): Promise<boolean> {
    const r = await query<{ served: boolean }>(
      c,
      `SELECT EXISTS (SELECT 1 FROM customer_interest WHERE site_id = $1 AND customer_id = $2)
           OR EXISTS (SELECT 1 FROM customer_reads
                       WHERE customer_id = $2 AND reader_site_id = $1 AND served_from = 'hub') AS served`,
      [siteId, customerId],
    );
    return r.rows[0]?.served === true;
  }

  /**
   * Make the side table hold exactly `values` for this customer. Inserts that hit another
   * customer's key do nothing (waiting first if that customer's transaction is still open);
   * the check afterwards then finds the owner and the whole write is refused.
   */
  private async claimKeys(c: Queryable, customerId: string, kind: KeyKind, values: string[]): Promise<void> {
    const { table, column, field } = KEY_TABLES[kind];
    await query(c, `DELETE FROM ${table} WHERE customer_id = $1 AND NOT (${column} = ANY($2::text[]))`, [
      customerId,
      values,
    ]);
    if (values.length === 0) return;
    // Sorted, so two writers claiming the same keys lock them in the same order.
    await query(
      c,
      `INSERT INTO ${table} (${column}, customer_id)
       SELECT v, $1 FROM unnest($2::text[]) AS v ORDER BY v
       ON CONFLICT (${column}) DO NOTHING`,
      [customerId, values],
    );
    const taken = await query<{ key: string; owner: string }>(
      c,
      `SELECT ${column} AS key, customer_id AS owner FROM ${table}
       WHERE ${column} = ANY($2::text[]) AND customer_id <> $1 ORDER BY ${column} LIMIT 1`,
      [customerId, values],
    );
    const t = taken.rows[0];
    if (t) {
      throw new DomainError(
        'conflict',
        `customer ${customerId}: ${kind} ${t.key} already belongs to customer ${t.owner}`,
        { field: `profile.${field}[${values.indexOf(t.key)}]` },
      );
    }
  }

  /**
   * One statement, so the head cursor and the page come from the same snapshot: a caller that
   * gets an empty page may safely move its cursor to `headCursor`.
   */
  async changesFor(
    siteId: string,
    afterCursor: number,
    limit: number,
  ): Promise<{ changes: CustomerChange[]; headCursor: number }> {
    checkSiteId('siteId', siteId);
    checkCount('afterCursor', afterCursor);
    const n = Number.isFinite(limit) ? Math.max(0, Math.min(MAX_CHANGES_PAGE, Math.floor(limit))) : 0;
    // LEFT JOIN: with an empty page the one row carries only the head (profile columns null).
    const r = await query<ProfileRow & { head: string; cursor: string | null }>(
      this.pool,
      `WITH head AS (SELECT coalesce(max(cursor), 0) AS head FROM customer_changes),
       latest AS (
         SELECT customer_id, max(cursor) AS cursor FROM customer_changes WHERE cursor > $2 GROUP BY customer_id
       ),
       page AS (
         SELECT l.cursor, ${PROFILE_COLUMNS}
         FROM latest l JOIN customers c ON c.id = l.customer_id
         WHERE c.home_site_id = $1
            OR EXISTS (SELECT 1 FROM customer_interest i WHERE i.site_id = $1 AND i.customer_id = c.id)
         ORDER BY l.cursor
         LIMIT $3
       )
       SELECT h.head, p.* FROM head h LEFT JOIN page p ON true ORDER BY p.cursor`,
      [siteId, afterCursor, n],
    );
    const headCursor = Number(r.rows[0]?.head ?? 0);
    const changes = r.rows
      .filter((x) => x.cursor !== null)
      .map((x) => ({ cursor: Number(x.cursor), profile: toProfile(x) }));
    return { changes, headCursor };
  }

  /**
   * Apply pending flag requests (queued by the ingest of `card-loss.reported` events), oldest
   * first, at most `limit`. Each is one transaction: the request row and the customer row are
   * locked, the profile gets the flag as a versioned write by the reporting site (unless it
   * already has it), and the request is marked applied with its outcome, so a crash in
   * between leaves it pending and a second run never applies it twice. One per transaction
   * because a write takes the feed's lock last (see "a feed with no holes"). A request whose
   * write meets a concurrent write (stale base) stays pending for the next run. A request the
   * owner rule refuses (a site the hub never served the customer to) is marked
   * `uncorroborated` and returned in `refused` for the caller to log; the event itself stays
   * stored, like a flagged read.
   */
  async applyFlagRequests(limit: number, nowMs: number): Promise<FlagRequestsApplied> {
    checkCount('limit', limit);
    checkCount('nowMs', nowMs);
    const out: FlagRequestsApplied = { changes: [], refused: [] };
    for (let i = 0; i < limit; i++) {
      let r: CustomerChange | RefusedFlagRequest | 'none' | 'no-change';
      try {
        r = await withTransaction(this.pool, async (c) => {
          await fenceTx(c, this.fence);
          return this.applyOneFlagRequest(c, nowMs);
        });
      } catch (e) {
        if (e instanceof StaleBase) break; // a write raced it: next run
        throw e;
      }
      if (r === 'none') break;
      if (r === 'no-change') continue;
      if ('eventId' in r) out.refused.push(r);
      else out.changes.push(r);
    }
    return out;
  }

  private async applyOneFlagRequest(
    c: pg.PoolClient,
    nowMs: number,
  ): Promise<CustomerChange | RefusedFlagRequest | 'none' | 'no-change'> {
    const req = await query<{ event_id: string; site_id: string; customer_id: string; reason: string }>(
      c,
      `SELECT event_id, site_id, customer_id, reason FROM directory_flag_requests
        WHERE applied_at_ms IS NULL ORDER BY at_ms, event_id LIMIT 1 FOR UPDATE SKIP LOCKED`,
    );
    const q = req.rows[0];
    if (!q) return 'none';
    const cur = await query<ProfileRow>(
      c,
      `SELECT ${PROFILE_COLUMNS} FROM customers c WHERE c.id = $1 FOR UPDATE`,
      [q.customer_id],
    );
    const row = cur.rows[0];
    let result: CustomerChange | RefusedFlagRequest | 'no-change' = 'no-change';
    let outcome: 'set' | 'already-set' | 'unknown-customer' | 'uncorroborated';
    if (!row) outcome = 'unknown-customer';
    else if (row.flags.lostCard) outcome = 'already-set';
    else {
      const p = toProfile(row);
      const flagged = { ...p, flags: { ...p.flags, lostCard: true } };
      // The reporting site's write, held to the owner rule like any other: setting lostCard
      // is what the home site or a site the hub served the customer to may do.
      const writer = { kind: 'site' as const, id: q.site_id };
      const w = { writer, baseVersion: p.version, reason: q.reason, nowMs };
      try {
        result = await this.writeTx(c, w, flagged, authorOf(writer, ''));
        outcome = 'set';
      } catch (e) {
        // The rule refuses before the write touches anything, so the transaction goes on.
        if (!isDomainError(e, 'permission-denied')) throw e;
        result = { eventId: q.event_id, siteId: q.site_id, customerId: q.customer_id, reason: e.message };
        outcome = 'uncorroborated';
      }
    }
    await query(
      c,
      `UPDATE directory_flag_requests SET applied_at_ms = $2, outcome = $3 WHERE event_id = $1`,
      [q.event_id, nowMs, outcome],
    );
    return result;
  }

  /**
   * The read audit for admins, newest first. Only the filters given go into the statement,
   * so each query can use its index (customer_id, at_ms) or (reader_site_id, at_ms).
   */
  async readAudit(q: ReadAuditQuery): Promise<{ reads: AuditedRead[]; truncated: boolean }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (cond: (n: number) => string, v: unknown) => {
      params.push(v);
      where.push(cond(params.length));
    };
    if (q.customerId !== undefined) {
      const id = customerIdSchema.safeParse(q.customerId);
      if (!id.success)
        throw invalidArgument('customerId', id.error.issues[0]?.message ?? 'not a customer id');
      add((n) => `customer_id = $${n}`, q.customerId);
    }
    if (q.readerSiteId !== undefined) {
      checkSiteId('readerSiteId', q.readerSiteId);
      add((n) => `reader_site_id = $${n}`, q.readerSiteId);
    }
    if (q.sinceMs !== undefined) {
      checkCount('sinceMs', q.sinceMs);
      add((n) => `at_ms >= $${n}`, q.sinceMs);
    }
    if (!Number.isInteger(q.limit) || q.limit < 1 || q.limit > MAX_AUDIT_PAGE) {
      throw invalidArgument('limit', `must be between 1 and ${MAX_AUDIT_PAGE} (got ${q.limit})`);
    }
    params.push(q.limit + 1);
    const r = await query<{
      at_ms: string;
      reader_site_id: string;
      customer_id: string;
      home_site_id: string;
      reason: string;
      call_id: string | null;
      agent_id: string | null;
      ivr_session_id: string | null;
      served_from: 'hub' | 'site-cache';
      flag: string | null;
      claimed_home_site_id: string | null;
    }>(
      this.pool,
      `SELECT at_ms, reader_site_id, customer_id, home_site_id, reason, call_id, agent_id, ivr_session_id,
              served_from, flag, claimed_home_site_id
         FROM customer_reads ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY at_ms DESC, id DESC LIMIT $${params.length}`,
      params,
    );
    const reads = r.rows.slice(0, q.limit).map((x) => ({
      atMs: Number(x.at_ms),
      readerSiteId: x.reader_site_id,
      customerId: x.customer_id,
      homeSiteId: x.home_site_id,
      reason: x.reason,
      callId: x.call_id,
      agentId: x.agent_id,
      ivrSessionId: x.ivr_session_id,
      servedFrom: x.served_from,
      flag: x.flag,
      claimedHomeSiteId: x.claimed_home_site_id,
    }));
    return { reads, truncated: r.rows.length > q.limit };
  }

  /**
   * One statement, so the three figures are of one moment. A read of a site's own customer
   * is audited too (recordRead) but is not roaming, so it is not counted here; nor is a
   * reported read of a customer the hub does not know (no home: it is flagged).
   */
  async counts(): Promise<DirectoryCounts> {
    const r = await query<{ what: 'customers' | 'reader' | 'home'; site_id: string | null; n: string }>(
      this.pool,
      `SELECT 'customers' AS what, NULL AS site_id, count(*) AS n FROM customers
       UNION ALL
       SELECT 'reader', reader_site_id, count(*) FROM customer_reads
        WHERE reader_site_id <> home_site_id AND home_site_id <> '' GROUP BY reader_site_id
       UNION ALL
       SELECT 'home', home_site_id, count(*) FROM customer_reads
        WHERE reader_site_id <> home_site_id AND home_site_id <> '' GROUP BY home_site_id`,
    );
    const out: DirectoryCounts = {
      customers: 0,
      roamingReadsByReader: new Map(),
      roamingReadsByHome: new Map(),
    };
    for (const row of r.rows) {
      if (row.what === 'customers') out.customers = Number(row.n);
      else
        (row.what === 'reader' ? out.roamingReadsByReader : out.roamingReadsByHome).set(
          row.site_id!,
          Number(row.n),
        );
    }
    return out;
  }

  /**
   * Forget sites' interest in customers they have not read since `beforeMs` (the hub's
   * sweep, every so often): their changes stop going to those sites. Returns how many lapsed.
   */
  async lapseInterest(beforeMs: number): Promise<number> {
    checkCount('beforeMs', beforeMs);
    const r = await query(this.pool, `DELETE FROM customer_interest WHERE last_read_ms < $1`, [beforeMs]);
    return r.rowCount ?? 0;
  }

  async interestedSites(customerId: string): Promise<string[]> {
    const r = await query<{ site_id: string }>(
      this.pool,
      `SELECT home_site_id AS site_id FROM customers WHERE id = $1
       UNION
       SELECT site_id FROM customer_interest WHERE customer_id = $1`,
      [customerId],
    );
    return r.rows.map((x) => x.site_id).sort();
  }

  /**
   * Create or replace `profiles` at version 1, all or nothing, each with a change-feed entry
   * (so caches pick them up) but no audit and no interest. Keys are released for all seeded
   * customers before any is claimed, so profiles may trade phones or cards among themselves.
   * Phones are stored canonical (parseCustomerProfile normalises them), so two seeded
   * customers giving one number in different spellings clash like an exact repeat.
   */
  async seed(profiles: readonly CustomerProfile[], nowMs: number): Promise<number> {
    checkCount('nowMs', nowMs);
    const parsed = profiles.map((p, i) => parseCustomerProfile(p, `profiles[${i}]`));
    const seen = new Set<string>();
    parsed.forEach((p, i) => {
      if (seen.has(p.customerId)) {
        throw invalidArgument(`profiles[${i}].customerId`, `customer ${p.customerId} is listed twice`);
      }
      seen.add(p.customerId);
    });
    if (parsed.length === 0) return 0;
    const chunks: CustomerProfile[][] = [];
    for (let i = 0; i < parsed.length; i += SEED_CHUNK) chunks.push(parsed.slice(i, i + SEED_CHUNK));

    await withTransaction(this.pool, async (c) => {
      for (const chunk of chunks) {
        await this.seedRows(c, chunk, nowMs);
        const ids = chunk.map((p) => p.customerId);
        await query(c, `DELETE FROM customer_phones WHERE customer_id = ANY($1::text[])`, [ids]);
        await query(c, `DELETE FROM customer_cards WHERE customer_id = ANY($1::text[])`, [ids]);
      }
      const indexOf = new Map(parsed.map((p, i) => [p.customerId, i]));
      for (const chunk of chunks) {
        await this.seedKeys(c, chunk, indexOf, 'phone', (p) => p.phones);
        await this.seedKeys(c, chunk, indexOf, 'card', (p) => p.cards);
      }
      await query(c, 'LOCK TABLE customer_changes IN EXCLUSIVE MODE');
      for (const chunk of chunks) {
        await query(
          c,
          `INSERT INTO customer_changes (customer_id, version, changed_at_ms, site_id, changed_by, reason)
           SELECT x.id, 1, $3, x.site, 'seed', 'seed'
           FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x(id, site, n) ORDER BY x.n`,
          [chunk.map((p) => p.customerId), chunk.map((p) => p.homeSiteId), nowMs],
        );
      }
    });
    return parsed.length;
  }

  private async seedRows(c: Queryable, chunk: CustomerProfile[], nowMs: number): Promise<void> {
    const rows = chunk.map((p) => ({
      id: p.customerId,
      name: p.name,
      phones: p.phones,
      cards: p.cards,
      home_site_id: p.homeSiteId,
      segment: p.segment,
      language: p.language,
      flags: p.flags,
      account_ids: p.accountIds,
      notes: p.notes ?? [],
      preferred_callback: p.preferredCallback || null,
    }));
    await query(
      c,
      `INSERT INTO customers (id, name, phones, cards, home_site_id, segment, language, flags, account_ids, version,
                              updated_at_ms, updated_by_site, updated_by, notes, preferred_callback)
       SELECT x.id, x.name, x.phones, x.cards, x.home_site_id, x.segment, x.language, x.flags, x.account_ids, 1,
              $2, x.home_site_id, 'seed', x.notes, x.preferred_callback
       FROM jsonb_to_recordset($1::jsonb) AS x(id text, name text, phones text[], cards text[], home_site_id text,
                                               segment text, language text, flags jsonb, account_ids text[],
                                               notes jsonb, preferred_callback text)
       ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, phones = EXCLUDED.phones, cards = EXCLUDED.cards,
         home_site_id = EXCLUDED.home_site_id, segment = EXCLUDED.segment, language = EXCLUDED.language,
         flags = EXCLUDED.flags, account_ids = EXCLUDED.account_ids, version = 1,
         notes = EXCLUDED.notes, preferred_callback = EXCLUDED.preferred_callback,
         updated_at_ms = EXCLUDED.updated_at_ms, updated_by_site = EXCLUDED.updated_by_site,
         updated_by = EXCLUDED.updated_by`,
      [JSON.stringify(rows), nowMs],
    );
  }

  private async seedKeys(
    c: Queryable,
    chunk: CustomerProfile[],
    indexOf: ReadonlyMap<string, number>,
    kind: KeyKind,
    keysOf: (p: CustomerProfile) => string[],
  ): Promise<void> {
    const { table, column } = KEY_TABLES[kind];
    const keys: string[] = [];
    const owners: string[] = [];
    for (const p of chunk) {
      for (const k of keysOf(p)) {
        keys.push(k);
        owners.push(p.customerId);
      }
    }
    if (keys.length === 0) return;
    const inserted = await query<{ key: string }>(
      c,
      `INSERT INTO ${table} (${column}, customer_id) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (${column}) DO NOTHING RETURNING ${column} AS key`,
      [keys, owners],
    );
    // Only keys that were not inserted, or that two seeded profiles both list, can be owned by
    // someone else; look those few up instead of joining the whole chunk against the table.
    const got = new Set(inserted.rows.map((r) => r.key));
    const listed = new Set<string>();
    const suspects = new Set<string>();
    for (const k of keys) {
      if (!got.has(k) || listed.has(k)) suspects.add(k);
      listed.add(k);
    }
    if (suspects.size === 0) return;
    const owned = await query<{ key: string; owner: string }>(
      c,
      `SELECT ${column} AS key, customer_id AS owner FROM ${table} WHERE ${column} = ANY($1::text[])`,
      [[...suspects]],
    );
    const ownerOf = new Map(owned.rows.map((r) => [r.key, r.owner]));
    const clash = keys.findIndex((k, i) => ownerOf.has(k) && ownerOf.get(k) !== owners[i]);
    if (clash < 0) return;
    const wantedBy = owners[clash]!;
    throw new DomainError(
      'conflict',
      `customer ${wantedBy}: ${kind} ${keys[clash]} already belongs to customer ${ownerOf.get(keys[clash]!)}`,
      { field: `profiles[${indexOf.get(wantedBy) ?? 0}].${KEY_TABLES[kind].field}` },
    );
  }
}
