/**
 * computeProvinceStats with hand-computed numbers: the window edges, the "abandons penalise"
 * service level, a queue known only from a snapshot, a site known only from its snapshot or
 * its link, and the province totals.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type { CallFactRow } from '../ports.js';
import { computeProvinceStats, type LiveQueueSnapshot, type LiveSnapshot } from './province-stats.js';

const NOW = 10_000_000;
const WINDOW = 3_600_000; // window starts at 6_400_000
const T = 20_000;

function fact(
  siteId: string,
  queueId: string,
  endedAtMs: number,
  waitMs: number,
  how: 'answered' | 'abandoned' | 'fallback' | 'self-service',
): CallFactRow {
  return {
    siteId,
    queueId,
    endedAtMs,
    queued: how !== 'self-service',
    answered: how === 'answered',
    abandoned: how === 'abandoned',
    waitMs,
  };
}

function liveQueue(
  queueId: string,
  callsWaiting: number,
  oldestWaitMs: number,
  agentsReady: number,
): LiveQueueSnapshot {
  return {
    queueId,
    callsWaiting,
    oldestWaitMs,
    agentsReady,
    agentsServing: 0,
    expectedWaitMs: 0,
    serviceLevel: null,
    averageSpeedOfAnswerMs: null,
    abandonRate: null,
  };
}

const facts: CallFactRow[] = [
  fact('cq', 'retail', 9_000_000, 5_000, 'answered'), // within T
  fact('cq', 'retail', 9_100_000, 20_000, 'answered'), // exactly T: within
  fact('cq', 'retail', 9_200_000, 30_000, 'answered'), // late
  fact('cq', 'retail', 9_300_000, 8_000, 'abandoned'), // quick abandon still penalises
  fact('cq', 'retail', 6_400_000, 1_000, 'answered'), // exactly at the window start: in
  fact('cq', 'retail', 6_399_999, 1_000, 'answered'), // 1 ms before the window: out
  fact('cq', 'retail', 9_000_000, 0, 'self-service'), // never queued: not offered
  fact('cq', 'retail', 10_000_001, 1_000, 'answered'), // after now (clock skew): out
  fact('cq', 'vip', 9_500_000, 40_000, 'fallback'), // left the queue unanswered (an announcement)
  fact('cq', 'vip', 9_600_000, 10_000, 'answered'),
];

const snapshots = new Map<string, LiveSnapshot>([
  [
    'cq',
    {
      atMs: 9_999_000,
      queues: [liveQueue('retail', 2, 15_000, 1), liveQueue('credit', 0, 0, 2)],
      agents: { ready: 3, 'on-call': 5 },
      liveCalls: 9,
      ivrSessions: 4,
    },
  ],
  [
    'wz',
    {
      atMs: 9_998_000,
      queues: [liveQueue('retail', 3, 42_000, 0)],
      agents: { ready: 0, 'on-call': 4, 'wrap-up': 1 },
      liveCalls: 7,
      ivrSessions: 2,
    },
  ],
]);

const links = new Map([
  ['cq', 'up'],
  ['wz', 'suspect'],
  ['fl', 'down'],
]);

describe('computeProvinceStats', () => {
  const s = computeProvinceStats({ facts, snapshots, links, nowMs: NOW, windowMs: WINDOW, thresholdMs: T });

  test('echoes the request', () => {
    assert.equal(s.atMs, NOW);
    assert.equal(s.windowMs, WINDOW);
    assert.equal(s.thresholdMs, T);
  });

  test('queues: facts in the window, window edges, snapshot-only queues; sorted', () => {
    assert.deepEqual(
      s.queues.map((q) => `${q.siteId}/${q.queueId}`),
      ['cq/credit', 'cq/retail', 'cq/vip', 'wz/retail'],
    );
    const [credit, retail, vip, wzRetail] = s.queues;
    // retail: offered 5 (two edges in, one out, self-service and future out); answered 4,
    // within T 3 (5 s, 20 s, 1 s); abandoned 1. SL 3/5; ASA (5+20+30+1)/4 = 14 s; AR 1/5.
    assert.deepEqual(retail, {
      siteId: 'cq',
      queueId: 'retail',
      offered: 5,
      answered: 4,
      abandoned: 1,
      serviceLevel: 0.6,
      averageSpeedOfAnswerMs: 14_000,
      abandonRate: 0.2,
      callsWaiting: 2,
      oldestWaitMs: 15_000,
      agentsReady: 1,
    });
    // vip: the fallback's call is offered, not answered, not abandoned: SL 1/2, AR 0.
    assert.deepEqual(
      { o: vip?.offered, sl: vip?.serviceLevel, asa: vip?.averageSpeedOfAnswerMs, ar: vip?.abandonRate },
      { o: 2, sl: 0.5, asa: 10_000, ar: 0 },
    );
    // Not in the snapshot: live figures are zero.
    assert.equal(vip?.callsWaiting, 0);
    // Only in the snapshot: no calls offered -> null, not 0 or 1.
    assert.deepEqual(
      {
        o: credit?.offered,
        sl: credit?.serviceLevel,
        asa: credit?.averageSpeedOfAnswerMs,
        ready: credit?.agentsReady,
      },
      { o: 0, sl: null, asa: null, ready: 2 },
    );
    assert.equal(wzRetail?.callsWaiting, 3);
    assert.equal(wzRetail?.oldestWaitMs, 42_000);
    assert.equal(wzRetail?.abandonRate, null);
  });

  test('sites: facts, snapshot-only and link-only sites', () => {
    assert.deepEqual(
      s.sites.map((x) => x.siteId),
      ['cq', 'fl', 'wz'],
    );
    const [cq, fl, wz] = s.sites;
    // cq: offered 7, answered 5 (4 within T), abandoned 1; ASA (56+10)/5 = 13.2 s.
    assert.equal(cq?.offered, 7);
    assert.equal(cq?.answered, 5);
    assert.equal(cq?.abandoned, 1);
    assert.equal(cq?.serviceLevel, 4 / 7);
    assert.equal(cq?.averageSpeedOfAnswerMs, 13_200);
    assert.equal(cq?.abandonRate, 1 / 7);
    assert.equal(cq?.link, 'up');
    assert.deepEqual(cq?.agents, [
      { state: 'on-call', count: 5 },
      { state: 'ready', count: 3 },
    ]);
    assert.equal(cq?.callsWaiting, 2);
    assert.equal(cq?.liveCalls, 9);
    assert.equal(cq?.snapshotAtMs, 9_999_000);

    assert.deepEqual(fl, {
      siteId: 'fl',
      link: 'down',
      offered: 0,
      answered: 0,
      abandoned: 0,
      serviceLevel: null,
      averageSpeedOfAnswerMs: null,
      abandonRate: null,
      agents: [],
      callsWaiting: 0,
      liveCalls: 0,
      snapshotAtMs: null,
    });

    // Only a snapshot: live figures, no outcomes; zero-count states are left out.
    assert.equal(wz?.offered, 0);
    assert.equal(wz?.serviceLevel, null);
    assert.equal(wz?.link, 'suspect');
    assert.deepEqual(wz?.agents, [
      { state: 'on-call', count: 4 },
      { state: 'wrap-up', count: 1 },
    ]);
    assert.equal(wz?.callsWaiting, 3);
    assert.equal(wz?.liveCalls, 7);
  });

  test('province totals over all sites', () => {
    assert.deepEqual(s.province, {
      siteId: '*',
      link: '1/3 up',
      offered: 7,
      answered: 5,
      abandoned: 1,
      serviceLevel: 4 / 7,
      averageSpeedOfAnswerMs: 13_200,
      abandonRate: 1 / 7,
      agents: [
        { state: 'on-call', count: 9 },
        { state: 'ready', count: 3 },
        { state: 'wrap-up', count: 1 },
      ],
      callsWaiting: 5,
      liveCalls: 16,
      snapshotAtMs: 9_999_000,
    });
  });

  test('a site whose facts all fall outside the window still shows its queue only if live', () => {
    const r = computeProvinceStats({
      facts: [fact('xx', 'retail', 1_000, 1_000, 'answered')],
      snapshots: new Map(),
      links: new Map(),
      nowMs: NOW,
      windowMs: WINDOW,
      thresholdMs: T,
    });
    assert.deepEqual(r.queues, []);
    assert.deepEqual(r.sites, []);
    assert.equal(r.province.serviceLevel, null);
    assert.equal(r.province.link, '0/0 up');
  });
});

describe('a site whose clock runs ahead of the hub (skew, or a sped-up simulation)', () => {
  test('its window ends at its own now, so its calls are not dropped as "in the future"', () => {
    const ahead = NOW + 5 * WINDOW; // the site's clock is five windows ahead of the hub's
    const input = {
      facts: [
        fact('fast', 'retail', ahead - 1000, 5_000, 'answered'),
        fact('fast', 'retail', ahead - WINDOW - 1, 5_000, 'answered'), // before ITS window
        fact('slow', 'retail', NOW - 1000, 30_000, 'answered'),
      ],
      snapshots: new Map<string, LiveSnapshot>(),
      links: new Map([
        ['fast', 'up'],
        ['slow', 'up'],
      ]),
      nowMs: NOW,
      windowMs: WINDOW,
      thresholdMs: T,
    };
    const withoutOwnClock = computeProvinceStats(input);
    assert.equal(withoutOwnClock.sites.find((s) => s.siteId === 'fast')?.offered, 0);
    const s = computeProvinceStats({ ...input, siteNowMs: new Map([['fast', ahead]]) });
    const fast = s.sites.find((x) => x.siteId === 'fast')!;
    assert.equal(fast.offered, 1);
    assert.equal(fast.serviceLevel, 1);
    assert.equal(s.sites.find((x) => x.siteId === 'slow')?.offered, 1, 'others keep the hub clock');
    assert.equal(s.province.offered, 2);
    assert.equal(s.province.serviceLevel, 0.5);
  });
});
