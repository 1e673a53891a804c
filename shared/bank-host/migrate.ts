/**
 * The ledger schema's migrations (`migrations/NNN_name.sql`), applied by the project's one
 * migration runner (shared/pg/migrate.ts) with its own record table, so a site database
 * that also holds the ledger keeps the two histories apart.
 */
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import type pg from 'pg';
import { migrate } from '../pg/migrate.js';

export const LEDGER_MIGRATIONS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'migrations');

/** Apply the ledger schema (idempotent); returns the files applied by this call. */
export async function applyLedgerMigrations(pool: pg.Pool, dir = LEDGER_MIGRATIONS_DIR): Promise<string[]> {
  const r = await migrate(pool, { dir, schemaTable: 'ledger_schema_migrations' });
  return r.applied;
}
