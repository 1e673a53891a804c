/**
 * The observer splits a site's placements into runs of its process: a restart (the traffic's
 * counter starts again) or a kill the suite made starts a new one, and only the killed run is
 * marked killed. Lines in, runs out; no process is started.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { Observer } from './observe.js';

const placed = (callId: string, n: number): string => JSON.stringify({ msg: 'call placed', callId, n });

test('runs split at a restart and at a kill, the killed one marked', () => {
  const o = new Observer();
  o.line('site cq', placed('a', 1));
  o.line('site cq', placed('b', 2));
  // Its first row not committed in time: refused, its event in a later batch.
  o.line(
    'site cq',
    JSON.stringify({ msg: 'call refused with busy: the store cannot take its writes', callId: 'b' }),
  );
  o.markKilled('cq');
  o.line('site cq', placed('c', 1));
  o.line('site cq', placed('d', 2));
  o.line('site cq', placed('', 3));
  o.line('site cq', placed('e', 1)); // a clean restart: the counter starts again
  o.line('hub', placed('x', 1)); // not a site: ignored
  assert.deepEqual(o.runs.get('cq'), [
    { placed: ['a', 'b'], refusedWithId: new Set(['b']), killed: true },
    { placed: ['c', 'd', ''], refusedWithId: new Set(), killed: false },
    { placed: ['e'], refusedWithId: new Set(), killed: false },
  ]);
  assert.equal(o.placedCount('cq'), 6);
});

test('confirmations and the tally at a clean stop are kept per site', () => {
  const o = new Observer();
  o.line(
    'site fl',
    JSON.stringify({ msg: 'caller told recorded', callId: 'c1', promptId: 'ticket.created', ref: 'c1:tkt1' }),
  );
  o.line('site fl', JSON.stringify({ msg: 'site stopped', atMs: 5, tally: { offered: 3 } }));
  o.line('site fl', 'not json');
  assert.deepEqual(o.confirmations, [
    { siteId: 'fl', callId: 'c1', promptId: 'ticket.created', ref: 'c1:tkt1' },
  ]);
  assert.deepEqual(o.stopTallies.get('fl'), { atMs: 5, tally: { offered: 3 } });
});

test('overflow steps are counted per site, across runs', () => {
  const o = new Observer();
  const line = (msg: string) => JSON.stringify({ msg, callId: 'c1' });
  o.line('site wz', line('overflow asked'));
  o.markKilled('wz');
  o.line('site wz', line('overflow asked'));
  o.line('site wz', line('overflow: call moved'));
  o.line('site cq', line('overflow admitted'));
  o.line('hub', line('overflow asked')); // not a site: ignored
  assert.equal(o.overflowSteps('wz', 'overflow asked'), 2);
  assert.equal(o.overflowSteps('wz', 'overflow: call moved'), 1);
  assert.equal(o.overflowSteps('cq', 'overflow admitted'), 1);
  assert.equal(o.overflowSteps('cq', 'overflow asked'), 0);
});
