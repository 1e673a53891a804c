/**
 * The lease on the hub's PostgreSQL (docs/architecture.md §6.6): the adapter under the pure
 * core in lease.ts. One statement takes or renews the lease row (table `hub_lease`,
 * hub/store/migrations/007_leader_lease.sql) on the database's clock; when another hub holds
 * it, the row says who and where. The token is raised whenever the holder changes or a lapsed
 * lease is taken again, so a term's writes are told apart from the next term's.
 */
import type pg from 'pg';
import { query } from '../../shared/pg/pool.js';
import type { LeaderInfo } from './lease.js';

export type LeaseAttempt =
  { held: true; self: LeaderInfo; contended: boolean } | { held: false; leader: LeaderInfo | null };

export class PgLease {
  constructor(
    private readonly pool: pg.Pool,
    private readonly hubId: string,
    private readonly address: string,
  ) {}

  /**
   * Take the lease if it is free or lapsed, renew it if this hub holds it; else say who does.
   * A take from another hub records that hub as the contender (the `contender` column then
   * means "another hub in play lately", not only "tried and found it held"): a leader whose
   * lease lapsed may be stalled, not gone, and the new holder must not count on being alone
   * for two TTLs (hub/lease/lease.ts, no contender).
   */
  async attempt(ttlMs: number): Promise<LeaseAttempt> {
    const r = await query<{ token: string; contended: boolean }>(
      this.pool,
      `UPDATE hub_lease
          SET token = CASE WHEN holder = $1 AND expires_at > clock_timestamp() THEN token ELSE token + 1 END,
              -- A takeover records the hub it displaced as a contender (see attempt()'s note).
              contender = CASE WHEN holder IS DISTINCT FROM $1 AND holder IS NOT NULL THEN holder ELSE contender END,
              contender_at = CASE WHEN holder IS DISTINCT FROM $1 AND holder IS NOT NULL
                                  THEN clock_timestamp() ELSE contender_at END,
              holder = $1, address = $2,
              expires_at = clock_timestamp() + make_interval(secs => $3::double precision / 1000)
        WHERE id = 1 AND (holder = $1 OR expires_at <= clock_timestamp())
        RETURNING token,
                  contender IS DISTINCT FROM $1
                    AND contender_at > clock_timestamp() - make_interval(secs => $3::double precision / 500)
                    AS contended`,
      [this.hubId, this.address, ttlMs],
    );
    const row = r.rows[0];
    if (row) {
      return {
        held: true,
        self: { hubId: this.hubId, address: this.address, token: Number(row.token) },
        contended: row.contended,
      };
    }
    // Held by another: record that this hub waits for it (the leader hears of it for two TTLs).
    await query(
      this.pool,
      `UPDATE hub_lease SET contender = $1, contender_at = clock_timestamp() WHERE id = 1`,
      [this.hubId],
    );
    return { held: false, leader: await this.leader() };
  }

  /** The hub whose lease is unexpired now, or null. */
  async leader(): Promise<LeaderInfo | null> {
    const r = await query<{ holder: string | null; address: string | null; token: string; live: boolean }>(
      this.pool,
      `SELECT holder, address, token, expires_at > clock_timestamp() AS live FROM hub_lease WHERE id = 1`,
    );
    const row = r.rows[0];
    if (!row?.live || row.holder === null || row.address === null) return null;
    return { hubId: row.holder, address: row.address, token: Number(row.token) };
  }

  /** Give the lease up (a clean stop): the standby takes over without waiting for it to lapse. */
  async release(token: number): Promise<void> {
    await query(
      this.pool,
      `UPDATE hub_lease SET expires_at = '-infinity' WHERE id = 1 AND holder = $1 AND token = $2`,
      [this.hubId, token],
    );
  }
}
