/**
 * The site's link state machine (pure): the happy path, hysteresis (one late heartbeat makes
 * the link suspect, not down), loss at every stage, and the reconnect backoff doubling and
 * resetting.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import {
  initialSiteLink,
  siteLinkStep,
  type SiteLinkCommand,
  type SiteLinkEvent,
  type SiteLinkMachine,
  type SiteLinkOptions,
} from './link-state.js';

const O: SiteLinkOptions = {
  minBackoffMs: 100,
  maxBackoffMs: 1600,
  heartbeatIntervalMs: 1000,
  suspectAfterMs: 400,
  downAfterMs: 1500,
};
/** The short-heartbeat options the site runs by default: 100 ms beats, 400 ms, 1.5 s. */
const FAST: SiteLinkOptions = { ...O, heartbeatIntervalMs: 100 };

function runWith(o: SiteLinkOptions, events: Array<[SiteLinkEvent, number]>) {
  let m = initialSiteLink(o, 0);
  const cmds: SiteLinkCommand[] = [];
  for (const [e, t] of events) {
    const s = siteLinkStep(m, e, t, o);
    m = s.machine;
    cmds.push(...s.commands);
  }
  return { m, cmds };
}

/** Ticks every `every` ms from `from` to `to`, as the adapter's timer does. */
const ticks = (from: number, to: number, every = 25): Array<[SiteLinkEvent, number]> => {
  const out: Array<[SiteLinkEvent, number]> = [];
  for (let t = from; t <= to; t += every) out.push([{ kind: 'tick' }, t]);
  return out;
};
const upAt0: Array<[SiteLinkEvent, number]> = [
  [{ kind: 'dial' }, 0],
  [{ kind: 'welcome', heartbeatIntervalMs: 100 }, 0],
  [{ kind: 'caught-up' }, 0],
];

function run(events: Array<[SiteLinkEvent, number]>): { m: SiteLinkMachine; cmds: string[] } {
  let m = initialSiteLink(O, 0);
  const cmds: string[] = [];
  for (const [e, t] of events) {
    const s = siteLinkStep(m, e, t, O);
    m = s.machine;
    for (const c of s.commands) cmds.push(c.kind === 'redial-at' ? `redial-at ${c.atMs}` : c.kind);
  }
  return { m, cmds };
}

test('down -> connecting -> resyncing -> up, using the interval the hub asks for', () => {
  const { m, cmds } = run([
    [{ kind: 'dial' }, 0],
    [{ kind: 'welcome', heartbeatIntervalMs: 500 }, 10],
    [{ kind: 'caught-up' }, 20],
  ]);
  assert.equal(m.state, 'up');
  assert.equal(m.heartbeatIntervalMs, 500);
  assert.deepEqual(cmds, ['open-stream']);
});

test('a hub asking for slow heartbeats stretches the thresholds to 3 and 10 of its intervals', () => {
  const base: Array<[SiteLinkEvent, number]> = [
    [{ kind: 'dial' }, 0],
    [{ kind: 'welcome', heartbeatIntervalMs: 1000 }, 0],
    [{ kind: 'caught-up' }, 0],
  ];
  assert.equal(run([...base, [{ kind: 'tick' }, 2999]]).m.state, 'up');
  assert.equal(run([...base, [{ kind: 'tick' }, 3000]]).m.state, 'suspect');
  assert.equal(run([...base, [{ kind: 'tick' }, 3000], [{ kind: 'heard' }, 3500]]).m.state, 'suspect');
  assert.equal(
    run([...base, [{ kind: 'tick' }, 3000], [{ kind: 'heard' }, 3500], [{ kind: 'heard' }, 3600]]).m.state,
    'up',
  );
  const gone = run([...base, [{ kind: 'tick' }, 3000], [{ kind: 'tick' }, 10_000]]);
  assert.equal(gone.m.state, 'down');
  // A link that had been open redials at once.
  assert.deepEqual(gone.cmds.slice(1), ['close-stream', 'redial-at 10000']);
  assert.match(gone.m.lastError!, /no message from the hub for 10000 ms/);
});

test('silence on a short heartbeat: suspect after 400 ms, down after 1.5 s, on the virtual clock', () => {
  // Heard last at 1000; then nothing. The adapter ticks every 25 ms.
  const events = [
    ...upAt0,
    ...ticks(0, 1000).flatMap((t) => [t, [{ kind: 'heard' }, t[1]] as [SiteLinkEvent, number]]),
  ];
  const at = (ms: number) => runWith(FAST, [...events, ...ticks(1025, ms)]).m;
  assert.equal(at(1375).state, 'up');
  assert.equal(at(1400).state, 'suspect');
  assert.equal(at(1400).changedAtMs, 1400, 'noticed 400 ms after the last message');
  assert.equal(at(2475).state, 'suspect');
  const down = runWith(FAST, [...events, ...ticks(1025, 2500)]);
  assert.equal(down.m.state, 'down');
  assert.equal(down.m.changedAtMs, 2500);
  assert.match(down.m.lastError!, /no message from the hub for 1500 ms/);
  assert.deepEqual(down.cmds.slice(-2), [
    { kind: 'close-stream', reason: 'no message from the hub for 1500 ms' },
    { kind: 'redial-at', atMs: 2500 },
  ]);
});

test('hysteresis: one late ack below the threshold changes nothing; one past it does not flap back to up', () => {
  const heard = (t: number): [SiteLinkEvent, number] => [{ kind: 'heard' }, t];
  // Acks every 100 ms, one of them 290 ms late (a 390 ms gap): still up, no change at all.
  const late = runWith(FAST, [
    ...upAt0,
    heard(100),
    ...ticks(125, 475),
    heard(490),
    ...ticks(500, 600),
    heard(600),
  ]);
  assert.equal(late.m.state, 'up');
  assert.equal(late.m.changedAtMs, 0);
  // A gap of 450 ms: suspect; the late ack alone does not make it up again; the next one does.
  const base = [...upAt0, heard(100), ...ticks(125, 550)];
  assert.equal(runWith(FAST, base).m.state, 'suspect');
  const one = runWith(FAST, [...base, heard(560), ...ticks(575, 650)]);
  assert.equal(one.m.state, 'suspect', 'one late ack is not yet a flowing link');
  const two = runWith(FAST, [...base, heard(560), heard(660), ...ticks(675, 700)]);
  assert.equal(two.m.state, 'up');
  // Late, then silent again: down at 1.5 s after the late ack, with no up in between.
  let m = runWith(FAST, base).m;
  const states = new Set<string>();
  for (const [e, t] of [heard(560), ...ticks(575, 2100)]) {
    m = siteLinkStep(m, e, t, FAST).machine;
    states.add(m.state);
  }
  assert.deepEqual([...states], ['suspect', 'down']);
  assert.equal(m.state, 'down');
  assert.equal(m.changedAtMs, 2075);
});

test('redial: immediate after a link that was up, backoff from small after a failed dial', () => {
  const up = runWith(FAST, [
    ...upAt0,
    ...ticks(0, 1000).map(([, t]) => [{ kind: 'heard' }, t] as [SiteLinkEvent, number]),
  ]);
  const drop = siteLinkStep(up.m, { kind: 'lost', reason: 'hub stopping' }, 1000, FAST);
  assert.deepEqual(drop.commands.at(-1), { kind: 'redial-at', atMs: 1000 });
  assert.equal(drop.machine.lastRedialDelayMs, 0);
  // The hub is not back yet: the dials that fail back off from the minimum.
  let m = drop.machine;
  const delays: number[] = [];
  for (let i = 0; i < 4; i++) {
    m = siteLinkStep(m, { kind: 'dial' }, 1000 + i, FAST).machine;
    m = siteLinkStep(m, { kind: 'lost', reason: 'connection refused' }, 1000 + i, FAST).machine;
    delays.push(m.lastRedialDelayMs!);
  }
  assert.deepEqual(delays, [100, 200, 400, 800]);
  assert.equal(m.dials, 5);
  assert.equal(m.failedDials, 4);
  // A link dropped right after its welcome goes on backing off: the welcome alone resets nothing.
  m = siteLinkStep(m, { kind: 'dial' }, 5000, FAST).machine;
  m = siteLinkStep(m, { kind: 'welcome', heartbeatIntervalMs: 100 }, 5000, FAST).machine;
  const quick = siteLinkStep(m, { kind: 'lost', reason: 'replaced' }, 5010, FAST);
  assert.deepEqual(quick.commands.at(-1), { kind: 'redial-at', atMs: 5010 + 1600 });
});

test('a link dropped at every welcome (two sites with one id) backs off instead of redialling every minBackoffMs', () => {
  let m = initialSiteLink(FAST, 0);
  let t = 0;
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    m = siteLinkStep(m, { kind: 'dial' }, t, FAST).machine;
    m = siteLinkStep(m, { kind: 'welcome', heartbeatIntervalMs: 100 }, t + 5, FAST).machine;
    const s = siteLinkStep(m, { kind: 'lost', reason: 'replaced by a newer link' }, t + 10, FAST);
    m = s.machine;
    delays.push(m.lastRedialDelayMs!);
    t += 10 + m.lastRedialDelayMs!;
  }
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 1600]);
  // A link that then stays open a while redials at once and starts the backoff afresh.
  m = siteLinkStep(m, { kind: 'dial' }, t, FAST).machine;
  m = siteLinkStep(m, { kind: 'welcome', heartbeatIntervalMs: 100 }, t, FAST).machine;
  m = siteLinkStep(m, { kind: 'lost', reason: 'hub stopping' }, t + 1000, FAST).machine;
  assert.equal(m.lastRedialDelayMs, 0);
  assert.equal(m.backoffMs, 100);
});

test('a lost stream while connecting redials with a doubling backoff, capped', () => {
  const evs: Array<[SiteLinkEvent, number]> = [];
  let t = 0;
  for (let i = 0; i < 6; i++) {
    evs.push([{ kind: 'dial' }, t], [{ kind: 'lost', reason: 'refused' }, t]);
    t += 10;
  }
  const { m, cmds } = run(evs);
  const delays = cmds.filter((c) => c.startsWith('redial')).map((c, i) => Number(c.split(' ')[1]) - i * 10);
  assert.deepEqual(delays, [100, 200, 400, 800, 1600, 1600]);
  assert.equal(m.drops, 6);
  assert.ok(!cmds.includes('close-stream'), 'nothing to close while only connecting');
  assert.equal(m.failedDials, 6);
  const after = siteLinkStep(
    siteLinkStep(m, { kind: 'dial' }, t, O).machine,
    { kind: 'welcome', heartbeatIntervalMs: 0 },
    t,
    O,
  );
  assert.equal(after.machine.heartbeatIntervalMs, 1000, 'a 0 interval from the hub keeps ours');
  // The backoff resets once the welcomed link has stayed open (see the test above).
  const held = siteLinkStep(after.machine, { kind: 'lost', reason: 'hub stopping' }, t + 500, O);
  assert.equal(held.machine.backoffMs, 100);
  assert.equal(held.machine.lastRedialDelayMs, 0);
});

test('property: events in any order never leave the machine in an impossible combination', () => {
  const event = fc.oneof(
    fc.constant<SiteLinkEvent>({ kind: 'dial' }),
    fc.constant<SiteLinkEvent>({ kind: 'welcome', heartbeatIntervalMs: 1000 }),
    fc.constant<SiteLinkEvent>({ kind: 'caught-up' }),
    fc.constant<SiteLinkEvent>({ kind: 'heard' }),
    fc.constant<SiteLinkEvent>({ kind: 'lost', reason: 'x' }),
    fc.constant<SiteLinkEvent>({ kind: 'tick' }),
  );
  fc.assert(
    fc.property(fc.array(fc.tuple(event, fc.integer({ min: 0, max: 5000 })), { maxLength: 60 }), (steps) => {
      let m = initialSiteLink(O, 0);
      let t = 0;
      let opens = 0;
      for (const [e, dt] of steps) {
        t += dt;
        const s = siteLinkStep(m, e, t, O);
        // Only a dial from down opens a stream, and a stream is never opened twice in a row.
        for (const c of s.commands) if (c.kind === 'open-stream') opens++;
        if (s.commands.some((c) => c.kind === 'open-stream')) assert.equal(m.state, 'down');
        m = s.machine;
        assert.ok(m.backoffMs >= O.minBackoffMs && m.backoffMs <= O.maxBackoffMs);
        if (m.state === 'down') opens = 0;
        assert.ok(opens <= 1);
      }
    }),
    { numRuns: 300 },
  );
});

test('a dial with no welcome within downAfterMs fails like any dial: stream closed, redial after the backoff', () => {
  const { m, cmds } = runWith(FAST, [[{ kind: 'dial' }, 0], ...ticks(25, 1475), [{ kind: 'tick' }, 1500]]);
  assert.equal(m.state, 'down');
  assert.equal(m.failedDials, 1);
  assert.equal(m.lastError, 'no welcome from the hub within 1500 ms of dialling');
  assert.deepEqual(cmds, [
    { kind: 'open-stream' },
    { kind: 'close-stream', reason: 'no welcome from the hub within 1500 ms of dialling' },
    { kind: 'redial-at', atMs: 1600 },
  ]);
});
