/**
 * The hub's view of a site link (pure): never -> up -> suspect -> down, and back on hello; the
 * thresholds from the config on a virtual clock, and hysteresis (one late heartbeat does not
 * flap).
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { initialLink, linkStep, type LinkEvent, type LinkTimes, type SiteLink } from './link-state.js';

const T: LinkTimes = { suspectAfterMs: 3000, downAfterMs: 10_000 };
/** The hub's defaults: 100 ms heartbeats, suspect after 400 ms of silence, down after 1.5 s. */
const FAST: LinkTimes = { suspectAfterMs: 400, downAfterMs: 1500 };

function run(l: SiteLink, events: Array<[LinkEvent['kind'], number]>, t: LinkTimes): SiteLink {
  for (const [kind, at] of events) l = linkStep(l, { kind }, at, t);
  return l;
}
/** Ticks every 50 ms (the hub's clock on the default heartbeat) from `from` to `to`. */
const ticks = (from: number, to: number): Array<[LinkEvent['kind'], number]> => {
  const out: Array<[LinkEvent['kind'], number]> = [];
  for (let t = from; t <= to; t += 50) out.push(['tick', t]);
  return out;
};

test('hello opens; silence makes it suspect then down; messages bring a suspect link back', () => {
  let l = linkStep(initialLink(), { kind: 'hello' }, 0, T);
  assert.equal(l.state, 'up');
  assert.equal(linkStep(l, { kind: 'tick' }, 2999, T).state, 'up');
  l = linkStep(l, { kind: 'tick' }, 3000, T);
  assert.equal(l.state, 'suspect');
  assert.equal(l.changedAtMs, 3000);
  assert.equal(
    run(
      l,
      [
        ['heard', 3100],
        ['heard', 3200],
      ],
      T,
    ).state,
    'up',
  );
  l = linkStep(l, { kind: 'tick' }, 10_000, T);
  assert.equal(l.state, 'down');
  assert.equal(l.connectedSinceMs, null);
  // Only a new hello reopens a down link: a stray message from a dead stream does not.
  assert.equal(linkStep(l, { kind: 'heard' }, 10_100, T).state, 'down');
  assert.equal(linkStep(l, { kind: 'hello' }, 10_200, T).state, 'up');
});

test('a silent site on the default thresholds: suspect 400 ms after its last message, down at 1.5 s', () => {
  const beats: Array<[LinkEvent['kind'], number]> = [['hello', 0]];
  for (let t = 100; t <= 1000; t += 100) beats.push(['heard', t], ['tick', t]);
  const at = (ms: number) => run(initialLink(), [...beats, ...ticks(1050, ms)], FAST);
  assert.equal(at(1350).state, 'up');
  assert.equal(at(1400).state, 'suspect');
  assert.equal(at(1400).changedAtMs, 1400);
  assert.equal(at(2450).state, 'suspect');
  assert.equal(at(2500).state, 'down');
  assert.equal(at(2500).changedAtMs, 2500);
});

test('hysteresis: a late heartbeat under the threshold changes nothing; one past it needs a second message', () => {
  const start: Array<[LinkEvent['kind'], number]> = [
    ['hello', 0],
    ['heard', 100],
  ];
  // One heartbeat 290 ms late (a 390 ms gap): the link never leaves up.
  const late = run(initialLink(), [...start, ...ticks(150, 450), ['heard', 490], ...ticks(500, 600)], FAST);
  assert.equal(late.state, 'up');
  assert.equal(late.changedAtMs, 0);
  // A 460 ms gap: suspect; the late heartbeat alone leaves it suspect, the next makes it up.
  const suspect = run(initialLink(), [...start, ...ticks(150, 550)], FAST);
  assert.equal(suspect.state, 'suspect');
  const one = run(suspect, [['heard', 560], ...ticks(600, 650)], FAST);
  assert.equal(one.state, 'suspect');
  assert.equal(run(one, [['heard', 660]], FAST).state, 'up');
  // And a late heartbeat followed by silence goes down 1.5 s after it, never up between.
  let l = suspect;
  const seen = new Set<string>();
  for (const [kind, at] of [['heard', 560], ...ticks(600, 2100)] as Array<[LinkEvent['kind'], number]>) {
    l = linkStep(l, { kind }, at, FAST);
    seen.add(l.state);
  }
  assert.deepEqual([...seen], ['suspect', 'down']);
  assert.equal(l.changedAtMs, 2100);
});

test('a closed stream is down at once; nothing happens to a site never seen', () => {
  const up = linkStep(initialLink(), { kind: 'hello' }, 0, T);
  assert.equal(linkStep(up, { kind: 'closed' }, 5, T).state, 'down');
  const never = initialLink();
  for (const kind of ['heard', 'closed', 'tick'] as const)
    assert.equal(linkStep(never, { kind }, 99, T), never);
});
