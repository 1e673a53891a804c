/**
 * The site's own database pool, shaped so that no write of the site's durable writes
 * (site-node/runtime/durable-writes.ts, docs/architecture.md §7.1) can wait without bound:
 *
 * - a connection that cannot be opened in half of `store.firstRowWait` fails (`unavailable`,
 *   retried), so a new caller's first row is not stuck behind a connect the bound cannot end;
 * - a query unanswered for `store.queryTimeout` fails as the connection lost, and that
 *   connection is dropped, not reused (shared/pg/pool.ts): on a half-open connection the
 *   running write is classified transient and retried on a fresh one, the store is seen as
 *   down, and admission closes, instead of the pump stopping with the store still "up";
 * - TCP keepalive finds idle connections whose peer vanished before a write picks them.
 *
 * Only the site's pool: the hub and the other pools keep shared/pg/pool.ts's defaults.
 */
import type pg from 'pg';
import { createPool } from '../../shared/pg/pool.js';
import type { StoreWritesConfig } from '../config.js';

/** First keepalive probe after this long idle. */
const KEEPALIVE_MS = 5_000;

export function sitePoolOptions(store: Pick<StoreWritesConfig, 'firstRowWaitMs' | 'queryTimeoutMs'>): {
  connectionTimeoutMs: number;
  queryTimeoutMs: number;
  keepAliveMs: number;
} {
  return {
    connectionTimeoutMs: Math.max(1, Math.floor(store.firstRowWaitMs / 2)),
    queryTimeoutMs: store.queryTimeoutMs,
    keepAliveMs: KEEPALIVE_MS,
  };
}

export function createSitePool(
  url: string,
  o: {
    applicationName: string;
    max: number;
    store: Pick<StoreWritesConfig, 'firstRowWaitMs' | 'queryTimeoutMs'>;
  },
): pg.Pool {
  return createPool(url, { applicationName: o.applicationName, max: o.max, ...sitePoolOptions(o.store) });
}
