/** The hub's view of a site link (pure): never -> up -> suspect -> down, and back on hello. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import { initialLink, linkStep, linkTimes } from './link-state.js';

const T = linkTimes(1000); // suspect after 3 s of silence, down after 10 s

test('hello opens; silence makes it suspect then down; a message brings a suspect link back', () => {
  let l = linkStep(initialLink(), { kind: 'hello' }, 0, T);
  assert.equal(l.state, 'up');
  assert.equal(linkStep(l, { kind: 'tick' }, 2999, T).state, 'up');
  l = linkStep(l, { kind: 'tick' }, 3000, T);
  assert.equal(l.state, 'suspect');
  assert.equal(l.changedAtMs, 3000);
  assert.equal(linkStep(l, { kind: 'heard' }, 3100, T).state, 'up');
  l = linkStep(l, { kind: 'tick' }, 10_000, T);
  assert.equal(l.state, 'down');
  assert.equal(l.connectedSinceMs, null);
  // Only a new hello reopens a down link: a stray message from a dead stream does not.
  assert.equal(linkStep(l, { kind: 'heard' }, 10_100, T).state, 'down');
  assert.equal(linkStep(l, { kind: 'hello' }, 10_200, T).state, 'up');
});

test('a closed stream is down at once; nothing happens to a site never seen', () => {
  const up = linkStep(initialLink(), { kind: 'hello' }, 0, T);
  assert.equal(linkStep(up, { kind: 'closed' }, 5, T).state, 'down');
  const never = initialLink();
  for (const kind of ['heard', 'closed', 'tick'] as const)
    assert.equal(linkStep(never, { kind }, 99, T), never);
});
