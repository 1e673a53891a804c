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

test('a real timer never fires before its time on the scheduler clock, though setTimeout may', async () => {
  // libuv arms a timer from its loop time, cached at the start of the loop's turn; on a busy
  // process that time is behind Date.now(), so the callback can run before `now()` reaches
  // the due time (a reservation's deadline then looks not yet passed). Here the clock reads
  // 30 ms behind the timeout's own time once the timer is armed: the same lag, made certain.
  let lagMs = 0;
  const s = new RealScheduler({ realNow: () => Date.now() - lagMs });
  const due = s.now() + 50;
  const at = new Promise<number>((resolve) => s.after(50, () => resolve(s.now())));
  lagMs = 30;
  assert.ok((await at) >= due, 'fired at or after its due time on the scheduler clock');
  assert.equal(s.pending(), 0);
  const early = s.after(40, () => assert.fail('cancelled timer fired'));
  lagMs = 60; // cancelled while waiting out the lag: the re-armed timeout goes too
  await new Promise((r) => setTimeout(r, 45));
  early();
  await new Promise((r) => setTimeout(r, 80));
  assert.equal(s.pending(), 0);
});
