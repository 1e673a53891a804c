import { describe, expect, test } from 'vitest';
import {
  negotiateAsUas,
  readMinSe,
  readSessionExpires,
  readUacResponse,
  uacRequestHeaders,
} from './session-expires.js';
import {
  sessionTimer,
  stepSessionTimer,
  type SessionTimer,
  type SessionTimerEvent,
} from './session-timer.js';

function run(events: [number, SessionTimerEvent][], timer: SessionTimer = sessionTimer()) {
  const commands: unknown[] = [];
  for (const [at, e] of events) {
    const r = stepSessionTimer(timer, e, at);
    timer = r.timer;
    for (const c of r.commands) commands.push([at, c]);
  }
  return { timer, commands };
}

describe('Session-Expires and Min-SE', () => {
  test('read, with or without a refresher; malformed values are refused naming the header', () => {
    expect(readSessionExpires('1800;refresher=uac')).toEqual({ deltaSeconds: 1800, refresher: 'uac' });
    expect(readSessionExpires(' 90 ; x=1 ; Refresher = UAS')).toEqual({ deltaSeconds: 90, refresher: 'uas' });
    expect(readSessionExpires('600')).toEqual({ deltaSeconds: 600, refresher: null });
    expect(() => readSessionExpires('soon')).toThrow(
      /^Session-Expires: "soon" is not a positive number of seconds/,
    );
    expect(() => readSessionExpires('1800;refresher=both')).toThrow(
      /Session-Expires: refresher must be uac or uas/,
    );
    expect(readMinSe('120')).toBe(120);
    expect(() => readMinSe('-5')).toThrow(/^Min-SE: /);
  });

  test('as UAS: too small gets 422 with our Min-SE; longer is cut to ours; the UAC refreshes when it can', () => {
    const policy = { intervalS: 1800, minSeS: 120 };
    expect(negotiateAsUas({ sessionExpires: '100', minSe: null, uacSupportsTimer: true }, policy)).toEqual({
      kind: 'too-small',
      minSeS: 120,
    });
    expect(negotiateAsUas({ sessionExpires: '3600', minSe: null, uacSupportsTimer: true }, policy)).toEqual({
      kind: 'timer',
      intervalS: 1800,
      refresher: 'uac',
      headers: { 'Session-Expires': '1800;refresher=uac', Require: 'timer' },
    });
    // Never lengthened, never cut below the UAC's Min-SE.
    expect(
      negotiateAsUas(
        { sessionExpires: '600;refresher=uas', minSe: '600', uacSupportsTimer: true },
        { intervalS: 300, minSeS: 90 },
      ),
    ).toMatchObject({
      intervalS: 600,
      refresher: 'uas',
      headers: { 'Session-Expires': '600;refresher=uas' },
    });
    // A UAC without timer support: we refresh, and require nothing of it.
    expect(negotiateAsUas({ sessionExpires: null, minSe: null, uacSupportsTimer: false }, policy)).toEqual({
      kind: 'timer',
      intervalS: 1800,
      refresher: 'uas',
      headers: { 'Session-Expires': '1800;refresher=uas' },
    });
  });

  test('as UAC: our request headers, after a 422, and the 2xx read', () => {
    expect(uacRequestHeaders()).toEqual({ Supported: 'timer', 'Session-Expires': '1800', 'Min-SE': '90' });
    expect(uacRequestHeaders({ intervalS: 300, minSeS: 90 }, 600)).toEqual({
      Supported: 'timer',
      'Session-Expires': '600',
      'Min-SE': '600',
    });
    expect(readUacResponse(null)).toEqual({ kind: 'no-timer' });
    expect(readUacResponse('900')).toEqual({ kind: 'timer', intervalS: 900, refresher: 'uac' });
    expect(readUacResponse('900;refresher=uas')).toEqual({ kind: 'timer', intervalS: 900, refresher: 'uas' });
  });
});

describe('session timer', () => {
  test('the refresher refreshes at half the interval; each 2xx starts the interval over', () => {
    const { timer, commands } = run([
      [0, { kind: 'refreshed', intervalS: 90, weRefresh: true }],
      [45_000, { kind: 'tick' }],
      [45_300, { kind: 'refreshed', intervalS: 90, weRefresh: true }],
      [90_300, { kind: 'tick' }],
    ]);
    expect(commands).toEqual([
      [0, { kind: 'wake-at', atMs: 45_000 }],
      [45_000, { kind: 'send-refresh' }],
      [45_000, { kind: 'wake-at', atMs: 90_000 }],
      [45_300, { kind: 'wake-at', atMs: 90_300 }],
      [90_300, { kind: 'send-refresh' }],
      [90_300, { kind: 'wake-at', atMs: 135_300 }],
    ]);
    expect(timer.state).toBe('refreshing');
  });

  test('a refresh never answered: BYE at the expiry', () => {
    const { timer, commands } = run([
      [0, { kind: 'refreshed', intervalS: 90, weRefresh: true }],
      [45_000, { kind: 'tick' }],
      [90_000, { kind: 'tick' }],
      [95_000, { kind: 'tick' }],
    ]);
    expect(commands.slice(-1)).toEqual([[90_000, { kind: 'send-bye', reason: 'session-expired' }]]);
    expect(timer.state).toBe('expired');
  });

  test('408 or 481 to our refresh: BYE at once; 491 retries halfway to the deadline', () => {
    const start: [number, SessionTimerEvent][] = [
      [0, { kind: 'refreshed', intervalS: 100, weRefresh: true }],
      [50_000, { kind: 'tick' }],
    ];
    expect(run([...start, [50_100, { kind: 'refresh-failed', status: 481 }]]).commands.slice(-1)).toEqual([
      [50_100, { kind: 'send-bye', reason: 'refresh-failed' }],
    ]);
    const glare = run([
      ...start,
      [50_000, { kind: 'refresh-failed', status: 491 }],
      [75_000, { kind: 'tick' }],
    ]);
    expect(glare.commands.slice(-3)).toEqual([
      [50_000, { kind: 'wake-at', atMs: 75_000 }],
      [75_000, { kind: 'send-refresh' }],
      [75_000, { kind: 'wake-at', atMs: 100_000 }],
    ]);
  });

  test('the other side: BYE min(32 s, interval / 3) before the expiry unless refreshed', () => {
    const short = run([
      [0, { kind: 'refreshed', intervalS: 90, weRefresh: false }],
      [59_999, { kind: 'tick' }],
      [60_000, { kind: 'tick' }],
    ]);
    expect(short.commands).toEqual([
      [0, { kind: 'wake-at', atMs: 60_000 }],
      [59_999, { kind: 'wake-at', atMs: 60_000 }],
      [60_000, { kind: 'send-bye', reason: 'session-expired' }],
    ]);
    const long = run([
      [0, { kind: 'refreshed', intervalS: 1800, weRefresh: false }],
      [900_000, { kind: 'refreshed', intervalS: 1800, weRefresh: false }],
      [1_768_000, { kind: 'tick' }],
    ]);
    expect(long.commands).toEqual([
      [0, { kind: 'wake-at', atMs: 1_768_000 }],
      [900_000, { kind: 'wake-at', atMs: 2_668_000 }],
      [1_768_000, { kind: 'wake-at', atMs: 2_668_000 }],
    ]);
    expect(long.timer.state).toBe('running');
  });

  test('ended or cleared turns it off; nothing after a BYE; a bad interval is refused', () => {
    expect(
      run([
        [0, { kind: 'refreshed', intervalS: 90, weRefresh: true }],
        [1, { kind: 'ended' }],
        [99_000, { kind: 'tick' }],
      ]).commands,
    ).toHaveLength(1);
    expect(
      run([
        [0, { kind: 'refreshed', intervalS: 90, weRefresh: true }],
        [1, { kind: 'cleared' }],
      ]).timer.state,
    ).toBe('off');
    const after = run([
      [0, { kind: 'refreshed', intervalS: 90, weRefresh: false }],
      [60_000, { kind: 'tick' }],
      [60_001, { kind: 'refreshed', intervalS: 90, weRefresh: false }],
      [61_000, { kind: 'tick' }],
    ]);
    expect(after.commands).toHaveLength(2);
    expect(after.timer.state).toBe('expired');
    expect(() =>
      stepSessionTimer(sessionTimer(), { kind: 'refreshed', intervalS: 0, weRefresh: true }, 0),
    ).toThrow(/interval 0 s is not positive/);
  });
});
