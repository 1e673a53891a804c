/**
 * The hub database's migrations (`migrations/NNN_name.sql`), applied at hub start by the
 * project's one migration runner (shared/pg/migrate.ts). The hub's Postgres holds the
 * topology versions and admin audit, the provincial customer directory (system of record)
 * and the ingested events of every site.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type pg from 'pg';
import { migrate } from '../../shared/pg/migrate.js';

export const HUB_MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Apply the hub schema (idempotent); returns the files applied by this call. */
export async function migrateHubStore(pool: pg.Pool, dir = HUB_MIGRATIONS_DIR): Promise<string[]> {
  const r = await migrate(pool, { dir, schemaTable: 'hub_schema_migrations' });
  return r.applied;
}
