import { test } from 'vitest';
import assert from 'node:assert/strict';
import { mulberry32, Random } from './random.js';

test('mulberry32 is deterministic per seed and uniform in [0, 1)', () => {
  const a = mulberry32(123);
  const b = mulberry32(123);
  const xs = Array.from({ length: 10_000 }, () => a());
  assert.deepEqual(
    xs.slice(0, 5),
    Array.from({ length: 5 }, () => b()),
  );
  assert.ok(xs.every((x) => x >= 0 && x < 1));
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  assert.ok(Math.abs(mean - 0.5) < 0.02, `mean ${mean}`);
  assert.notEqual(mulberry32(124)(), mulberry32(123)());
});

test('exponential and lognormal have the requested means', () => {
  const r = new Random(2024);
  const n = 50_000;
  let e = 0;
  let l = 0;
  for (let i = 0; i < n; i++) {
    e += r.exponential(180);
    l += r.lognormal(180, 0.8);
  }
  assert.ok(Math.abs(e / n - 180) < 5, `exponential mean ${e / n}`);
  assert.ok(Math.abs(l / n - 180) < 5, `lognormal mean ${l / n}`);
});

test('int, pick, chance and fork', () => {
  const r = new Random(1);
  const seen = new Set<number>();
  for (let i = 0; i < 1000; i++) seen.add(r.int(1, 6));
  assert.deepEqual([...seen].sort(), [1, 2, 3, 4, 5, 6]);
  assert.throws(() => r.pick([]), RangeError);
  assert.equal(r.chance(0), false);
  assert.equal(r.chance(1), true);
  const f1 = new Random(5).fork();
  const f2 = new Random(5).fork();
  assert.equal(f1.next(), f2.next());
});
