/**
 * Which sign-ins to refuse before checking the password (docs/architecture.md §4.3 "Desk
 * authentication"): a pure core, time passed in. Attempts are counted per user id and per
 * address; `maxFailures` failures within `windowMs` lock that key for `lockoutMs`, and each
 * lock of the same key that follows doubles it, up to `maxLockoutMs`. A key quiet for a whole
 * window after its lock ended starts afresh; a good sign-in clears its user's count (not the
 * address's: one good password from an address does not excuse its guesses at others).
 *
 * An attempt counts from the moment it `begin`s, BEFORE its password is checked: a check takes
 * tens of ms, and counting only failures after it let a burst of 60 concurrent guesses all be
 * checked against a limit of 5. Checks in flight plus failures at `maxFailures` refuse the
 * next attempt as locked; a check ends as `failed`, `succeeded` or `abandoned` (no answer).
 *
 * Both keys are checked: guessing one agent's password from many addresses locks the agent;
 * guessing many agents' passwords from one address locks the address. The per-address rule
 * should be the looser one, since a room of desks may share an address. User ids the site
 * does not know share ONE key (`UNKNOWN_USER_KEY`): a stream of made-up ids would otherwise be
 * a key each. An address is keyed by `addressKey`: IPv6 by its /64 (one host holds a whole
 * /64), an IPv4-mapped IPv6 address as the IPv4 address it is.
 *
 * Bounded: past `maxKeys` keys, those with no lock, no check in flight and no failure in the
 * window are forgotten first, then the oldest unlocked ones. A lock is never forgotten: when
 * every key is a lock in force (or a check in flight), an attempt needing a new key is refused
 * as locked until one ends, rather than forgetting a lock to make room.
 */
import { isIP } from 'node:net';
import { DomainError } from '../../shared/errors.js';

export interface ThrottleRule {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  maxLockoutMs: number;
}

export interface ThrottleKeys {
  userId: string;
  address: string;
}

export interface Throttled {
  /** Which key is locked. */
  by: 'user' | 'address';
  retryInMs: number;
  /** Locked by checks still in flight, not (only) by failures. */
  pending?: boolean;
  /** Refused because the table is full of locks (no key of its own yet). */
  full?: boolean;
}

interface Entry {
  failures: number[];
  lockedUntilMs: number;
  lockouts: number;
  lastMs: number;
  /** Attempts begun and not yet ended. */
  inFlight: number;
}

export const DEFAULT_USER_RULE: ThrottleRule = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockoutMs: 30_000,
  maxLockoutMs: 60 * 60_000,
};

export const DEFAULT_ADDRESS_RULE: ThrottleRule = { ...DEFAULT_USER_RULE, maxFailures: 20 };

/** The one key of every user id the site does not know (not a valid user id: it has a space). */
export const UNKNOWN_USER_KEY = 'unknown user';

/** How long an attempt refused for checks in flight waits: a check takes tens of ms. */
const PENDING_RETRY_MS = 1_000;

export interface SignInThrottleOptions {
  /** Keys kept at most. Default 10 000. */
  maxKeys?: number;
  /** Whether a user id is one of the site's; others share UNKNOWN_USER_KEY. Default: all are. */
  knownUser?: (userId: string) => boolean;
}

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxKeys: number;
  private readonly knownUser: (userId: string) => boolean;

  constructor(
    private readonly rules: { user: ThrottleRule; address: ThrottleRule },
    opts: SignInThrottleOptions = {},
  ) {
    for (const [name, r] of Object.entries(rules)) {
      if (!(r.maxFailures >= 1 && r.windowMs > 0 && r.lockoutMs > 0 && r.maxLockoutMs >= r.lockoutMs)) {
        throw new DomainError('invalid-argument', `sign-in throttle: bad ${name} rule ${JSON.stringify(r)}`, {
          field: name,
        });
      }
    }
    this.maxKeys = opts.maxKeys ?? 10_000;
    if (!(Number.isInteger(this.maxKeys) && this.maxKeys >= 2)) {
      throw new DomainError('invalid-argument', `sign-in throttle: maxKeys must be an integer >= 2`, {
        field: 'maxKeys',
      });
    }
    this.knownUser = opts.knownUser ?? (() => true);
  }

  /** The lock in force for either key, the longer one when both are (checks in flight aside). */
  check(keys: ThrottleKeys, nowMs: number): Throttled | undefined {
    let out: Throttled | undefined;
    for (const [by, key] of this.keysOf(keys)) {
      const e = this.entries.get(key);
      if (!e || e.lockedUntilMs <= nowMs) continue;
      const retryInMs = e.lockedUntilMs - nowMs;
      if (!out || retryInMs > out.retryInMs) out = { by, retryInMs };
    }
    return out;
  }

  /**
   * Begin an attempt: refused (the lock returned, nothing counted) when either key is locked,
   * or its checks in flight and failures already reach `maxFailures`; else counted in flight
   * against both keys until `failed`, `succeeded` or `abandoned`.
   */
  begin(keys: ThrottleKeys, nowMs: number): Throttled | undefined {
    const locked = this.check(keys, nowMs);
    if (locked) return locked;
    const pairs = this.keysOf(keys);
    for (const [by, key] of pairs) {
      const e = this.entries.get(key);
      if (!e) continue;
      const rule = this.rules[by];
      this.freshen(e, rule, nowMs);
      if (e.inFlight + this.live(e, rule, nowMs) >= rule.maxFailures) {
        return { by, retryInMs: PENDING_RETRY_MS, pending: true };
      }
    }
    const missing = pairs.filter(([, key]) => !this.entries.has(key)).length;
    if (
      missing > 0 &&
      !this.makeRoom(
        nowMs,
        missing,
        pairs.map(([, k]) => k),
      )
    ) {
      const [by] = pairs.find(([, key]) => !this.entries.has(key))!;
      return { by, retryInMs: this.earliestUnlockMs(nowMs), full: true };
    }
    for (const [, key] of pairs) {
      let e = this.entries.get(key);
      if (!e) {
        e = { failures: [], lockedUntilMs: 0, lockouts: 0, lastMs: nowMs, inFlight: 0 };
        this.entries.set(key, e);
      }
      e.inFlight++;
      e.lastMs = nowMs;
    }
    return undefined;
  }

  /** A begun attempt failed: it counts against both keys. */
  failed(keys: ThrottleKeys, nowMs: number): void {
    for (const [by, key] of this.keysOf(keys)) {
      const rule = this.rules[by];
      let e = this.entries.get(key);
      if (!e) {
        // Not begun here (or the table was full then): counted still, if there is room.
        if (!this.makeRoom(nowMs, 1, [key])) continue;
        e = { failures: [], lockedUntilMs: 0, lockouts: 0, lastMs: nowMs, inFlight: 1 };
        this.entries.set(key, e);
      }
      e.inFlight = Math.max(0, e.inFlight - 1);
      this.freshen(e, rule, nowMs);
      e.lastMs = nowMs;
      e.failures = e.failures.filter((t) => nowMs - t < rule.windowMs);
      e.failures.push(nowMs);
      if (e.failures.length >= rule.maxFailures) {
        e.lockouts++;
        const ms = Math.min(rule.lockoutMs * 2 ** Math.min(e.lockouts - 1, 30), rule.maxLockoutMs);
        e.lockedUntilMs = nowMs + ms;
        e.failures = [];
      }
    }
  }

  /** A begun attempt was good: its user starts afresh (unless other checks are in flight). */
  succeeded(keys: ThrottleKeys): void {
    this.release(keys);
    const user = this.keysOf(keys)[0][1];
    const e = this.entries.get(user);
    if (e && e.inFlight === 0) this.entries.delete(user);
  }

  /** A begun attempt got no answer (the store failed): it counts neither way. */
  abandoned(keys: ThrottleKeys): void {
    this.release(keys);
  }

  get size(): number {
    return this.entries.size;
  }

  private release(keys: ThrottleKeys): void {
    for (const [, key] of this.keysOf(keys)) {
      const e = this.entries.get(key);
      if (e) e.inFlight = Math.max(0, e.inFlight - 1);
    }
  }

  private keysOf(keys: ThrottleKeys): [['user', string], ['address', string]] {
    const user = this.knownUser(keys.userId) ? keys.userId : UNKNOWN_USER_KEY;
    return [
      ['user', `user:${user}`],
      ['address', `address:${addressKey(keys.address)}`],
    ];
  }

  /** A key quiet for a whole window after its lock ended starts afresh (its checks in flight kept). */
  private freshen(e: Entry, rule: ThrottleRule, nowMs: number): void {
    if (e.lockouts > 0 && e.lockedUntilMs + rule.windowMs <= nowMs) {
      e.lockouts = 0;
      e.lockedUntilMs = 0;
      e.failures = [];
    }
  }

  private live(e: Entry, rule: ThrottleRule, nowMs: number): number {
    return e.failures.filter((t) => nowMs - t < rule.windowMs).length;
  }

  private ruleOf(key: string): ThrottleRule {
    return this.rules[key.startsWith('user:') ? 'user' : 'address'];
  }

  /** Room for `n` new keys, forgetting no lock and no check in flight; false when there is none. */
  private makeRoom(nowMs: number, n: number, keep: string[]): boolean {
    if (this.entries.size + n <= this.maxKeys) return true;
    const forgettable = (k: string, e: Entry) =>
      !keep.includes(k) && e.inFlight === 0 && e.lockedUntilMs <= nowMs;
    // First what no longer matters: no lock, nothing in flight, no failure in the window.
    for (const [k, e] of this.entries) {
      if (forgettable(k, e) && this.live(e, this.ruleOf(k), nowMs) === 0) this.entries.delete(k);
    }
    // Then the oldest unlocked keys (insertion order), however many failures they hold.
    for (const [k, e] of this.entries) {
      if (this.entries.size + n <= this.maxKeys) break;
      if (forgettable(k, e)) this.entries.delete(k);
    }
    return this.entries.size + n <= this.maxKeys;
  }

  private earliestUnlockMs(nowMs: number): number {
    let out = Infinity;
    for (const e of this.entries.values()) {
      if (e.lockedUntilMs > nowMs) out = Math.min(out, e.lockedUntilMs - nowMs);
    }
    return Number.isFinite(out) ? out : PENDING_RETRY_MS;
  }
}

/**
 * The throttle's key of a client address: `::ffff:10.1.2.3` is `10.1.2.3`; any other IPv6
 * address is its /64 (`2001:db8:0:1::/64`), since one host holds a whole /64 and could
 * otherwise use a fresh key per guess; anything else (IPv4, `unknown`) as it is.
 */
export function addressKey(address: string): string {
  const a = address.replace(/%.*$/, '');
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(a);
  if (mapped && isIP(mapped[1]!) === 4) return mapped[1]!;
  if (isIP(a) !== 6) return address;
  const groups = expandIpv6(a);
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return [groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff].join('.');
  }
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** A valid IPv6 address (isIP says so) as its eight 16-bit groups. */
function expandIpv6(a: string): number[] {
  let s = a.toLowerCase();
  // A trailing dotted quad is the last two groups.
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (v4) {
    const [b0, b1, b2, b3] = v4.slice(1).map(Number) as [number, number, number, number];
    s = s.slice(0, v4.index) + `${((b0 << 8) | b1).toString(16)}:${((b2 << 8) | b3).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const parse = (part: string | undefined) => (part ? part.split(':').map((g) => parseInt(g, 16)) : []);
  const front = parse(head);
  const back = parse(tail);
  const zeros = tail === undefined ? [] : new Array<number>(8 - front.length - back.length).fill(0);
  return [...front, ...zeros, ...back];
}
