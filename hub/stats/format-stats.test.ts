/**
 * `fedctl stats` table: exact output for a small province (alignment, "—" for figures that do
 * not exist, the province row, snapshot-only queues), and the empty case.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { formatStatsTable, renderTable } from './format-stats.js';
import { computeProvinceStats } from './province-stats.js';

/** Ten minutes after the last call ended, and (below) long after, when the window is empty. */
const near = computeProvinceStats(inputsNear());
const later = computeProvinceStats({ ...inputsNear(), nowMs: Date.UTC(2026, 10, 23, 11, 0, 0) });

describe('formatStatsTable', () => {
  test('sites with the province row, then queues, fixed width', () => {
    const expected = [
      'Province statistics at 1970-01-01T02:46:40.000Z; window 60 min; service level = answered within 20 s / offered (abandons count against it)',
      '',
      'SITE      LINK     OFFERED  ANSWERED  ABANDONED  SL %  ASA s  ABAND %  WAITING  LIVE  AGENTS',
      'cq        up             3         2          1  33.3   15.0     33.3        0     0  —',
      'fl        down           0         0          0     —      —        —        0     0  —',
      'wz        suspect        0         0          0     —      —        —        3     7  on-call 4, wrap-up 1',
      'PROVINCE  1/3 up         3         2          1  33.3   15.0     33.3        3     7  on-call 4, wrap-up 1',
      '',
      'SITE  QUEUE        OFFERED  ANSWERED  ABANDONED  SL %  ASA s  ABAND %  WAITING  OLDEST s  READY',
      'cq    credit-card        1         1          0   0.0   25.0      0.0        0         —      0',
      'cq    retail             2         1          1  50.0    5.0     50.0        0         —      0',
      'wz    retail             0         0          0     —      —        —        3      42.0      0',
      '',
    ].join('\n');
    assert.equal(formatStatsTable(near), expected);
  });

  test('facts outside the window: only live figures remain', () => {
    const out = formatStatsTable(later);
    assert.match(out, /^Province statistics at 2026-11-23T11:00:00\.000Z; window 60 min;/);
    assert.doesNotMatch(out, /credit-card/);
    assert.match(out, /^wz {4}retail +0 +0 +0 +— +— +— +3 +42\.0 +0$/m);
  });

  test('no sites at all', () => {
    const empty = computeProvinceStats({
      facts: [],
      snapshots: new Map(),
      links: new Map(),
      nowMs: 0,
      windowMs: 900_000,
      thresholdMs: 15_000,
    });
    assert.equal(
      formatStatsTable(empty),
      [
        'Province statistics at 1970-01-01T00:00:00.000Z; window 15 min; service level = answered within 15 s / offered (abandons count against it)',
        '',
        'SITE      LINK    OFFERED  ANSWERED  ABANDONED  SL %  ASA s  ABAND %  WAITING  LIVE  AGENTS',
        'PROVINCE  0/0 up        0         0          0     —      —        —        0     0  —',
        '',
        'No queues reported.',
        '',
      ].join('\n'),
    );
  });

  test('renderTable pads to the widest cell and trims trailing spaces', () => {
    const lines = renderTable(
      [
        { header: 'A', align: 'left', cell: (r: [string, number]) => r[0] },
        { header: 'N', align: 'right', cell: (r: [string, number]) => String(r[1]) },
        { header: 'Z', align: 'left', cell: () => '' },
      ],
      [
        ['long-name', 5],
        ['x', 12345],
      ],
    );
    assert.deepEqual(lines, ['A              N  Z', 'long-name      5', 'x          12345']);
  });
});

/** Three calls at cq, a snapshot of wz, and fl known only by its (down) link. */
function inputsNear(): Parameters<typeof computeProvinceStats>[0] {
  return {
    facts: [
      {
        siteId: 'cq',
        queueId: 'retail',
        endedAtMs: 9_000_000,
        queued: true,
        answered: true,
        abandoned: false,
        waitMs: 5_000,
      },
      {
        siteId: 'cq',
        queueId: 'retail',
        endedAtMs: 9_100_000,
        queued: true,
        answered: false,
        abandoned: true,
        waitMs: 30_000,
      },
      {
        siteId: 'cq',
        queueId: 'credit-card',
        endedAtMs: 9_200_000,
        queued: true,
        answered: true,
        abandoned: false,
        waitMs: 25_000,
      },
    ],
    snapshots: new Map([
      [
        'wz',
        {
          atMs: 9_990_000,
          queues: [
            {
              queueId: 'retail',
              callsWaiting: 3,
              oldestWaitMs: 42_000,
              agentsReady: 0,
              agentsServing: 4,
              expectedWaitMs: 30_000,
              serviceLevel: null,
              averageSpeedOfAnswerMs: null,
              abandonRate: null,
            },
          ],
          agents: { 'on-call': 4, 'wrap-up': 1 },
          liveCalls: 7,
          ivrSessions: 2,
        },
      ],
    ]),
    links: new Map([
      ['cq', 'up'],
      ['wz', 'suspect'],
      ['fl', 'down'],
    ]),
    nowMs: 10_000_000,
    windowMs: 3_600_000,
    thresholdMs: 20_000,
  };
}
