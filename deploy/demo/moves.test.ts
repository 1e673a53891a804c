/**
 * The demo's moves line: rows of both ends in, a count per site and one line each out; a move
 * is labelled by the hub's decision for its call, and one the decisions do not name yet counts
 * as overflow. Pure: no database.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { countMoves, formatMovesLine } from './moves.js';

test('moves out and in per site, by kind and by the other site, in the order given', () => {
  const counted = countMoves(['chongqing', 'wanzhou', 'fuling'], {
    out: new Map([
      [
        'wanzhou',
        [
          { callId: 'wz-1', toSiteId: 'chongqing' },
          { callId: 'wz-2', toSiteId: 'fuling' },
          { callId: 'wz-3', toSiteId: 'chongqing' },
        ],
      ],
    ]),
    in: new Map([
      [
        'chongqing',
        [
          { originSiteId: 'wanzhou', originCallId: 'wz-1' },
          { originSiteId: 'wanzhou', originCallId: 'wz-3' },
        ],
      ],
      ['fuling', [{ originSiteId: 'wanzhou', originCallId: 'wz-2' }]],
    ]),
    kindOf: new Map([
      ['wz-1', 'overflow'],
      ['wz-2', 'cover'],
    ]),
    notRouted: new Map([['wanzhou', 4]]),
  });
  assert.deepEqual(
    counted.map((m) => formatMovesLine(m)),
    [
      '[chongqing moves] out 0 | in 2 (overflow 2, cover 0) <- wanzhou 2 | not routed 0',
      '[wanzhou moves] out 3 (overflow 2, cover 1) -> chongqing 2, fuling 1 | in 0 | not routed 4',
      '[fuling moves] out 0 | in 1 (overflow 0, cover 1) <- wanzhou 1 | not routed 0',
    ],
  );
  assert.deepEqual(counted[1]!.outByKind, { overflow: 2, cover: 1 });
});
