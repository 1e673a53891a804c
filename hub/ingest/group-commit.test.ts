/** Group commit (pure, with a fake write): batching while busy, per-batch counts, failures. */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import type { EventEnvelope } from '../../shared/events/envelope.js';
import { GroupCommit } from './group-commit.js';

const ev = (id: string) => ({ id }) as EventEnvelope;

function fakeStore() {
  const stored = new Set<string>();
  const writes: string[][] = [];
  let fail = false;
  return {
    writes,
    failNext: () => (fail = true),
    write: async (events: readonly EventEnvelope[]) => {
      writes.push(events.map((e) => e.id));
      await new Promise((r) => setImmediate(r));
      if (fail) {
        fail = false;
        throw new Error('database down');
      }
      const inserted = new Set<string>();
      for (const e of events) {
        if (stored.has(e.id)) continue;
        stored.add(e.id);
        inserted.add(e.id);
      }
      return inserted;
    },
  };
}

test('an idle writer writes at once; batches that arrive while it is busy share the next write', async () => {
  const s = fakeStore();
  const g = new GroupCommit(s.write, () => 0);
  const first = g.submit([ev('a')]);
  const rest = [g.submit([ev('b'), ev('c')]), g.submit([ev('d')]), g.submit([ev('b')])];
  assert.deepEqual(await first, { accepted: 1, duplicates: 0 });
  assert.deepEqual(await Promise.all(rest), [
    { accepted: 2, duplicates: 0 },
    { accepted: 1, duplicates: 0 },
    { accepted: 0, duplicates: 1 }, // 'b' counted once, for the first batch that carried it
  ]);
  assert.deepEqual(s.writes, [['a'], ['b', 'c', 'd', 'b']]);
  assert.equal(g.stats.maxBatchesPerWrite, 3);
});

test('a failed write fails every batch of its group and nothing else; the next group goes on', async () => {
  const s = fakeStore();
  const g = new GroupCommit(s.write, () => 0);
  s.failNext();
  const a = g.submit([ev('a')]);
  const b = g.submit([ev('b')]);
  await assert.rejects(a, /database down/);
  assert.deepEqual(await b, { accepted: 1, duplicates: 0 });
  assert.deepEqual(await g.submit([ev('a')]), { accepted: 1, duplicates: 0 }, 'the failed batch retried');
});

test('maxEvents caps a write; an oversized single batch still goes alone', async () => {
  const s = fakeStore();
  const g = new GroupCommit(s.write, () => 0, 3);
  await Promise.all([
    g.submit([ev('x1')]),
    g.submit([ev('a1'), ev('a2')]),
    g.submit([ev('b1'), ev('b2')]),
    g.submit([ev('c1'), ev('c2'), ev('c3'), ev('c4')]),
  ]);
  assert.deepEqual(s.writes, [['x1'], ['a1', 'a2'], ['b1', 'b2'], ['c1', 'c2', 'c3', 'c4']]);
});
