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
  type SiteLinkEvent,
  type SiteLinkMachine,
  type SiteLinkOptions,
} from './link-state.js';

const O: SiteLinkOptions = { minBackoffMs: 100, maxBackoffMs: 1600, heartbeatIntervalMs: 1000 };

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

test('hysteresis: silent for 3 intervals -> suspect; heard again -> up; silent for 10 -> down and redial', () => {
  const base: Array<[SiteLinkEvent, number]> = [
    [{ kind: 'dial' }, 0],
    [{ kind: 'welcome', heartbeatIntervalMs: 1000 }, 0],
    [{ kind: 'caught-up' }, 0],
  ];
  assert.equal(run([...base, [{ kind: 'tick' }, 2999]]).m.state, 'up');
  assert.equal(run([...base, [{ kind: 'tick' }, 3000]]).m.state, 'suspect');
  assert.equal(run([...base, [{ kind: 'tick' }, 3000], [{ kind: 'heard' }, 3500]]).m.state, 'up');
  const gone = run([...base, [{ kind: 'tick' }, 3000], [{ kind: 'tick' }, 10_000]]);
  assert.equal(gone.m.state, 'down');
  assert.deepEqual(gone.cmds.slice(1), ['close-stream', 'redial-at 10100']);
  assert.match(gone.m.lastError!, /no message from the hub for 10000 ms/);
});

test('a lost stream while connecting redials with a doubling backoff, capped; welcome resets it', () => {
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
  const after = siteLinkStep(
    siteLinkStep(m, { kind: 'dial' }, t, O).machine,
    { kind: 'welcome', heartbeatIntervalMs: 0 },
    t,
    O,
  );
  assert.equal(after.machine.backoffMs, 100);
  assert.equal(after.machine.heartbeatIntervalMs, 1000, 'a 0 interval from the hub keeps ours');
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
