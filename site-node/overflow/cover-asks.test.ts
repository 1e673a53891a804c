import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CoverSchedule } from '../../shared/topology/schema.js';
import { coverAsks, type CoverQueueView } from './cover-asks.js';
import type { WaitingCall } from './trigger.js';

const entry: CoverSchedule = {
  id: 'wanzhou-helps-center',
  agentsOf: 'wanzhou',
  serves: { site: 'chongqing', queues: ['retail'] },
  when: { kind: 'on-demand' },
  rank: 'below-own',
};

const call = (callId: string, over: Partial<WaitingCall> = {}): WaitingCall => ({
  callId,
  priority: 5,
  enqueueMs: 0,
  visitedSiteIds: [],
  hops: 0,
  inFlight: false,
  lastAskEndedMs: null,
  ...over,
});

const view = (waiting: WaitingCall[], agentsReady = 0, queueId = 'retail'): CoverQueueView => ({
  queueId,
  waiting,
  agentsLoggedIn: 3,
  serviceLevel: null,
  inHours: true,
  agentsReady,
});

describe('coverAsks', () => {
  test('every waiting call of a served queue is asked under an active entry, to its covering site', () => {
    const asks = coverAsks('chongqing', [entry], [entry.id], [view([call('a'), call('b')])], 10_000);
    assert.deepEqual(asks, [
      { callId: 'a', queueId: 'retail', coverEntryId: entry.id, coveringSiteId: 'wanzhou' },
      { callId: 'b', queueId: 'retail', coverEntryId: entry.id, coveringSiteId: 'wanzhou' },
    ]);
  });

  test('nothing while the entry is not active, for another site or another queue', () => {
    assert.deepEqual(coverAsks('chongqing', [entry], [], [view([call('a')])], 0), []);
    assert.deepEqual(coverAsks('fuling', [entry], [entry.id], [view([call('a')])], 0), []);
    assert.deepEqual(coverAsks('chongqing', [entry], [entry.id], [view([call('a')], 0, 'vip')], 0), []);
  });

  test("the served site's own ready agents come first", () => {
    assert.deepEqual(coverAsks('chongqing', [entry], [entry.id], [view([call('a')], 1)], 0), []);
  });

  test('in flight, moved, been at the covering site, or asked too recently: not asked', () => {
    const waiting = [
      call('flying', { inFlight: true }),
      call('moved', { hops: 1 }),
      call('been', { visitedSiteIds: ['wanzhou'] }),
      call('recent', { lastAskEndedMs: 8_000 }),
      call('again', { lastAskEndedMs: 1_000 }),
    ];
    const asks = coverAsks('chongqing', [entry], [entry.id], [view(waiting)], 10_000);
    assert.deepEqual(
      asks.map((a) => a.callId),
      ['again'],
    );
  });
});
