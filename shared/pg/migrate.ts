/**
 * The migration runner. A directory holds `NNN_name.sql` files; they are applied in number
 * order, each in its own transaction, while this process holds a Postgres advisory lock (so
 * two nodes starting at once do not race). Each applied file is recorded with its sha256; if
 * a file that was already applied has changed, the runner refuses to run at all and names the
 * file: an applied migration is history, and a change needs a new file.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { DomainError, failedPrecondition } from '../errors.js';
import { fromPgError } from './errors.js';

export interface MigrateOptions {
  /** Directory holding the `NNN_name.sql` files. */
  dir: string;
  /** Table recording applied files; default `schema_migrations`. May be schema-qualified. */
  schemaTable?: string;
}

export interface MigrateResult {
  /** Files applied by this run, in order. */
  applied: string[];
  /** Files that were already applied (checksum verified). */
  unchanged: string[];
}

export interface MigrationFile {
  name: string;
  number: number;
  sql: string;
  sha256: string;
}

const FILE = /^(\d{3})_[a-z0-9][a-z0-9_-]*\.sql$/;
const TABLE = /^([a-z_][a-z0-9_]*\.)?[a-z_][a-z0-9_]*$/;

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** Read and order the migration files; rejects badly named `.sql` files and duplicate numbers. */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.sql')).sort();
  const out: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const name of names) {
    const m = FILE.exec(name);
    if (!m) {
      throw new DomainError(
        'invalid-argument',
        `migration ${name}: name must look like 001_create_calls.sql`,
        {
          field: `migrations.${name}`,
        },
      );
    }
    const number = Number(m[1]);
    const other = seen.get(number);
    if (other) {
      throw new DomainError('invalid-argument', `migrations ${other} and ${name} share number ${m[1]}`, {
        field: `migrations.${name}`,
      });
    }
    seen.set(number, name);
    const sql = await readFile(join(dir, name), 'utf8');
    out.push({ name, number, sql, sha256: sha256(sql) });
  }
  return out;
}

function lockKeyFor(table: string): string {
  // A stable 63-bit key derived from the table name, so different runners do not collide.
  return BigInt.asIntN(64, BigInt('0x' + sha256(`migrate:${table}`).slice(0, 16))).toString();
}

export async function migrate(pool: pg.Pool, opts: MigrateOptions): Promise<MigrateResult> {
  const table = opts.schemaTable ?? 'schema_migrations';
  if (!TABLE.test(table))
    throw new RangeError(`migrate: schemaTable ${JSON.stringify(table)} is not a plain name`);
  const files = await readMigrations(opts.dir);
  const lockKey = lockKeyFor(table);

  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (e) {
    throw fromPgError(e);
  }
  let locked = false;
  try {
    await client.query('SELECT pg_advisory_lock($1::bigint)', [lockKey]);
    locked = true;
    await client.query(
      `CREATE TABLE IF NOT EXISTS ${table} (
         name text PRIMARY KEY,
         sha256 text NOT NULL,
         applied_at timestamptz NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ name: string; sha256: string }>(
      `SELECT name, sha256 FROM ${table}`,
    );
    const applied = new Map(rows.map((r) => [r.name, r.sha256]));

    // Verify all history before changing anything.
    const byName = new Map(files.map((f) => [f.name, f]));
    for (const [name, sum] of applied) {
      const f = byName.get(name);
      if (!f) {
        throw failedPrecondition(`migration ${name} was applied but its file is missing from ${opts.dir}`);
      }
      if (f.sha256 !== sum) {
        throw failedPrecondition(
          `migration ${name} was changed after it was applied (sha256 ${sum.slice(0, 12)}... now ${f.sha256.slice(0, 12)}...); add a new migration instead`,
        );
      }
    }

    const result: MigrateResult = { applied: [], unchanged: [] };
    for (const f of files) {
      if (applied.has(f.name)) {
        result.unchanged.push(f.name);
        continue;
      }
      try {
        await client.query('BEGIN');
        await client.query(f.sql);
        await client.query(`INSERT INTO ${table} (name, sha256) VALUES ($1, $2)`, [f.name, f.sha256]);
        await client.query('COMMIT');
      } catch (e) {
        await client.query('ROLLBACK').catch(() => {});
        const mapped = fromPgError(e);
        throw new DomainError(mapped.kind, `migration ${f.name} failed: ${mapped.message}`, { cause: e });
      }
      result.applied.push(f.name);
    }
    return result;
  } catch (e) {
    throw fromPgError(e);
  } finally {
    if (locked) await client.query('SELECT pg_advisory_unlock($1::bigint)', [lockKey]).catch(() => {});
    client.release();
  }
}
