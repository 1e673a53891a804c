/**
 * The site's live state as the federation's Snapshot message (pure). The ACD's per-queue
 * statistics use null for "nothing to measure yet"; the wire uses -1 (proto doubles cannot
 * be null) and the hub maps it back. The expected wait is the exception: it is an optional
 * field, left absent when the ACD has no estimate (no agent serving the queue), because the
 * hub routes overflow on it (docs/architecture.md §5.8) and a 0 there would read as "answered
 * at once".
 */
import type { Snapshot } from '../../proto/gen/federation.js';
import type { QueueStats } from '../acd/index.js';

export interface LinkSnapshotSource {
  atMs: number;
  liveCalls: number;
  ivrSessions: number;
  queues: QueueStats[];
  /** Rostered agents by state. */
  agents: Record<string, number>;
}

const orMinusOne = (v: number | null): number => (v === null ? -1 : v);

export function snapshotToProto(s: LinkSnapshotSource): Snapshot {
  return {
    atMs: Math.round(s.atMs),
    liveCalls: s.liveCalls,
    ivrSessions: s.ivrSessions,
    queues: s.queues.map((q) => ({
      queueId: q.queueId,
      callsWaiting: q.waiting,
      oldestWaitMs: Math.round(q.oldestWaitMs),
      agentsReady: q.agentsReady,
      agentsServing: q.agentsBusy,
      ...(q.ewtMs === null ? {} : { expectedWaitMs: Math.round(q.ewtMs) }),
      serviceLevel: orMinusOne(q.serviceLevel),
      averageSpeedOfAnswerMs: Math.round(orMinusOne(q.asaMs)),
      abandonRate: orMinusOne(q.abandonRate),
    })),
    agents: Object.entries(s.agents)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([state, count]) => ({ state, count })),
  };
}
