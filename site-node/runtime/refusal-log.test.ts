import { test } from 'vitest';
import assert from 'node:assert/strict';
import { silentLogger } from '../../shared/log.js';
import type { StoreContext } from '../store/index.js';
import { DurableWrites } from './durable-writes.js';
import { RefusalLog, type TimedRefusal } from './refusal-log.js';

const down = (): Error => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' });

test('refusals piling up while the store is away cost the buffer one write, and none is lost', async () => {
  const pauses: Array<() => void> = [];
  const writes = new DurableWrites({
    log: silentLogger,
    admission: { capacity: 10, closeWhileDownAt: 5 },
    pause: () => new Promise<void>((r) => pauses.push(r)),
  });
  const batches: TimedRefusal[][] = [];
  let storeDown = true;
  const log = new RefusalLog(
    writes,
    async (_s, batch) => {
      if (storeDown) throw down();
      batches.push([...batch]);
    },
    {} as StoreContext,
  );
  const r = (n: number): TimedRefusal => ({
    ani: `ani${n}`,
    dnis: '95588',
    reason: 'store-backlog',
    atMs: n,
  });
  log.add(r(1));
  await new Promise((res) => setImmediate(res));
  // The first batch was taken on its first try; later refusals wait for the next one.
  for (let n = 2; n <= 50; n++) log.add(r(n));
  assert.equal(writes.depth, 2, 'the batch being retried and one more for everything since');
  storeDown = false;
  pauses.shift()!();
  await writes.drain();
  assert.deepEqual(
    batches.map((b) => b.map((x) => x.atMs)),
    [[1], Array.from({ length: 49 }, (_, i) => i + 2)],
  );
  assert.equal(log.waiting, 0);
});
