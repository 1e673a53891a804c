/**
 * The snapshot's expected wait on the wire: absent when the ACD has no estimate (no agent
 * serving the queue), never a 0 that the hub would read as "answered at once"
 * (docs/architecture.md §5.8), and it survives the encoding as absent.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Snapshot } from '../../proto/gen/federation.js';
import type { QueueStats } from '../acd/index.js';
import { snapshotToProto } from './snapshot-mapping.js';

const queue = (queueId: string, ewtMs: number | null): QueueStats =>
  ({
    queueId,
    atMs: 1_000,
    waiting: 2,
    oldestWaitMs: 12_345.6,
    agentsStaffed: 3,
    agentsReady: 0,
    agentsBusy: ewtMs === null ? 0 : 3,
    agentsNotReady: 0,
    ewtMs,
    serviceLevel: null,
    asaMs: 4_000.4,
    abandonRate: 0.25,
  }) as unknown as QueueStats;

const source = (queues: QueueStats[]) => ({ atMs: 1_000, liveCalls: 2, ivrSessions: 1, queues, agents: {} });

test('an unknown expected wait is sent absent, a known one (0 included) as its value', () => {
  const s = snapshotToProto(source([queue('retail', null), queue('vip', 0), queue('credit-card', 30_000.4)]));
  const [retail, vip, card] = s.queues;
  assert.equal(retail!.expectedWaitMs, undefined);
  assert.equal(vip!.expectedWaitMs, 0);
  assert.equal(card!.expectedWaitMs, 30_000);
  // The other per-queue nulls still travel as -1.
  assert.equal(retail!.serviceLevel, -1);
  assert.equal(retail!.averageSpeedOfAnswerMs, 4_000);
});

test('through the wire: absent stays absent, 0 stays 0', () => {
  const wire = Snapshot.decode(
    Snapshot.encode(snapshotToProto(source([queue('retail', null), queue('vip', 0)]))).finish(),
  );
  assert.equal(wire.queues[0]!.expectedWaitMs, undefined);
  assert.equal(wire.queues[1]!.expectedWaitMs, 0);
});
