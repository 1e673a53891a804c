import { test } from 'vitest';
import assert from 'node:assert/strict';
import { OTHER_ADDRESSES, RefusalWindow } from './refusal-window.js';

test('the first refusal from an address is logged, the rest of the window only counted', () => {
  const w = new RefusalWindow(10_000);
  assert.equal(w.note('10.0.0.1', 'unknown CA', 0), true);
  for (let i = 1; i < 200; i++)
    assert.equal(w.note('10.0.0.1', i % 2 ? 'unknown CA' : 'no certificate', i), false);
  assert.equal(w.note('10.0.0.2', 'expired', 5), true, 'another address is logged on its own');
  assert.deepEqual(w.due(9_999), [], 'nothing is summarised before the window ends');
  assert.deepEqual(w.due(10_000), [
    {
      key: '10.0.0.1',
      suppressed: 199,
      reasons: { 'unknown CA': 100, 'no certificate': 99 },
      windowMs: 10_000,
    },
  ]);
});

test('a continuing flood gives one summary per window; a quiet address is logged afresh', () => {
  const w = new RefusalWindow(1000);
  assert.equal(w.note('a', 'r', 0), true);
  assert.equal(w.note('a', 'r', 500), false);
  assert.equal(w.due(1000).length, 1);
  assert.equal(w.note('a', 'r', 1200), false, 'the flood goes on: still counted, not logged');
  assert.deepEqual(
    w.due(2000).map((s) => s.suppressed),
    [1],
  );
  assert.deepEqual(w.due(3000), [], 'a quiet window says nothing');
  assert.equal(w.size, 0, 'and is forgotten');
  assert.equal(w.note('a', 'r', 3100), true, 'so the next refusal is logged at once');
});

test('a quiet window that ended without due() does not swallow the next refusal', () => {
  const w = new RefusalWindow(1000);
  assert.equal(w.note('a', 'r', 0), true);
  assert.equal(w.note('a', 'r', 5000), true);
});

test('due(now, true) ends every window so no count is lost at stop', () => {
  const w = new RefusalWindow(10_000);
  w.note('a', 'r', 0);
  w.note('a', 'r', 1);
  w.note('b', 'r', 2);
  assert.deepEqual(w.due(3, true), [{ key: 'a', suppressed: 1, reasons: { r: 1 }, windowMs: 3 }]);
  assert.equal(w.size, 0);
});

test('memory is bounded: addresses past maxKeys share one key', () => {
  const w = new RefusalWindow(1000, 2);
  assert.equal(w.note('a', 'r', 0), true);
  assert.equal(w.note('b', 'r', 0), true);
  assert.equal(w.note('c', 'r', 0), true, 'the first of the others is logged');
  assert.equal(w.note('d', 'r', 0), false);
  assert.equal(w.size, 3);
  assert.deepEqual(
    w.due(1000).map((s) => [s.key, s.suppressed]),
    [[OTHER_ADDRESSES, 1]],
  );
});

test('bad settings are refused naming the field', () => {
  assert.throws(() => new RefusalWindow(0), /windowMs/);
  assert.throws(() => new RefusalWindow(10, 0), /maxKeys/);
});
