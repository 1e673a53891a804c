import { describe, expect, test } from 'vitest';
import {
  compileTimerOptions,
  DEFAULT_TIMER_OPTIONS,
  firstIntervalMs,
  nextIntervalMs,
  TIMER_NAMES,
} from './timers.js';

const T = DEFAULT_TIMER_OPTIONS;

describe('SIP timers (RFC 3261 Table 4, RFC 6026)', () => {
  test('defaults are T1 500 ms, T2 4 s, T4 5 s', () => {
    expect(T).toEqual({ t1Ms: 500, t2Ms: 4000, t4Ms: 5000 });
  });

  test.each([
    // name, UDP, TCP
    ['A', 500, undefined],
    ['B', 32_000, 32_000],
    ['D', 32_000, 0],
    ['E', 500, undefined],
    ['F', 32_000, 32_000],
    ['G', 500, undefined],
    ['H', 32_000, 32_000],
    ['I', 5000, 0],
    ['J', 32_000, 0],
    ['K', 5000, 0],
    ['L', 32_000, 32_000],
    ['M', 32_000, 32_000],
  ] as const)('timer %s starts at %s ms on UDP and %s on TCP', (name, udp, tcp) => {
    expect(firstIntervalMs(name, T, false)).toBe(udp);
    expect(firstIntervalMs(name, T, true)).toBe(tcp);
  });

  test('the table above covers every timer', () => {
    expect(TIMER_NAMES).toHaveLength(12);
  });

  test('the 64*T1 timers follow T1; D never drops below 32 s but outlasts H when T1 grows', () => {
    const slow = compileTimerOptions({ t1Ms: 1000 });
    expect(firstIntervalMs('B', slow, false)).toBe(64_000);
    expect(firstIntervalMs('D', slow, false)).toBe(64_000);
    expect(firstIntervalMs('D', compileTimerOptions({ t1Ms: 100 }), false)).toBe(32_000);
  });

  test('A doubles without a cap; E and G double up to T2', () => {
    expect(nextIntervalMs('A', 16_000, T)).toBe(32_000);
    expect(nextIntervalMs('E', 1000, T)).toBe(2000);
    expect(nextIntervalMs('E', 4000, T)).toBe(4000);
    expect(nextIntervalMs('G', 2000, T)).toBe(4000);
    expect(nextIntervalMs('G', 4000, T)).toBe(4000);
  });

  test('options are checked once, each error naming its field', () => {
    expect(compileTimerOptions({}, 'voice.sip')).toEqual(T);
    expect(() => compileTimerOptions({ t1Ms: 0 }, 'voice.sip')).toThrow(
      /^voice\.sip\.t1Ms: must be a positive/,
    );
    expect(() => compileTimerOptions({ t4Ms: 1.5 }, 'voice.sip')).toThrow(/^voice\.sip\.t4Ms: /);
    expect(() => compileTimerOptions({ t1Ms: 5000 }, 'voice.sip')).toThrow(
      /^voice\.sip\.t2Ms: must be at least t1Ms/,
    );
  });
});
