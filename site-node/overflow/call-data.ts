/**
 * The attached data of a moved call as the target's agent sees it (docs/architecture.md §5.9
 * "Data before voice"): what the origin attached, without the keys a simulated caller travels
 * in (`sim.*`, site-node/sim/sim-hand-over.ts: they describe the person on the line, not the
 * customer), and with the site the call came from, so the screen pop says where it waited.
 * Pure.
 */
import type { AttachedData } from '../acd/types.js';

/** The key naming the origin site in a moved call's attached data. */
export const ORIGIN_SITE_KEY = 'overflowFromSite';

export function movedCallAttached(attached: AttachedData, originSiteId: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attached)) if (!k.startsWith('sim.')) out[k] = v;
  out[ORIGIN_SITE_KEY] = originSiteId;
  return out;
}
