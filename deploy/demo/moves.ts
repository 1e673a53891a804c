/**
 * The province demo's view of calls moving between sites (docs/architecture.md §5.9): what each
 * site's records say it moved out (`overflowed`, naming the target) and in (`overflow-in`,
 * naming the origin), each move labelled overflow or cover by the hub's decision for the call.
 * Read from the records, not from the sites' tallies: a move is true once both ends committed
 * it, and the records are what an operator would query. `countMoves` and `formatMovesLine` are
 * pure (the unit test feeds them rows); `readMoves` is the thin adapter on the databases.
 */
import type pg from 'pg';

/** A call a site moved out, and the site it went to. */
export interface MovedOut {
  callId: string;
  toSiteId: string;
}
/** A call a site admitted from another, named by the origin's call id. */
export interface MovedIn {
  originSiteId: string;
  originCallId: string;
}
export type MoveKind = 'overflow' | 'cover';

export interface SiteMoves {
  siteId: string;
  out: number;
  in: number;
  /** Moves out by the rule they went under (cover: a cover entry; overflow: a policy). */
  outByKind: Record<MoveKind, number>;
  inByKind: Record<MoveKind, number>;
  /** Moves out per target, moves in per origin. */
  to: Record<string, number>;
  from: Record<string, number>;
  /** Requests this site made that the hub routed nowhere (no site could take the call). */
  notRouted: number;
}

export interface MoveRows {
  out: ReadonlyMap<string, readonly MovedOut[]>;
  in: ReadonlyMap<string, readonly MovedIn[]>;
  /** The hub's routed decisions: origin call id -> kind (the last one routed). */
  kindOf: ReadonlyMap<string, MoveKind>;
  /** Per origin site, the requests the hub did not route. */
  notRouted: ReadonlyMap<string, number>;
}

const bump = (r: Record<string, number>, k: string): void => {
  r[k] = (r[k] ?? 0) + 1;
};

/**
 * Per site in `siteIds` order. A move the hub's decisions do not name yet (they are written up
 * to 100 ms late) counts as overflow: a cover move always has its decision, so the lag can only
 * ever show a cover move as overflow for one line.
 */
export function countMoves(siteIds: readonly string[], rows: MoveRows): SiteMoves[] {
  return siteIds.map((siteId) => {
    const m: SiteMoves = {
      siteId,
      out: 0,
      in: 0,
      outByKind: { overflow: 0, cover: 0 },
      inByKind: { overflow: 0, cover: 0 },
      to: {},
      from: {},
      notRouted: rows.notRouted.get(siteId) ?? 0,
    };
    for (const o of rows.out.get(siteId) ?? []) {
      m.out++;
      m.outByKind[rows.kindOf.get(o.callId) ?? 'overflow']++;
      bump(m.to, o.toSiteId);
    }
    for (const i of rows.in.get(siteId) ?? []) {
      m.in++;
      m.inByKind[rows.kindOf.get(i.originCallId) ?? 'overflow']++;
      bump(m.from, i.originSiteId);
    }
    return m;
  });
}

const perSite = (r: Record<string, number>): string =>
  Object.entries(r)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([id, n]) => `${id} ${n}`)
    .join(', ');

/**
 *   [wanzhou moves] out 14 (overflow 14, cover 0) -> chongqing 11, fuling 3 | in 0 | not routed 2
 */
export function formatMovesLine(m: SiteMoves): string {
  const side = (label: string, n: number, k: Record<MoveKind, number>, where: string, arrow: string) =>
    `${label} ${n}` + (n > 0 ? ` (overflow ${k.overflow}, cover ${k.cover}) ${arrow} ${where}` : '');
  return (
    `[${m.siteId} moves] ${side('out', m.out, m.outByKind, perSite(m.to), '->')} | ` +
    `${side('in', m.in, m.inByKind, perSite(m.from), '<-')} | not routed ${m.notRouted}`
  );
}

/** The rows, from each site's database and the hub's decisions. */
export async function readMoves(
  sitePools: ReadonlyMap<string, pg.Pool>,
  hubPool: pg.Pool,
): Promise<MoveRows> {
  const out = new Map<string, MovedOut[]>();
  const inn = new Map<string, MovedIn[]>();
  for (const [siteId, pool] of sitePools) {
    out.set(
      siteId,
      (
        await pool.query<MovedOut>(
          `SELECT call_id AS "callId", overflow_out ->> 'toSiteId' AS "toSiteId"
             FROM cdrs WHERE outcome = 'overflowed'`,
        )
      ).rows,
    );
    inn.set(
      siteId,
      (
        await pool.query<MovedIn>(
          `SELECT overflow_in ->> 'originSiteId' AS "originSiteId",
                  overflow_in ->> 'originCallId' AS "originCallId"
             FROM calls WHERE overflow_in IS NOT NULL`,
        )
      ).rows,
    );
  }
  const kindOf = new Map(
    (
      await hubPool.query<{ call_id: string; kind: MoveKind }>(
        `SELECT call_id, kind FROM overflow_decisions WHERE target_site_id IS NOT NULL ORDER BY seq`,
      )
    ).rows.map((r) => [r.call_id, r.kind]),
  );
  const notRouted = new Map(
    (
      await hubPool.query<{ origin_site_id: string; n: string }>(
        `SELECT origin_site_id, count(*) AS n FROM overflow_decisions
          WHERE target_site_id IS NULL GROUP BY 1`,
      )
    ).rows.map((r) => [r.origin_site_id, Number(r.n)]),
  );
  return { out, in: inn, kindOf, notRouted };
}
