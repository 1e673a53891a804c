/**
 * Fixtures for the routing core's tests (only tests import this): a small province whose
 * wanzhou overflows retail to chongqing, fuling and yubei in that order, cover entries on
 * their own offsets, and builders for live views and requests.
 */
import { validateTopology } from '../../shared/topology/validate.js';
import type { Topology } from '../../shared/topology/schema.js';
import type { CoverRequest, OverflowRequest } from './request.js';
import type { QueueView, SiteLiveView } from './site-view.js';

/** A fixed moment: Wednesday 2025-11-12 02:00 UTC (10:00 in Chongqing, UTC+8). */
export const NOW = Date.UTC(2025, 10, 12, 2, 0);

const full = (id: string, queues: string[], n: number) => ({
  id,
  kind: 'full' as const,
  city: id,
  endpoints: { cti: `${id}.bank.internal:7443`, sip: `10.0.0.${n}:5060` },
  capacity: { trunks: 30, agents: 10, ivrPorts: 10 },
  queues,
});

export function province(): Topology {
  return validateTopology({
    version: 7,
    province: 'test province',
    hubSite: 'chongqing',
    utcOffsetMinutes: 480,
    sites: [
      full('chongqing', ['retail', 'credit-card', 'vip'], 1),
      full('wanzhou', ['retail', 'credit-card', 'vip'], 2),
      full('fuling', ['retail', 'credit-card'], 3),
      full('yubei', ['retail'], 4),
      {
        id: 'kaizhou',
        kind: 'access',
        city: 'kaizhou',
        endpoints: { sip: '10.0.0.9:5060' },
        capacity: { trunks: 10 },
        center: 'wanzhou',
      },
    ],
    overflow: [
      {
        id: 'wanzhou-retail',
        from: 'wanzhou',
        queues: ['retail'],
        to: ['chongqing', 'fuling', 'yubei'],
        when: { waitingOver: 5 },
      },
      {
        id: 'fuling-card',
        from: 'fuling',
        queues: ['credit-card'],
        to: ['wanzhou'],
        when: { waitingOver: 3 },
      },
    ],
    cover: [
      {
        id: 'night-wanzhou',
        agentsOf: 'chongqing',
        serves: { site: 'wanzhou', queues: ['retail'] },
        when: { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '22:00', to: '08:00' },
      },
      {
        id: 'fuling-helps',
        agentsOf: 'fuling',
        serves: { site: 'wanzhou', queues: ['credit-card'] },
        when: 'on-demand',
      },
    ],
  });
}

/** A queue row; by default one ready agent. */
export const queue = (queueId: string, patch: Partial<QueueView> = {}): QueueView => ({
  queueId,
  callsWaiting: 0,
  agentsReady: 1,
  agentsServing: 1,
  expectedWaitMs: 0,
  ...patch,
});

/** An up, undrained site whose snapshot arrived `ageMs` before NOW, with these queues. */
export function upSite(queues: QueueView[], ageMs = 100, patch: Partial<SiteLiveView> = {}): SiteLiveView {
  return {
    link: 'up',
    drained: false,
    overflow: true,
    snapshot: { atMs: NOW - ageMs - 7, receivedAtMs: NOW - ageMs, queues },
    ...patch,
  };
}

/** Every full site up and fresh with one ready agent in each of its queues. */
export function allReady(t: Topology = province()): Map<string, SiteLiveView> {
  const m = new Map<string, SiteLiveView>();
  for (const s of t.sites) if (s.kind === 'full') m.set(s.id, upSite(s.queues.map((q) => queue(q))));
  return m;
}

export function overflowRequest(patch: Partial<OverflowRequest> = {}): OverflowRequest {
  return {
    originSiteId: 'wanzhou',
    callId: 'call-1',
    queueId: 'retail',
    priority: 0,
    waitedMs: 65_000,
    remainingPatienceMs: 30_000,
    policyId: 'wanzhou-retail',
    visitedSiteIds: ['wanzhou'],
    ...patch,
  };
}

export function coverRequest(patch: Partial<CoverRequest> = {}): CoverRequest {
  return {
    originSiteId: 'wanzhou',
    callId: 'call-2',
    queueId: 'retail',
    priority: 0,
    waitedMs: 0,
    remainingPatienceMs: null,
    coverEntryId: 'night-wanzhou',
    visitedSiteIds: [],
    ...patch,
  };
}
