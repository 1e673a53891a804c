/**
 * The SIP transaction timers (RFC 3261 §17 and Table 4, RFC 6026 §7 for L and M). T1 is the
 * round-trip estimate, T2 the cap on non-INVITE and response retransmission intervals, T4 how
 * long a message may stay in the network. Every other timer derives from these three, so
 * raising T1 on a slow link stretches the whole schedule consistently.
 *
 * | timer | machine              | value on UDP                 | on TCP/TLS | what it does                           |
 * |-------|----------------------|------------------------------|------------|----------------------------------------|
 * | A     | client INVITE        | T1, doubling                 | not run    | resend the INVITE                      |
 * | B     | client INVITE        | 64*T1                        | 64*T1      | give up waiting for any response       |
 * | D     | client INVITE        | max(32 s, 64*T1)             | 0          | absorb resent 3xx-6xx finals           |
 * | E     | client non-INVITE    | T1, doubling up to T2        | not run    | resend the request                     |
 * | F     | client non-INVITE    | 64*T1                        | 64*T1      | give up waiting for a final            |
 * | G     | server INVITE        | T1, doubling up to T2        | not run    | resend the 3xx-6xx final               |
 * | H     | server INVITE        | 64*T1                        | 64*T1      | give up waiting for the ACK            |
 * | I     | server INVITE        | T4                           | 0          | absorb resent ACKs                     |
 * | J     | server non-INVITE    | 64*T1                        | 0          | absorb resent requests                 |
 * | K     | client non-INVITE    | T4                           | 0          | absorb resent finals                   |
 * | L     | server INVITE        | 64*T1                        | 64*T1      | absorb resent INVITEs after a 2xx      |
 * | M     | client INVITE        | 64*T1                        | 64*T1      | pass resent and forked 2xx to the TU   |
 *
 * D is at least 32 s as the RFC asks, and at least 64*T1 so that it still outlasts the
 * server's G retransmissions (bounded by H = 64*T1) when T1 is raised.
 */
import { invalidArgument } from '../../errors.js';

export type TimerName = 'A' | 'B' | 'D' | 'E' | 'F' | 'G' | 'H' | 'I' | 'J' | 'K' | 'L' | 'M';

export const TIMER_NAMES: readonly TimerName[] = ['A', 'B', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M'];

export interface TimerOptions {
  readonly t1Ms: number;
  readonly t2Ms: number;
  readonly t4Ms: number;
}

export const DEFAULT_TIMER_OPTIONS: TimerOptions = { t1Ms: 500, t2Ms: 4_000, t4Ms: 5_000 };

/** The RFC's floor for timer D on unreliable transports. */
export const TIMER_D_MIN_MS = 32_000;

/**
 * Fill in defaults and check the three base values once, at start (DESIGN §3.6). `field` is
 * where they came from in the caller's config, so an error names `voice.sip.t2Ms`.
 */
export function compileTimerOptions(input: Partial<TimerOptions> = {}, field = 'timers'): TimerOptions {
  const out = { ...DEFAULT_TIMER_OPTIONS, ...input };
  for (const key of ['t1Ms', 't2Ms', 't4Ms'] as const) {
    const v = out[key];
    if (!Number.isInteger(v) || v <= 0) {
      throw invalidArgument(`${field}.${key}`, `must be a positive whole number of milliseconds, not ${v}`);
    }
  }
  if (out.t2Ms < out.t1Ms) {
    throw invalidArgument(`${field}.t2Ms`, `must be at least t1Ms (${out.t1Ms}), not ${out.t2Ms}`);
  }
  return out;
}

/**
 * The first interval of a timer on this transport: the value it is armed with. Zero means
 * "fire at once" (the machine then moves on without arming anything); `undefined` means the
 * timer does not run on this transport.
 */
export function firstIntervalMs(name: TimerName, t: TimerOptions, reliable: boolean): number | undefined {
  const sixtyFour = 64 * t.t1Ms;
  switch (name) {
    case 'A':
    case 'E':
    case 'G':
      return reliable ? undefined : t.t1Ms;
    case 'B':
    case 'F':
    case 'H':
    case 'L':
    case 'M':
      return sixtyFour;
    case 'D':
      return reliable ? 0 : Math.max(TIMER_D_MIN_MS, sixtyFour);
    case 'J':
      return reliable ? 0 : sixtyFour;
    case 'I':
    case 'K':
      return reliable ? 0 : t.t4Ms;
  }
}

/**
 * The interval a retransmission timer is re-armed with after it fires: A doubles without a
 * cap (an INVITE's retransmissions are bounded by B instead), E and G double up to T2.
 */
export function nextIntervalMs(name: 'A' | 'E' | 'G', previousMs: number, t: TimerOptions): number {
  return name === 'A' ? previousMs * 2 : Math.min(previousMs * 2, t.t2Ms);
}
