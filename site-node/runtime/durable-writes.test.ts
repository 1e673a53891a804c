import { test } from 'vitest';
import assert from 'node:assert/strict';
import { createLogger } from '../../shared/log.js';
import { DomainError } from '../../shared/errors.js';
import { DurableWrites, type WriteOutcome } from './durable-writes.js';

const down = (): Error =>
  Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });

/** A buffer whose waits are released by the test, over a fake store that is down `failFor` tries. */
function harness(opts: { capacity?: number; closeWhileDownAt?: number; concurrency?: number } = {}) {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(
    {},
    { level: 'debug', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  const pauses: Array<{ ms: number; release: () => void }> = [];
  const writes = new DurableWrites({
    log,
    admission: { capacity: opts.capacity ?? 100, closeWhileDownAt: opts.closeWhileDownAt ?? 100 },
    backoff: { firstMs: 10, maxMs: 40 },
    pause: (ms) => new Promise<void>((release) => pauses.push({ ms, release })),
    ...(opts.concurrency === undefined ? {} : { concurrency: opts.concurrency }),
  });
  const landed: string[] = [];
  let failures = 0;
  const store = {
    failNext(n: number) {
      failures = n;
    },
    write(label: string) {
      return async () => {
        if (failures > 0) {
          failures--;
          throw down();
        }
        landed.push(label);
      };
    },
  };
  /** Let the pump run until it waits on a pause (or has nothing left). */
  const settle = () => new Promise((r) => setImmediate(r));
  const releasePause = async () => {
    await settle();
    const p = pauses.shift();
    assert.ok(p, 'the buffer is waiting before a retry');
    p.release();
    await settle();
  };
  return { writes, store, landed, lines, pauses, settle, releasePause };
}

test('a store down for several tries loses nothing and keeps the order', async () => {
  const h = harness();
  h.store.failNext(4);
  const outcomes: Array<Promise<WriteOutcome>> = [];
  for (const l of ['create c1', 'queue c1', 'create c2', 'end c1'])
    outcomes.push(h.writes.push(l, h.store.write(l)));
  await h.settle();
  assert.equal(h.writes.storeUp, false);
  assert.equal(h.writes.depth, 4);
  for (let i = 0; i < 4; i++) await h.releasePause();
  assert.deepEqual(await Promise.all(outcomes), ['written', 'written', 'written', 'written']);
  assert.deepEqual(h.landed, ['create c1', 'queue c1', 'create c2', 'end c1']);
  assert.equal(h.writes.storeUp, true);
  assert.equal(h.writes.failures, 0);
  assert.equal(h.writes.retries, 4);
});

test('retries back off, doubling up to the cap', async () => {
  const h = harness();
  h.store.failNext(4);
  const done = h.writes.push('w', h.store.write('w'));
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    await h.settle();
    delays.push(h.pauses[0]!.ms);
    await h.releasePause();
  }
  assert.equal(await done, 'written');
  assert.deepEqual(delays, [10, 20, 40, 40]);
});

test('the store going away and coming back is one line each, not one per write', async () => {
  const h = harness();
  h.store.failNext(3);
  for (const l of ['a', 'b', 'c']) void h.writes.push(l, h.store.write(l));
  for (let i = 0; i < 3; i++) await h.releasePause();
  await h.writes.drain();
  const msgs = h.lines.map((l) => l.msg);
  assert.equal(msgs.filter((m) => String(m).startsWith('store unreachable')).length, 1);
  const back = h.lines.filter((l) => String(l.msg).startsWith('store is back'));
  assert.equal(back.length, 1);
  assert.equal(back[0]!.waiting, 3);
});

test('a permanent failure is logged with its label, counted and passed over; later writes land', async () => {
  const h = harness();
  const first = h.writes.push('transition c1', async () => {
    throw new DomainError('failed-precondition', 'call c1 is ended, not queued');
  });
  const second = h.writes.push('end c2', h.store.write('end c2'));
  assert.equal(await first, 'failed');
  assert.equal(await second, 'written');
  assert.equal(h.writes.failures, 1);
  assert.deepEqual(h.landed, ['end c2']);
  const line = h.lines.find((l) => l.write === 'transition c1');
  assert.equal(line?.level, 'error');
  assert.equal(h.writes.storeUp, true, 'a permanent failure says nothing about the store');
});

test('commit: written when the store answers within the bound', async () => {
  const h = harness();
  const outcome = h.writes.commit('create c1', h.store.write('create c1'), 2_000);
  await h.settle();
  // The bound's pause is pending but not needed.
  assert.equal(await outcome, 'written');
  assert.deepEqual(h.landed, ['create c1']);
});

test('commit: withdrawn when the bound passes first, and it never lands later', async () => {
  const h = harness();
  h.store.failNext(1);
  void h.writes.push('end c0', h.store.write('end c0'));
  const outcome = h.writes.commit('create c1', h.store.write('create c1'), 2_000);
  await h.settle();
  // Two pauses wait: the retry of `end c0` and the bound of `create c1`.
  const bound = h.pauses.find((p) => p.ms === 2_000)!;
  bound.release();
  assert.equal(await outcome, 'withdrawn');
  assert.equal(h.writes.depth, 1);
  h.pauses.find((p) => p.ms === 10)!.release();
  await h.writes.drain();
  assert.deepEqual(h.landed, ['end c0']);
});

test('admission closes at capacity, and past the threshold while the store is down', async () => {
  const h = harness({ capacity: 3, closeWhileDownAt: 2 });
  assert.equal(h.writes.admissionOpen, true);
  h.store.failNext(100);
  void h.writes.push('a', h.store.write('a'));
  await h.settle();
  assert.equal(h.writes.storeUp, false);
  assert.equal(h.writes.admissionOpen, true, 'one write waits: below the threshold');
  void h.writes.push('b', h.store.write('b'));
  assert.equal(h.writes.admissionOpen, false, 'store down and two wait');
  h.store.failNext(0);
  await h.releasePause();
  await h.writes.drain();
  assert.equal(h.writes.admissionOpen, true);
  // Full even with the store up: the writes of admitted calls still go in, new calls do not.
  h.store.failNext(100);
  for (const l of ['c', 'd', 'e']) void h.writes.push(l, h.store.write(l));
  h.store.failNext(0);
  assert.equal(h.writes.depth, 3);
  assert.equal(h.writes.admissionOpen, false);
});

test('shutdown drains within its bound and names what could not be written', async () => {
  const h = harness();
  h.store.failNext(100);
  const a = h.writes.push('end c1', h.store.write('end c1'));
  const b = h.writes.push('end c2', h.store.write('end c2'));
  await h.settle();
  const left = h.writes.drainWithin(5_000);
  await h.settle();
  h.pauses.find((p) => p.ms === 5_000)!.release();
  assert.equal(await left, 2);
  assert.equal(await b, 'failed');
  const line = h.lines.find((l) => String(l.msg).startsWith('store writes not written at shutdown'));
  assert.deepEqual(line?.writes, ['end c1', 'end c2']);
  // The head was waiting on its retry pause: released, it is not tried again.
  h.pauses.find((p) => p.ms === 10)!.release();
  await h.settle();
  assert.equal(h.landed.length, 0);
  void a;
});

test('shutdown: a write running past the bound that then fails is settled failed, not left waiting', async () => {
  const h = harness();
  let fail!: (e: unknown) => void;
  const running = h.writes.push('end c1', () => new Promise((_, reject) => (fail = reject)));
  await h.settle();
  const left = h.writes.drainWithin(5_000);
  await h.settle();
  h.pauses.find((p) => p.ms === 5_000)!.release();
  assert.equal(await left, 1);
  // The store is away: the running write fails transiently after the site gave up writing.
  fail(down());
  const outcome = await Promise.race([running, h.settle().then(() => 'still waiting')]);
  assert.equal(outcome, 'failed');
  assert.equal(h.writes.depth, 0);
  assert.equal(h.writes.failures, 1);
  await h.writes.drain();
});

/** A write the test finishes by hand, to see what runs alongside it. */
function gate(started: string[], label: string) {
  let finish!: () => void;
  let fail!: (e: unknown) => void;
  const done = new Promise<void>((res, rej) => ((finish = res), (fail = rej)));
  return {
    write: async () => {
      started.push(label);
      await done;
    },
    finish: () => finish(),
    fail: (e: unknown) => fail(e),
  };
}

test("writes of different keys run side by side, a key's own writes one after another in order", async () => {
  const h = harness({ concurrency: 4 });
  const started: string[] = [];
  const g = Object.fromEntries(
    ['create c1', 'create c2', 'queue c1', 'ready a1', 'end c1'].map((l) => [l, gate(started, l)]),
  );
  const keyOf = (l: string) => l.split(' ')[1]!;
  const outcomes = Object.keys(g).map((l) => h.writes.push(l, g[l]!.write, keyOf(l)));
  await h.settle();
  assert.deepEqual(started, ['create c1', 'create c2', 'ready a1'], 'c1 waits for its create');
  g['create c1']!.finish();
  await h.settle();
  assert.deepEqual(started.slice(3), ['queue c1']);
  g['queue c1']!.finish();
  await h.settle();
  assert.deepEqual(started.slice(4), ['end c1'], "c1's end only after its queue, whatever c2 does");
  for (const l of ['create c2', 'ready a1', 'end c1']) g[l]!.finish();
  assert.deepEqual(await Promise.all(outcomes), Array(5).fill('written'));
});

test('at most `concurrency` writes run at once; a write with no key waits for all before it and holds all after it', async () => {
  const h = harness({ concurrency: 2 });
  const started: string[] = [];
  const g = Object.fromEntries(['a', 'b', 'c', 'barrier', 'd'].map((l) => [l, gate(started, l)]));
  for (const l of ['a', 'b', 'c']) void h.writes.push(l, g[l]!.write, l);
  void h.writes.push('barrier', g['barrier']!.write);
  void h.writes.push('d', g['d']!.write, 'd');
  await h.settle();
  assert.deepEqual(started, ['a', 'b']);
  g['a']!.finish();
  await h.settle();
  assert.deepEqual(started, ['a', 'b', 'c']);
  g['b']!.finish();
  await h.settle();
  assert.deepEqual(started, ['a', 'b', 'c'], 'the barrier waits for c');
  g['c']!.finish();
  await h.settle();
  assert.deepEqual(started, ['a', 'b', 'c', 'barrier'], 'd waits behind the barrier');
  g['barrier']!.finish();
  await h.settle();
  assert.deepEqual(started, ['a', 'b', 'c', 'barrier', 'd']);
  g['d']!.finish();
  await h.writes.drain();
});

test('the store going away under concurrent writes: one wait, then one probe at a time, and no key overtaken', async () => {
  const h = harness({ concurrency: 3 });
  const tries: string[] = [];
  // Each try takes a turn of the event loop, so the first two are in flight together.
  const w = (l: string) => async () => {
    tries.push(l);
    await new Promise((r) => setImmediate(r));
    await h.store.write(l)();
  };
  h.store.failNext(2);
  const outcomes = ['x1 c1', 'x1 c2', 'x2 c1'].map((l) => h.writes.push(l, w(l), l.split(' ')[1]));
  await h.settle();
  await h.settle();
  assert.deepEqual(tries, ['x1 c1', 'x1 c2'], "c1's second write does not overtake its first");
  assert.equal(h.writes.storeUp, false);
  assert.equal(h.pauses.length, 1, 'one backoff for both failures');
  await h.releasePause();
  assert.deepEqual(tries, ['x1 c1', 'x1 c2', 'x1 c1'], 'the oldest probes the store alone');
  assert.deepEqual(await Promise.all(outcomes), ['written', 'written', 'written']);
  assert.deepEqual(tries.slice(3).sort(), ['x1 c2', 'x2 c1'], 'back up: the rest side by side');
  assert.ok(h.landed.indexOf('x1 c1') < h.landed.indexOf('x2 c1'));
  assert.equal(h.writes.storeUp, true);
});

test('a write that throws before returning a promise is passed over once; the others run once each', async () => {
  const h = harness({ concurrency: 4 });
  const ran: string[] = [];
  // A barrier first, so that the four start together when it lands.
  const first = gate([], 'barrier');
  void h.writes.push('barrier', first.write);
  const outcomes = [
    h.writes.push(
      'bad c1',
      () => {
        ran.push('bad c1');
        throw new DomainError('failed-precondition', 'a bug');
      },
      'c1',
    ),
    h.writes.push('x c2', async () => void ran.push('x c2'), 'c2'),
    h.writes.push('y c1', async () => void ran.push('y c1'), 'c1'),
    h.writes.push('z c3', async () => void ran.push('z c3'), 'c3'),
  ];
  await h.settle();
  first.finish();
  assert.deepEqual(await Promise.all(outcomes), ['failed', 'written', 'written', 'written']);
  assert.deepEqual([...ran].sort(), ['bad c1', 'x c2', 'y c1', 'z c3']);
  assert.ok(ran.indexOf('bad c1') < ran.indexOf('y c1'));
});
