import { test } from 'vitest';
import assert from 'node:assert/strict';
import { startable, type OrderedWrite } from './write-order.js';

const w = (key: string | undefined, running = false): OrderedWrite => ({ key, running });

test('the first write of each key starts, up to the limit, oldest first', () => {
  const buffer = [w('c1'), w('c2'), w('c1'), w('a1'), w('c3')];
  assert.deepEqual(startable(buffer, 10), [0, 1, 3, 4]);
  assert.deepEqual(startable(buffer, 2), [0, 1]);
});

test('a running write holds back the later writes of its key and takes a slot', () => {
  const buffer = [w('c1', true), w('c1'), w('c2'), w('c3')];
  assert.deepEqual(startable(buffer, 2), [2]);
  assert.deepEqual(startable(buffer, 1), []);
});

test('a write with no key starts only at the head, and nothing behind it starts', () => {
  assert.deepEqual(startable([w(undefined), w('c1')], 4), [0]);
  assert.deepEqual(startable([w('c1', true), w(undefined), w('c2')], 4), []);
  assert.deepEqual(startable([w('c1'), w(undefined), w('c2')], 4), [0]);
  assert.deepEqual(startable([w(undefined, true), w('c2')], 4), []);
});

test('an empty buffer or no free slot starts nothing', () => {
  assert.deepEqual(startable([], 4), []);
  assert.deepEqual(startable([w('c1', true), w('c2', true)], 2), []);
});
