/**
 * The desk's passwords and audit in the site's database (migration 008_desk_auth.sql): the
 * PostgreSQL adapter of DeskCredentialStore (site-node/cti/desk-credentials.ts). A password
 * and the audit row saying who set it commit together.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import type { DeskAuditEntry, DeskCredentialStore } from '../cti/desk-credentials.js';
import { ts } from './context.js';

const INSERT_AUDIT = `INSERT INTO desk_audit (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`;

function auditParams(e: DeskAuditEntry): unknown[] {
  return [ts(e.atMs), e.actor, e.action, e.target, JSON.stringify(e.detail)];
}

export class PgDeskCredentialStore implements DeskCredentialStore {
  constructor(private readonly pool: pg.Pool) {}

  async passwordHash(userId: string): Promise<string | undefined> {
    const r = await query<{ password_hash: string }>(
      this.pool,
      `SELECT password_hash FROM desk_credentials WHERE user_id = $1`,
      [userId],
    );
    return r.rows[0]?.password_hash;
  }

  async passwordHashes(): Promise<Map<string, string>> {
    const r = await query<{ user_id: string; password_hash: string }>(
      this.pool,
      `SELECT user_id, password_hash FROM desk_credentials`,
      [],
    );
    return new Map(r.rows.map((x) => [x.user_id, x.password_hash]));
  }

  async setPasswordHash(
    userId: string,
    hash: string,
    audit: DeskAuditEntry,
    ifHash?: string,
  ): Promise<boolean> {
    return withTransaction(this.pool, async (c) => {
      // With ifHash: only over the hash the old password was checked against (a reset that
      // committed meanwhile wins), decided by the row itself, not by a read before.
      const r =
        ifHash === undefined
          ? await c.query(
              `INSERT INTO desk_credentials (user_id, password_hash, set_by, set_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (user_id) DO UPDATE SET password_hash = $2, set_by = $3, set_at = $4`,
              [userId, hash, audit.actor, ts(audit.atMs)],
            )
          : await c.query(
              `UPDATE desk_credentials SET password_hash = $2, set_by = $3, set_at = $4
                WHERE user_id = $1 AND password_hash = $5`,
              [userId, hash, audit.actor, ts(audit.atMs), ifHash],
            );
      if (r.rowCount === 0) return false;
      await c.query(INSERT_AUDIT, auditParams(audit));
      return true;
    });
  }

  async audit(entry: DeskAuditEntry): Promise<void> {
    await query(this.pool, INSERT_AUDIT, auditParams(entry));
  }
}

export interface DeskAuditRow {
  atMs: number;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
}

/** The desk audit, oldest first (optionally of one target). */
export async function readDeskAudit(pool: pg.Pool, target?: string): Promise<DeskAuditRow[]> {
  const r = await query<{
    at: Date;
    actor: string;
    action: string;
    target: string | null;
    detail: Record<string, unknown>;
  }>(
    pool,
    `SELECT at, actor, action, target, detail FROM desk_audit
      WHERE $1::text IS NULL OR target = $1 ORDER BY id`,
    [target ?? null],
  );
  return r.rows.map((x) => ({
    atMs: x.at.getTime(),
    actor: x.actor,
    action: x.action,
    target: x.target,
    detail: x.detail,
  }));
}
