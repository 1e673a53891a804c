/**
 * The figures a verdict prints and the waits that measure them: the hub's view of each link
 * (fedctl status, polled gently: each call is an mTLS handshake), and how fast a site's
 * backlog of events reaches the hub. Times are wall-clock ms measured by polling, so they are
 * upper bounds within one poll interval (PROVINCE_POLL_MS).
 */
import type { StatusResponse } from '../../proto/gen/admin.js';
import { PROVINCE_POLL_MS, type Province } from '../support/province.js';
import { waitFor } from '../support/wait.js';

/** The figures of one scenario; null when the scenario does not produce one. */
export interface Figures {
  /** Fault injected -> the hub (or the site, where the hub cannot see it) marks the link not up. */
  detectionMs: number | null;
  /** Leader killed -> the standby leads and every site is linked to it. */
  failoverMs: number | null;
  /** Fault healed -> every site's link up at the hub again. */
  rejoinMs: number | null;
  /** Events held back by the fault, per second, from the heal until the hub had them all. */
  replayEventsPerS: number | null;
  [more: string]: number | string | null | number[];
}

export const noFigures = (): Figures => ({
  detectionMs: null,
  failoverMs: null,
  rejoinMs: null,
  replayEventsPerS: null,
});

export async function hubStatus(p: Province): Promise<StatusResponse> {
  const r = await p.fedctl('status', '--json');
  if (r.code !== 0) throw new Error(`fedctl status: ${r.err.trim()}`);
  return JSON.parse(r.out) as StatusResponse;
}

/** The hub's view of each site's link (`up`, `suspect`, `down`, `never`). */
export async function hubLinks(p: Province): Promise<Map<string, string>> {
  const s = await hubStatus(p);
  return new Map(s.sites.map((x) => [x.siteId, x.link]));
}

/** Wait until the hub's view of `siteIds` satisfies `ok`; resolves with the time it did. */
export async function waitHubLinks(
  p: Province,
  what: string,
  siteIds: readonly string[],
  ok: (link: string) => boolean,
  timeoutMs: number,
): Promise<number> {
  await waitFor(
    what,
    async () => {
      const links = await hubLinks(p);
      return siteIds.every((id) => ok(links.get(id) ?? 'unknown'));
    },
    timeoutMs,
    PROVINCE_POLL_MS,
  );
  return Date.now();
}

export const allUp = (p: Province, timeoutMs = 60_000): Promise<number> =>
  waitHubLinks(p, 'every site link up at the hub', p.siteIds, (l) => l === 'up', timeoutMs);

/** How many of a site's outbox events are not marked shipped. */
export async function unshipped(p: Province, siteId: string): Promise<number> {
  const r = await p
    .sitePool(siteId)
    .query<{ n: string }>(`SELECT count(*) AS n FROM outbox WHERE shipped_at IS NULL`);
  return Number(r.rows[0]!.n);
}

/** The highest outbox seq of each site now. */
export async function outboxMarks(p: Province): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const id of p.siteIds) {
    const r = await p.sitePool(id).query<{ s: string }>(`SELECT coalesce(max(seq), 0) AS s FROM outbox`);
    out.set(id, Number(r.rows[0]!.s));
  }
  return out;
}

/** How many of a site's outbox events up to `mark` are not at the hub. */
export async function missingAtHub(p: Province, siteId: string, mark: number): Promise<number> {
  const ids = (
    await p.sitePool(siteId).query<{ id: string }>(`SELECT id FROM outbox WHERE seq <= $1`, [mark])
  ).rows.map((r) => r.id);
  if (ids.length === 0) return 0;
  const r = await p.hubPool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ingested_events WHERE id = ANY($1)`,
    [ids],
  );
  return ids.length - Number(r.rows[0]!.n);
}

/**
 * Wait until every event the sites had written when called is at the hub; resolves with how
 * many were missing at the start and how long they took (the replay rate's terms).
 */
export async function waitCaughtUp(
  p: Province,
  siteIds: readonly string[],
  timeoutMs = 120_000,
): Promise<{ backlog: number; ms: number; ratePerS: number | null }> {
  const t0 = Date.now();
  const marks = await outboxMarks(p);
  let backlog = 0;
  for (const id of siteIds) backlog += await missingAtHub(p, id, marks.get(id)!);
  await waitFor(
    `the sites' events up to now at the hub (${backlog} missing at the start)`,
    async () => {
      for (const id of siteIds) if ((await missingAtHub(p, id, marks.get(id)!)) > 0) return false;
      return true;
    },
    timeoutMs,
    PROVINCE_POLL_MS,
  );
  const ms = Date.now() - t0;
  return { backlog, ms, ratePerS: backlog === 0 ? null : Math.round((backlog / Math.max(ms, 1)) * 1000) };
}

/** Events at the hub from one site (for rates measured at the hub). */
export async function hubEventCount(p: Province, siteId: string): Promise<number> {
  const r = await p.hubPool.query<{ n: string }>(
    `SELECT count(*) AS n FROM ingested_events WHERE site_id = $1`,
    [siteId],
  );
  return Number(r.rows[0]!.n);
}
