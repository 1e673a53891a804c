/**
 * The overflow benchmark's tally (overflow-tally.ts): the counts it prints and the two
 * invariants it exits non-zero on must catch each way a call can be answered twice or lost.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import {
  refusalKey,
  tallyOverflow,
  type Admission,
  type Asked,
  type OriginOutcome,
} from './overflow-tally.js';

const asked = (n: number, origin = 'a'): Asked[] =>
  Array.from({ length: n }, (_, i) => ({ requestId: `c${i}#1`, callId: `c${i}`, originSiteId: origin }));

const moved = (i: number, to: string, token: string): OriginOutcome => ({
  requestId: `c${i}#1`,
  callId: `c${i}`,
  originSiteId: 'a',
  state: 'moved',
  homeReason: null,
  refusal: null,
  toSiteId: to,
  token,
});

const home = (i: number, o: Partial<OriginOutcome> = {}): OriginOutcome => ({
  requestId: `c${i}#1`,
  callId: `c${i}`,
  originSiteId: 'a',
  state: 'home',
  homeReason: 'refused',
  refusal: null,
  toSiteId: null,
  token: null,
  ...o,
});

const admitted = (i: number, at: string, token: string): Admission => ({
  siteId: at,
  token,
  requestId: `c${i}#1`,
  callId: `c${i}`,
  fromSiteId: 'a',
});

describe('tallyOverflow', () => {
  test('a clean run: moved, refused by who and why (numbers folded), timeouts and other reasons counted; nothing twice or lost', () => {
    const t = tallyOverflow(
      asked(5),
      [
        moved(0, 'b', 't0'),
        home(1, { refusal: { reason: 'no-eligible-site', byHub: true } }),
        home(2, { refusal: { reason: 'expected wait of 4100 ms beyond 60000 ms', byHub: false } }),
        home(3, { homeReason: 'timeout' }),
        home(4, { homeReason: 'too-late' }),
      ],
      [admitted(0, 'b', 't0')],
    );
    assert.deepEqual(
      { ...t, problems: t.problems.length },
      {
        requests: 5,
        moved: 1,
        home: 4,
        refused: {
          'hub: no-eligible-site': 1,
          'target: expected wait of N ms beyond N ms': 1,
        },
        timeouts: 1,
        otherHome: { 'too-late': 1 },
        admittedTwice: 0,
        lost: 0,
        problems: 0,
      },
    );
  });

  test('answered twice: a call admitted at two targets, a token at two sites, a call kept home but admitted, a call moved twice', () => {
    const twoTargets = tallyOverflow(
      asked(1),
      [moved(0, 'b', 't0')],
      [admitted(0, 'b', 't0'), admitted(0, 'c', 't9')],
    );
    assert.equal(twoTargets.admittedTwice, 1);
    assert.match(twoTargets.problems[0]!, /c0: admitted 2 times \(b, c\)/);

    const tokenTwice = tallyOverflow(
      [...asked(1), { requestId: 'x#1', callId: 'x', originSiteId: 'a' }],
      [moved(0, 'b', 't0'), { ...moved(0, 'c', 't0'), requestId: 'x#1', callId: 'x' }],
      [admitted(0, 'b', 't0'), { ...admitted(0, 'c', 't0'), requestId: 'x#1', callId: 'x' }],
    );
    assert.equal(tokenTwice.admittedTwice, 1);
    assert.match(tokenTwice.problems[0]!, /token t0: admitted at b and at c/);

    const homeAndThere = tallyOverflow(asked(1), [home(0)], [admitted(0, 'b', 't0')]);
    assert.equal(homeAndThere.admittedTwice, 1);
    assert.match(homeAndThere.problems[0]!, /kept home by its origin but admitted at b/);

    const movedTwice = tallyOverflow(
      [...asked(1), { requestId: 'c0#2', callId: 'c0', originSiteId: 'a' }],
      [moved(0, 'b', 't0'), { ...moved(0, 'b', 't1'), requestId: 'c0#2' }],
      [admitted(0, 'b', 't0')],
    );
    assert.ok(movedTwice.admittedTwice >= 1);
    assert.ok(movedTwice.problems.some((p) => /moved it 2 times/.test(p)));
  });

  test('lost: a request with no end, a call moved under a token no target admitted, or admitted at another site', () => {
    const noEnd = tallyOverflow(asked(2), [home(0)], []);
    assert.equal(noEnd.lost, 1);
    assert.match(noEnd.problems[0]!, /c1#1: ended neither moved nor home/);

    const nobodyHasIt = tallyOverflow(asked(1), [moved(0, 'b', 't0')], []);
    assert.equal(nobodyHasIt.lost, 1);
    assert.match(nobodyHasIt.problems[0]!, /c0: moved to b under a token no target admitted/);

    const elsewhere = tallyOverflow(asked(1), [moved(0, 'b', 't0')], [admitted(0, 'c', 't0')]);
    assert.equal(elsewhere.lost, 1);
  });

  test('an outcome reported twice or for a request never asked is named, not counted twice', () => {
    const t = tallyOverflow(asked(1), [home(0), home(0), home(7)], []);
    assert.equal(t.home, 2);
    assert.ok(t.problems.some((p) => /c0#1: reported ended twice/.test(p)));
    assert.ok(t.problems.some((p) => /c7#1: never asked/.test(p)));
  });

  test('refusalKey says who refused and folds numbers', () => {
    assert.equal(refusalKey({ reason: 'waited 65000 ms', byHub: false }), 'target: waited N ms');
    assert.equal(refusalKey({ reason: 'max-hops', byHub: true }), 'hub: max-hops');
  });
});
