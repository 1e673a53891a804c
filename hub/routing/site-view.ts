/**
 * What the routing core knows of one site at the moment it decides (docs/architecture.md
 * §5.8): the hub's view of its link, whether an admin drained it, whether it announced the
 * `overflow` capability, and its last live snapshot with the hub's own time of receipt. The
 * adapter builds one view per site from the registry and HubState; a site the hub has never
 * heard from has no view and counts as {@link ABSENT_VIEW}.
 *
 * The live checks here are the ones overflow and cover share, in the order they are made:
 * drained, then the link, then the capability (a contract-1 site cannot speak the protocol:
 * an offer sent to it would be skipped unread and the origin would wait out its timeout),
 * then the age of the state. The age is measured on the HUB's clock
 * (`nowMs - receivedAtMs`), not from the snapshot's own `atMs`: the site stamps `atMs` with
 * its clock, and a site whose clock is a second off would otherwise look fresh forever or
 * stale forever. `atMs` is carried into the decision for the record. A snapshot received
 * "after" `nowMs` (the hub's clock stepped back) has an age nobody can vouch for, so it is
 * treated as stale too. The bound is inclusive: a snapshot exactly `maxSnapshotAgeMs` old is
 * still used. Pure: no I/O, no clock.
 */
import type { LinkState } from '../federation/link-state.js';
import type { LiveQueueSnapshot } from '../stats/province-stats.js';

/** How old (hub clock) a snapshot may be for the core to route on it, by default. */
export const DEFAULT_MAX_SNAPSHOT_AGE_MS = 1000;

/** The per-queue figures routing reads from a site's snapshot. */
export type QueueView = Pick<
  LiveQueueSnapshot,
  'queueId' | 'callsWaiting' | 'agentsReady' | 'agentsServing' | 'expectedWaitMs'
>;

export interface SnapshotView {
  /** The site's own clock when it took the snapshot (recorded, not used for the age). */
  atMs: number;
  /** The hub's clock when the snapshot arrived: the age is measured from here. */
  receivedAtMs: number;
  queues: readonly QueueView[];
}

export interface SiteLiveView {
  link: LinkState;
  drained: boolean;
  /** Whether the site announced the `overflow` capability on its current link (contract 2). */
  overflow: boolean;
  snapshot: SnapshotView | null;
}

/** A site the hub has no entry for: never connected since the hub started. */
export const ABSENT_VIEW: SiteLiveView = Object.freeze({
  link: 'never',
  drained: false,
  overflow: false,
  snapshot: null,
});

/** The state a verdict was made on, recorded with every verdict. */
export interface StateUsed {
  link: LinkState;
  drained: boolean;
  /** `nowMs - receivedAtMs` on the hub's clock; null = no snapshot. */
  ageMs: number | null;
  /** The snapshot's own `atMs` (site clock); null = no snapshot. */
  snapshotAtMs: number | null;
}

export function stateUsed(view: SiteLiveView, nowMs: number): StateUsed {
  const s = view.snapshot;
  return {
    link: view.link,
    drained: view.drained,
    ageMs: s ? nowMs - s.receivedAtMs : null,
    snapshotAtMs: s ? s.atMs : null,
  };
}

export type LiveSkipReason = 'drained' | 'link-not-up' | 'no-overflow-capability' | 'stale-state';

/** Why a site cannot take anything now, or null when its live state lets it. */
export function liveSkip(
  view: SiteLiveView,
  state: StateUsed,
  maxSnapshotAgeMs: number,
): { reason: LiveSkipReason; why: string } | null {
  if (view.drained) return { reason: 'drained', why: 'drained by an admin' };
  if (view.link !== 'up') return { reason: 'link-not-up', why: `link is ${view.link}` };
  if (!view.overflow) {
    return {
      reason: 'no-overflow-capability',
      why: 'it did not announce the overflow capability (an older contract)',
    };
  }
  const age = state.ageMs;
  if (age === null) return { reason: 'stale-state', why: 'no snapshot received yet' };
  if (age < 0) {
    return {
      reason: 'stale-state',
      why: `snapshot received ${-age} ms after now (the hub's clock stepped back)`,
    };
  }
  if (age > maxSnapshotAgeMs) {
    return { reason: 'stale-state', why: `snapshot ${age} ms old (bound ${maxSnapshotAgeMs} ms)` };
  }
  return null;
}

/** The view of `siteId`, or {@link ABSENT_VIEW}. */
export function viewOf(sites: ReadonlyMap<string, SiteLiveView>, siteId: string): SiteLiveView {
  return sites.get(siteId) ?? ABSENT_VIEW;
}
