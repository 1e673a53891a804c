/**
 * The site's customer cache, implementing the `CustomerDirectory` port (shared/domain/
 * customer.ts) on Postgres. Profiles come from the hub (source `home` for this site's own
 * customers, `served` for roaming customers it recently served); `upsertCustomer` refuses to
 * replace a cached profile with an older version. Cache fills are not facts of this site, so
 * they write no outbox event.
 *
 * Phones are cached and looked up in their canonical form (shared/domain/phone.ts), so an
 * ANI matches whatever shape the trunk delivered it in. With the site's area code a local
 * caller number ("63881234") becomes the full one ("02363881234"); a home customer's bare
 * local number in a profile is qualified the same way, so the two meet. A roaming customer's
 * bare local number is left alone: it belongs to their city, not ours.
 */
import type pg from 'pg';
import type {
  ContactSummary,
  CustomerDirectory,
  CustomerProfile,
  ReadPurpose,
} from '../../shared/domain/customer.js';
import { assertAreaCode, normalizePhone, tryNormalizePhone } from '../../shared/domain/phone.js';
import { DomainError } from '../../shared/errors.js';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { ts, type StoreContext } from './context.js';

export type CacheSource = 'home' | 'served';

export interface CachedCustomer extends CustomerProfile {
  cachedAtMs: number;
  source: CacheSource;
}

interface CustomerRow {
  id: string;
  name: string;
  phones: string[];
  cards: string[];
  home_site_id: string;
  segment: CustomerProfile['segment'];
  language: string;
  flags: CustomerProfile['flags'];
  account_ids: string[];
  version: number;
  source: CacheSource;
  cached_at: Date;
}

const toCustomer = (r: CustomerRow): CachedCustomer => ({
  customerId: r.id,
  name: r.name,
  phones: r.phones,
  cards: r.cards,
  homeSiteId: r.home_site_id,
  segment: r.segment,
  language: r.language,
  flags: r.flags,
  accountIds: r.account_ids,
  version: r.version,
  cachedAtMs: r.cached_at.getTime(),
  source: r.source,
});

/** The plain profile (what the port returns: no cache bookkeeping). */
const toProfile = ({ cachedAtMs: _c, source: _s, ...p }: CachedCustomer): CustomerProfile => p;

export interface UpsertResult {
  customer: CachedCustomer;
  /** False when the cache already held this or a newer version (nothing written). */
  written: boolean;
}

export interface PhoneOptions {
  /** The site's area code ('023'), for local numbers; see the module comment. */
  areaCode?: string | undefined;
}

/**
 * The profile's phones in canonical form, repeats dropped (two spellings of one number). The
 * cache is not the validator (the hub checked the profile), but a phone that is not a number
 * could never match an ANI, so it is refused naming it rather than stored.
 */
function cachedPhones(p: CustomerProfile, ctx: StoreContext, o: PhoneOptions): string[] {
  const local = p.homeSiteId === ctx.siteId ? { areaCode: o.areaCode } : {};
  const phones = p.phones.map((x, i) => normalizePhone(x, local, `phones[${i}]`));
  return [...new Set(phones)];
}

/** Cache a profile. An older version than the cached one is ignored (`written: false`). */
export async function upsertCustomerTx(
  db: pg.PoolClient | pg.Pool,
  ctx: StoreContext,
  p: CustomerProfile,
  source?: CacheSource,
  opts: PhoneOptions = {},
): Promise<UpsertResult> {
  if (!p.customerId)
    throw new DomainError('invalid-argument', 'customerId: required', { field: 'customerId' });
  assertAreaCode(opts.areaCode);
  const phones = cachedPhones(p, ctx, opts);
  const src = source ?? (p.homeSiteId === ctx.siteId ? 'home' : 'served');
  const r = await query<CustomerRow>(
    db,
    `INSERT INTO customers (id, name, phones, cards, home_site_id, segment, language, flags, account_ids, version,
                            source, cached_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, phones = EXCLUDED.phones, cards = EXCLUDED.cards,
       home_site_id = EXCLUDED.home_site_id, segment = EXCLUDED.segment, language = EXCLUDED.language,
       flags = EXCLUDED.flags, account_ids = EXCLUDED.account_ids, version = EXCLUDED.version,
       source = EXCLUDED.source, cached_at = EXCLUDED.cached_at
       WHERE customers.version <= EXCLUDED.version
     RETURNING *`,
    [
      p.customerId,
      p.name,
      phones,
      p.cards,
      p.homeSiteId,
      p.segment,
      p.language,
      JSON.stringify(p.flags),
      p.accountIds,
      p.version,
      src,
      ts(ctx.clock.now()),
    ],
  );
  if (r.rows[0]) return { customer: toCustomer(r.rows[0]), written: true };
  const cur = await query<CustomerRow>(db, `SELECT * FROM customers WHERE id = $1`, [p.customerId]);
  return { customer: toCustomer(cur.rows[0]!), written: false };
}

export function upsertCustomer(
  ctx: StoreContext,
  p: CustomerProfile,
  source?: CacheSource,
  opts: PhoneOptions = {},
): Promise<UpsertResult> {
  return upsertCustomerTx(ctx.pool, ctx, p, source, opts);
}

/** Load many profiles at once (demo data, a snapshot from the hub), in one transaction. */
export async function seedCustomers(
  ctx: StoreContext,
  profiles: readonly CustomerProfile[],
  opts: {
    contacts?: ReadonlyArray<{ customerId: string } & Omit<ContactSummary, 'atMs'> & { atMs: number }>;
  } & PhoneOptions = {},
): Promise<number> {
  const phoneOpts = { areaCode: opts.areaCode };
  return withTransaction(ctx.pool, async (c) => {
    let n = 0;
    for (const p of profiles) if ((await upsertCustomerTx(c, ctx, p, undefined, phoneOpts)).written) n++;
    for (const h of opts.contacts ?? []) await addContactTx(c, h.customerId, h);
    return n;
  });
}

export async function addContactTx(
  db: pg.PoolClient | pg.Pool,
  customerId: string,
  h: ContactSummary,
): Promise<void> {
  await query(
    db,
    `INSERT INTO contact_history (customer_id, call_id, at, channel, summary) VALUES ($1, $2, $3, $4, $5)`,
    [customerId, h.callId, ts(h.atMs), h.channel, h.summary],
  );
}

/** Drop `served` entries cached before `olderThanMs` (home customers stay). */
export async function evictServed(ctx: StoreContext, olderThanMs: number): Promise<number> {
  const r = await query(ctx.pool, `DELETE FROM customers WHERE source = 'served' AND cached_at < $1`, [
    ts(olderThanMs),
  ]);
  return r.rowCount ?? 0;
}

/**
 * The `CustomerDirectory` port over the site's cache. It ignores the read purpose: auditing
 * roaming reads is the federated directory's job (site-node/link/federated-directory.ts),
 * which decides whether a cache hit needs an audit record.
 */
export class PgCustomerDirectory implements CustomerDirectory {
  private readonly phoneCtx: PhoneOptions;

  /** `opts.areaCode`: the site's area code, so a local ANI finds the full number. */
  constructor(
    private readonly db: pg.Pool,
    opts: PhoneOptions = {},
  ) {
    assertAreaCode(opts.areaCode);
    this.phoneCtx = { areaCode: opts.areaCode };
  }

  private async one(where: string, v: string): Promise<CustomerProfile | undefined> {
    const r = await query<CustomerRow>(
      this.db,
      `SELECT * FROM customers WHERE ${where} ORDER BY id LIMIT 1`,
      [v],
    );
    return r.rows[0] ? toProfile(toCustomer(r.rows[0])) : undefined;
  }

  /**
   * An ANI that is not a phone number ("anonymous", "unknown", empty) matches nobody: the
   * caller goes on unrecognised rather than the call failing.
   */
  async byPhone(phone: string, _purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    const canonical = tryNormalizePhone(phone, this.phoneCtx);
    if (canonical === undefined) return undefined;
    return this.one('phones @> ARRAY[$1]::text[]', canonical);
  }

  byCard(card: string, _purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    return this.one('cards @> ARRAY[$1]::text[]', card);
  }

  byId(customerId: string, _purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    return this.one('id = $1', customerId);
  }

  async recentContacts(customerId: string, limit: number): Promise<ContactSummary[]> {
    const n = Math.max(0, Math.min(100, Math.floor(limit)));
    const r = await query<{ call_id: string; at: Date; channel: ContactSummary['channel']; summary: string }>(
      this.db,
      `SELECT call_id, at, channel, summary FROM contact_history WHERE customer_id = $1 ORDER BY at DESC, id DESC LIMIT $2`,
      [customerId, n],
    );
    return r.rows.map((x) => ({
      callId: x.call_id,
      atMs: x.at.getTime(),
      channel: x.channel,
      summary: x.summary,
    }));
  }

  /** With cache bookkeeping (source, cachedAtMs). */
  async cached(customerId: string): Promise<CachedCustomer | undefined> {
    const r = await query<CustomerRow>(this.db, `SELECT * FROM customers WHERE id = $1`, [customerId]);
    return r.rows[0] ? toCustomer(r.rows[0]) : undefined;
  }
}
