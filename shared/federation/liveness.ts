/**
 * The link's liveness numbers both ends share (docs/architecture.md §6): the hub judges a
 * site's silence with them (hub/federation/link-state.ts) and the site the hub's
 * (site-node/link/link-state.ts), so the two sides' defaults cannot drift apart.
 *
 * Defaults for 100 ms heartbeats: suspect after 400 ms of silence, down after 1.5 s. Whatever
 * the config says, neither side calls its peer silent within 3 (suspect) or 10 (down) heartbeat
 * intervals, so one late heartbeat never counts.
 */
export const DEFAULT_SUSPECT_AFTER_MS = 400;
export const DEFAULT_DOWN_AFTER_MS = 1500;

export const MIN_SUSPECT_INTERVALS = 3;
export const MIN_DOWN_INTERVALS = 10;
