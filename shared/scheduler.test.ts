import { test } from 'vitest';
import assert from 'node:assert/strict';
import { RealScheduler, VirtualScheduler } from './scheduler.js';

test('virtual scheduler fires due callbacks in time order, FIFO on ties, and can cancel', async () => {
  const s = new VirtualScheduler(1000);
  const fired: string[] = [];
  s.after(300, () => fired.push(`c@${s.now()}`));
  s.after(100, () => fired.push(`a@${s.now()}`));
  s.after(100, () => fired.push(`b@${s.now()}`));
  const cancel = s.after(200, () => fired.push('cancelled'));
  cancel();
  assert.equal(await s.advance(250), 2);
  assert.deepEqual(fired, ['a@1100', 'b@1100']);
  assert.equal(s.now(), 1250);
  await s.runAll();
  assert.deepEqual(fired, ['a@1100', 'b@1100', 'c@1300']);
  assert.equal(s.pending(), 0);
});

test('virtual scheduler settles async work between callbacks, including timers it schedules', async () => {
  const s = new VirtualScheduler(0);
  const log: number[] = [];
  const tick = async (n: number): Promise<void> => {
    await Promise.resolve();
    log.push(s.now());
    if (n > 0) s.after(10, () => void tick(n - 1));
  };
  s.after(10, () => void tick(3));
  await s.runUntil(1000);
  assert.deepEqual(log, [10, 20, 30, 40]);
  assert.equal(s.now(), 1000);
});

test('real scheduler runs sped up, and its clock agrees', async () => {
  const s = new RealScheduler({ speed: 50, startMs: 0 });
  const t0 = Date.now();
  const simAt = await new Promise<number>((resolve) => s.after(1000, () => resolve(s.now())));
  const real = Date.now() - t0;
  assert.ok(real < 500, `1000 simulated ms at speed 50 took ${real} real ms`);
  assert.ok(simAt >= 950, `clock said ${simAt}`);
  const c = s.after(10, () => assert.fail('cancelled timer fired'));
  c();
  assert.equal(s.pending(), 0);
  assert.throws(() => new RealScheduler({ speed: 0 }), RangeError);
});
