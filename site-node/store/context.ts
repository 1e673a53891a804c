/**
 * What every repository needs: the pool, the site it writes for (events carry it), and the
 * clock (docs/architecture.md §3.2: time is an input; rows get the clock's time, not the server's).
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import type { Clock } from '../../shared/clock.js';
import { assertSiteId } from '../../shared/ids.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { migrate, type MigrateResult } from '../../shared/pg/migrate.js';

export interface StoreContext {
  pool: pg.Pool;
  siteId: string;
  clock: Clock;
  log: Logger;
}

export function storeContext(
  pool: pg.Pool,
  siteId: string,
  clock: Clock,
  log: Logger = silentLogger,
): StoreContext {
  assertSiteId(siteId);
  return { pool, siteId, clock, log };
}

export const SITE_MIGRATIONS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Apply the site schema (idempotent). */
export function migrateSiteStore(pool: pg.Pool): Promise<MigrateResult> {
  return migrate(pool, { dir: SITE_MIGRATIONS_DIR, schemaTable: 'site_schema_migrations' });
}

export const ts = (ms: number): Date => new Date(ms);
export const ms = (d: Date | null): number | undefined => (d === null ? undefined : d.getTime());
