/**
 * The `HomeResolver` for bank routing (shared/bank-host/routing.ts), over the site's customer
 * cache. A roaming caller's profile is in the cache by the time the IVR reaches the bank (the
 * directory cached it when it recognised them), so no hub call is needed on the money path.
 * Not cached = undefined: the router then uses the local host, which holds nothing it does not
 * know about.
 */
import type { HomeResolver } from '../../shared/bank-host/routing.js';
import { query, type Queryable } from '../../shared/pg/pool.js';

export class CacheHomeResolver implements HomeResolver {
  constructor(private readonly db: Queryable) {}

  byCustomer(customerId: string): Promise<string | undefined> {
    return this.home('id = $1', customerId);
  }

  byAccount(accountId: string): Promise<string | undefined> {
    return this.home('account_ids @> ARRAY[$1]::text[]', accountId);
  }

  byCard(cardNumber: string): Promise<string | undefined> {
    return this.home('cards @> ARRAY[$1]::text[]', cardNumber);
  }

  private async home(where: string, v: string): Promise<string | undefined> {
    const r = await query<{ home_site_id: string }>(
      this.db,
      `SELECT home_site_id FROM customers WHERE ${where} ORDER BY id LIMIT 1`,
      [v],
    );
    return r.rows[0]?.home_site_id;
  }
}
