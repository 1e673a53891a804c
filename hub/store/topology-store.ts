/**
 * The hub's topology versions and admin audit trail on Postgres (ports `TopologyStore` and
 * `SiteAdminStore`, hub/ports.ts). A version is written once and never changed; every admin
 * action leaves an `admin_audit` row in the same transaction as the change it records, so the
 * trail cannot miss an action nor show one that did not happen.
 *
 * Two admins applying at once must not both "win" against the same base: `append` takes an
 * EXCLUSIVE lock on `topology_versions` (it conflicts only with itself and with writers;
 * readers of the current version are not blocked), then compares the version the admin
 * planned against with the current one. The second admin waits for the first to commit, sees
 * the new version and gets a `conflict` telling them to plan again.
 */
import type pg from 'pg';
import { DomainError, invalidArgument } from '../../shared/errors.js';
import { assertSiteId } from '../../shared/ids.js';
import { query, type Queryable } from '../../shared/pg/pool.js';
import { withTransaction } from '../../shared/pg/transaction.js';
import { fenceTx, type Fence } from '../lease/fence.js';
import type {
  AdminAuditEntry,
  NewTopologyVersion,
  SiteAdminStore,
  StoredTopology,
  TopologyStore,
} from '../ports.js';
import type { Topology } from '../../shared/topology/schema.js';

interface VersionRow {
  version: number;
  topology: Topology;
  source_yaml: string;
  applied_at_ms: string;
  applied_by: string;
  comment: string;
  changes: string[];
  rollback_of: number | null;
}

const toStored = (r: VersionRow): StoredTopology => ({
  version: r.version,
  topology: r.topology,
  sourceYaml: r.source_yaml,
  appliedAtMs: Number(r.applied_at_ms),
  appliedBy: r.applied_by,
  comment: r.comment,
  changes: r.changes,
  rollbackOf: r.rollback_of,
});

const COLUMNS = `version, topology, source_yaml, applied_at_ms, applied_by, comment, changes, rollback_of`;

/**
 * Audit rows are written inside the caller's transaction (see the module comment); other
 * admin stores (hub/cover/pg-cover-store.ts) write theirs through this one function.
 */
export async function audit(db: Queryable, e: AdminAuditEntry): Promise<void> {
  await query(
    db,
    `INSERT INTO admin_audit (at_ms, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
    [e.atMs, e.actor, e.action, e.target, JSON.stringify(e.detail)],
  );
}

/** A caller's page size, bounded so a bad value cannot ask for the whole table. */
function clampLimit(limit: number, max: number): number {
  return Number.isFinite(limit) ? Math.max(0, Math.min(max, Math.floor(limit))) : 0;
}

function checkMs(field: string, ms: number): void {
  if (!Number.isSafeInteger(ms) || ms < 0) throw invalidArgument(field, `must be a time in ms (got ${ms})`);
}

function checkActor(field: string, actor: string): void {
  if (typeof actor !== 'string' || actor.trim() === '') throw invalidArgument(field, 'must not be empty');
}

function checkNewVersion(v: NewTopologyVersion): void {
  if (!Number.isSafeInteger(v.expectedCurrentVersion) || v.expectedCurrentVersion < 0) {
    throw invalidArgument(
      'expectedCurrentVersion',
      `must be an integer >= 0 (got ${v.expectedCurrentVersion})`,
    );
  }
  if (v.rollbackOf !== null && (!Number.isSafeInteger(v.rollbackOf) || v.rollbackOf < 1)) {
    throw invalidArgument('rollbackOf', `must be a stored version >= 1 or null (got ${v.rollbackOf})`);
  }
  if (v.rollbackOf !== null && v.rollbackOf > v.expectedCurrentVersion) {
    throw invalidArgument('rollbackOf', `version ${v.rollbackOf} is not stored yet`);
  }
  checkActor('appliedBy', v.appliedBy);
  checkMs('nowMs', v.nowMs);
  if (!Array.isArray(v.changes) || v.changes.some((c) => typeof c !== 'string')) {
    throw invalidArgument('changes', 'must be a list of strings');
  }
}

export class PgTopologyStore implements TopologyStore {
  /** `fence`: only the leading hub appends versions (lease/fence.ts); none = unfenced. */
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async current(): Promise<StoredTopology | undefined> {
    const r = await query<VersionRow>(
      this.pool,
      `SELECT ${COLUMNS} FROM topology_versions ORDER BY version DESC LIMIT 1`,
    );
    return r.rows[0] ? toStored(r.rows[0]) : undefined;
  }

  async get(version: number): Promise<StoredTopology | undefined> {
    if (!Number.isSafeInteger(version) || version < 1 || version > 2 ** 31 - 1) return undefined;
    const r = await query<VersionRow>(
      this.pool,
      `SELECT ${COLUMNS} FROM topology_versions WHERE version = $1`,
      [version],
    );
    return r.rows[0] ? toStored(r.rows[0]) : undefined;
  }

  async history(limit: number): Promise<StoredTopology[]> {
    const n = clampLimit(limit, 1000);
    const r = await query<VersionRow>(
      this.pool,
      `SELECT ${COLUMNS} FROM topology_versions ORDER BY version DESC LIMIT $1`,
      [n],
    );
    return r.rows.map(toStored);
  }

  async append(v: NewTopologyVersion): Promise<StoredTopology> {
    checkNewVersion(v);
    return withTransaction(this.pool, async (c) => {
      await fenceTx(c, this.fence);
      await query(c, 'LOCK TABLE topology_versions IN EXCLUSIVE MODE');
      const head = await query<{ v: number }>(
        c,
        'SELECT coalesce(max(version), 0)::int AS v FROM topology_versions',
      );
      const current = head.rows[0]?.v ?? 0;
      if (current !== v.expectedCurrentVersion) {
        throw new DomainError(
          'conflict',
          v.expectedCurrentVersion === 0
            ? `topology changed meanwhile: you planned against an empty hub but version ${current} is current; plan again`
            : current === 0
              ? `topology changed meanwhile: you planned against version ${v.expectedCurrentVersion} but no version is stored; plan again`
              : `topology changed meanwhile: you planned against version ${v.expectedCurrentVersion} but version ${current} is current; plan again`,
          { field: 'expectedCurrentVersion' },
        );
      }
      const version = current + 1;
      const r = await query<VersionRow>(
        c,
        `INSERT INTO topology_versions (version, topology, source_yaml, applied_at, applied_at_ms, applied_by, comment,
                                        changes, rollback_of)
         VALUES ($1, $2, $3, to_timestamp($4::bigint / 1000.0), $4, $5, $6, $7, $8)
         RETURNING ${COLUMNS}`,
        [
          version,
          JSON.stringify(v.topology),
          v.sourceYaml,
          v.nowMs,
          v.appliedBy,
          v.comment,
          JSON.stringify(v.changes),
          v.rollbackOf,
        ],
      );
      await audit(c, {
        atMs: v.nowMs,
        actor: v.appliedBy,
        action: v.rollbackOf === null ? 'topology.apply' : 'topology.rollback',
        target: `topology v${version}`,
        detail: {
          version,
          previousVersion: current,
          changes: v.changes,
          comment: v.comment,
          rollbackOf: v.rollbackOf,
        },
      });
      return toStored(r.rows[0]!);
    });
  }
}

export class PgSiteAdminStore implements SiteAdminStore {
  constructor(
    private readonly pool: pg.Pool,
    private readonly fence?: Fence,
  ) {}

  async drainedSites(): Promise<Set<string>> {
    const r = await query<{ site_id: string }>(this.pool, `SELECT site_id FROM site_admin WHERE drained`);
    return new Set(r.rows.map((x) => x.site_id));
  }

  /**
   * Drain or undrain a site. Repeating the current state still writes an audit row (the admin
   * did act), with `wasDrained` showing it changed nothing.
   */
  async setDrained(
    siteId: string,
    drained: boolean,
    actor: string,
    comment: string,
    nowMs: number,
  ): Promise<void> {
    try {
      assertSiteId(siteId);
    } catch (e) {
      throw invalidArgument('siteId', (e as Error).message, e);
    }
    checkActor('actor', actor);
    checkMs('nowMs', nowMs);
    await withTransaction(this.pool, async (c) => {
      await fenceTx(c, this.fence);
      const before = await query<{ drained: boolean }>(
        c,
        `SELECT drained FROM site_admin WHERE site_id = $1 FOR UPDATE`,
        [siteId],
      );
      const wasDrained = before.rows[0]?.drained ?? false;
      await query(
        c,
        `INSERT INTO site_admin (site_id, drained, changed_by, changed_at_ms, comment) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (site_id) DO UPDATE SET drained = EXCLUDED.drained, changed_by = EXCLUDED.changed_by,
           changed_at_ms = EXCLUDED.changed_at_ms, comment = EXCLUDED.comment`,
        [siteId, drained, actor, nowMs, comment],
      );
      await audit(c, {
        atMs: nowMs,
        actor,
        action: drained ? 'site.drain' : 'site.undrain',
        target: siteId,
        detail: { drained, wasDrained, comment },
      });
    });
  }

  /** Newest first (by time, then by insertion for actions in the same millisecond). */
  async audit(limit: number): Promise<AdminAuditEntry[]> {
    const n = clampLimit(limit, 10_000);
    const r = await query<{
      at_ms: string;
      actor: string;
      action: string;
      target: string;
      detail: Record<string, unknown>;
    }>(
      this.pool,
      `SELECT at_ms, actor, action, target, detail FROM admin_audit ORDER BY at_ms DESC, id DESC LIMIT $1`,
      [n],
    );
    return r.rows.map((x) => ({
      atMs: Number(x.at_ms),
      actor: x.actor,
      action: x.action,
      target: x.target,
      detail: x.detail,
    }));
  }
}
