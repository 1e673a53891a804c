import { describe, expect, test } from 'vitest';
import { inactivityWatch, stepInactivity, type InactivityEvent, type InactivityWatch } from './inactivity.js';

/** Runs events at their times; every command, tagged with the time it was given. */
function run(events: [number, InactivityEvent][], watch: InactivityWatch = inactivityWatch(5000)) {
  const commands: unknown[] = [];
  for (const [at, e] of events) {
    const r = stepInactivity(watch, e, at);
    watch = r.watch;
    for (const c of r.commands) commands.push([at, c]);
  }
  return { watch, commands };
}

describe('RTP inactivity watchdog', () => {
  test('no packet for the timeout on a talking call: far-end-gone, once', () => {
    const { watch, commands } = run([
      [1000, { kind: 'receiving' }],
      [2000, { kind: 'packet' }],
      [6000, { kind: 'tick' }], // the wake-at asked for at 1000: heard at 2000, not yet
      [7000, { kind: 'tick' }],
      [9000, { kind: 'tick' }],
      [9500, { kind: 'packet' }], // too late: the call is already given up
    ]);
    expect(commands).toEqual([
      [1000, { kind: 'wake-at', atMs: 6000 }],
      [6000, { kind: 'wake-at', atMs: 7000 }],
      [7000, { kind: 'far-end-gone', silentForMs: 5000 }],
    ]);
    expect(watch.state).toBe('gone');
  });

  test('packets keep the call alive however long it lasts', () => {
    const events: [number, InactivityEvent][] = [[0, { kind: 'receiving' }]];
    for (let t = 20; t <= 60_000; t += 20) events.push([t, { kind: 'packet' }]);
    for (let t = 5000; t <= 60_000; t += 5000) events.push([t + 1, { kind: 'tick' }]);
    events.sort((a, b) => a[0] - b[0]);
    const { watch, commands } = run(events);
    expect(watch.state).toBe('watching');
    expect(commands.some((c) => (c as [number, { kind: string }])[1].kind === 'far-end-gone')).toBe(false);
  });

  test('a call held with nothing to receive is not watched; watching starts over when media returns', () => {
    const { watch, commands } = run([
      [0, { kind: 'receiving' }],
      [1000, { kind: 'not-receiving' }],
      [60_000, { kind: 'tick' }],
      [61_000, { kind: 'receiving' }],
      [65_000, { kind: 'tick' }],
    ]);
    expect(commands).toEqual([
      [0, { kind: 'wake-at', atMs: 5000 }],
      [61_000, { kind: 'wake-at', atMs: 66_000 }],
      [65_000, { kind: 'wake-at', atMs: 66_000 }],
    ]);
    expect(watch.state).toBe('watching');
  });

  test('stopped ends the watch from any state; a bad timeout is refused naming it', () => {
    expect(
      run([
        [0, { kind: 'receiving' }],
        [9000, { kind: 'tick' }],
        [9001, { kind: 'stopped' }],
      ]).watch.state,
    ).toBe('idle');
    expect(() => inactivityWatch(0)).toThrow(/rtpTimeoutMs: must be a positive number of ms, got 0/);
  });
});
