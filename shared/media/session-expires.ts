/**
 * RFC 4028 session-timer negotiation: reading and writing Session-Expires and Min-SE, and
 * what each side agrees to. The running timer is session-timer.ts. A malformed header is an
 * invalid-argument naming it (the SIP boundary answers 400 with that header's name); an
 * interval below our Min-SE is `too-small`, which the boundary answers with 422 and Min-SE.
 */
import { invalidArgument } from '../errors.js';

export type Refresher = 'uac' | 'uas';

export interface SessionExpires {
  deltaSeconds: number;
  refresher: Refresher | null;
}

export interface TimerPolicy {
  /** The interval we ask for or cut a longer one down to (RFC 4028 recommends 1800 s). */
  intervalS: number;
  /** The shortest we accept; never below RFC 4028's floor of 90 s. */
  minSeS: number;
}

/** RFC 4028 §4: no Min-SE may be below 90 s. */
export const MIN_SE_FLOOR_S = 90;
export const DEFAULT_TIMER_POLICY: TimerPolicy = { intervalS: 1800, minSeS: MIN_SE_FLOOR_S };

const deltaSeconds = (header: string, text: string): number => {
  const t = text.trim();
  // delta-seconds is 1*DIGIT; more than 10 digits would not fit 32 bits (RFC 3261 §20.19 caps at 2^32-1).
  if (!/^\d{1,10}$/.test(t) || Number(t) === 0 || Number(t) > 0xffffffff) {
    throw invalidArgument(header, `${JSON.stringify(text)} is not a positive number of seconds`);
  }
  return Number(t);
};

export function readSessionExpires(value: string): SessionExpires {
  const [delta = '', ...params] = value.split(';');
  let refresher: Refresher | null = null;
  for (const p of params) {
    const [name = '', v = ''] = p.split('=').map((s) => s.trim().toLowerCase());
    if (name !== 'refresher') continue; // other generic params are ignored (§4)
    if (v !== 'uac' && v !== 'uas') {
      throw invalidArgument('Session-Expires', `refresher must be uac or uas, got ${JSON.stringify(v)}`);
    }
    refresher = v;
  }
  return { deltaSeconds: deltaSeconds('Session-Expires', delta), refresher };
}

export const readMinSe = (value: string): number => deltaSeconds('Min-SE', value.split(';')[0] ?? '');

export const writeSessionExpires = (se: SessionExpires): string =>
  se.refresher === null ? String(se.deltaSeconds) : `${se.deltaSeconds};refresher=${se.refresher}`;

export type UasTimerDecision =
  | { kind: 'too-small'; minSeS: number }
  | { kind: 'timer'; intervalS: number; refresher: Refresher; headers: Record<string, string> };

/**
 * As UAS, for an INVITE, re-INVITE or UPDATE. We always run a timer (it is how a call whose
 * far end vanished without a BYE gets ended), even with a UAC that does not support it: then
 * we refresh ourselves (§9). A UAC that supports it and leaves the choice to us refreshes.
 */
export function negotiateAsUas(
  req: { sessionExpires: string | null; minSe: string | null; uacSupportsTimer: boolean },
  policy: TimerPolicy = DEFAULT_TIMER_POLICY,
): UasTimerDecision {
  const asked = req.sessionExpires === null ? null : readSessionExpires(req.sessionExpires);
  const theirMinSe = req.minSe === null ? MIN_SE_FLOOR_S : Math.max(MIN_SE_FLOOR_S, readMinSe(req.minSe));
  const ourMinSe = Math.max(MIN_SE_FLOOR_S, policy.minSeS);
  if (asked !== null && asked.deltaSeconds < ourMinSe) return { kind: 'too-small', minSeS: ourMinSe };
  // We may shorten what was asked, never below the UAC's Min-SE, and never lengthen it (§9).
  const wanted = Math.max(policy.intervalS, theirMinSe, ourMinSe);
  const intervalS = asked === null ? wanted : Math.min(asked.deltaSeconds, wanted);
  const refresher: Refresher = !req.uacSupportsTimer ? 'uas' : (asked?.refresher ?? 'uac');
  const headers: Record<string, string> = {
    'Session-Expires': writeSessionExpires({ deltaSeconds: intervalS, refresher }),
  };
  // The UAC must act on the timer only when it is the refresher (§9).
  if (refresher === 'uac') headers['Require'] = 'timer';
  return { kind: 'timer', intervalS, refresher, headers };
}

/** The headers of our INVITE as UAC; after a 422, pass the Min-SE it named. */
export function uacRequestHeaders(
  policy: TimerPolicy = DEFAULT_TIMER_POLICY,
  minSeFrom422: number | null = null,
): Record<string, string> {
  const minSe = Math.max(MIN_SE_FLOOR_S, policy.minSeS, minSeFrom422 ?? 0);
  return {
    Supported: 'timer',
    'Session-Expires': String(Math.max(policy.intervalS, minSe)),
    'Min-SE': String(minSe),
  };
}

/**
 * As UAC, from the 2xx: no Session-Expires means no timer (§7.2); one without a refresher
 * leaves it to us.
 */
export function readUacResponse(
  sessionExpires: string | null,
): { kind: 'no-timer' } | { kind: 'timer'; intervalS: number; refresher: Refresher } {
  if (sessionExpires === null) return { kind: 'no-timer' };
  const se = readSessionExpires(sessionExpires);
  return { kind: 'timer', intervalS: se.deltaSeconds, refresher: se.refresher ?? 'uac' };
}
