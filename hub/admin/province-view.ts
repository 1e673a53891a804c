/**
 * The province as the hub sees it right now, for the admin API (`fedctl stats`) and the
 * province board (hub/web): statistics from ingested call facts and live snapshots.
 */
import { computeProvinceStats, type LiveSnapshot, type ProvinceStats } from '../stats/province-stats.js';
import type { HubState } from '../federation/hub-state.js';

export async function provinceStats(
  hub: HubState,
  windowMs: number,
  thresholdMs: number,
): Promise<ProvinceStats> {
  const nowMs = hub.d.clock.now();
  const snapshots = new Map<string, LiveSnapshot>();
  const siteNowMs = new Map<string, number>();
  const links = new Map<string, string>();
  for (const s of hub.current?.topology.sites ?? []) links.set(s.id, 'never');
  for (const e of hub.d.registry.all()) {
    links.set(e.siteId, e.link.state);
    if (!e.snapshot) continue;
    snapshots.set(e.siteId, e.snapshot);
    // A site's window ends at its own clock (skewed, or sped up in a demo): the time of its
    // last snapshot, plus the hub time since it was last heard from (a site whose link is
    // down keeps its recent calls in the window instead of dropping out).
    siteNowMs.set(e.siteId, e.snapshot.atMs + Math.max(0, nowMs - (e.link.lastHeardMs ?? nowMs)));
  }
  const since = Math.min(nowMs, ...siteNowMs.values()) - windowMs;
  const facts = await hub.d.ingest.callFacts(since);
  return computeProvinceStats({ facts, snapshots, links, nowMs, windowMs, thresholdMs, siteNowMs });
}
