/**
 * Which sign-ins to refuse before checking the password (docs/architecture.md §4.3 "Desk
 * authentication"): a pure core, time passed in. Failures are counted per user id and per
 * address; `maxFailures` of them within `windowMs` lock that key for `lockoutMs`, and each
 * lock of the same key that follows doubles it, up to `maxLockoutMs`. A key quiet for a whole
 * window after its lock ended starts afresh; a good sign-in clears its user's count (not the
 * address's: one good password from an address does not excuse its guesses at others).
 *
 * Both keys are checked: guessing one agent's password from many addresses locks the agent;
 * guessing many agents' passwords from one address locks the address. The per-address rule
 * should be the looser one, since a room of desks may share an address.
 *
 * Bounded: past `maxKeys` keys, those with no lock in force and no failure in the window are
 * forgotten first; if all are live, the oldest goes.
 */

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
}

interface Entry {
  failures: number[];
  lockedUntilMs: number;
  lockouts: number;
  lastMs: number;
}

export const DEFAULT_USER_RULE: ThrottleRule = {
  maxFailures: 5,
  windowMs: 15 * 60_000,
  lockoutMs: 30_000,
  maxLockoutMs: 60 * 60_000,
};

export const DEFAULT_ADDRESS_RULE: ThrottleRule = { ...DEFAULT_USER_RULE, maxFailures: 20 };

export class SignInThrottle {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly rules: { user: ThrottleRule; address: ThrottleRule },
    private readonly maxKeys = 10_000,
  ) {
    for (const [name, r] of Object.entries(rules)) {
      if (!(r.maxFailures >= 1 && r.windowMs > 0 && r.lockoutMs > 0 && r.maxLockoutMs >= r.lockoutMs)) {
        throw new RangeError(`sign-in throttle: bad ${name} rule ${JSON.stringify(r)}`);
      }
    }
  }

  /** The lock in force for either key, the longer one when both are. */
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

  /** Count a failed sign-in against both keys. */
  failed(keys: ThrottleKeys, nowMs: number): void {
    for (const [by, key] of this.keysOf(keys)) {
      const rule = this.rules[by];
      let e = this.entries.get(key);
      if (e && e.lockouts > 0 && e.lockedUntilMs + rule.windowMs <= nowMs) e = undefined;
      if (!e) {
        this.makeRoom(nowMs);
        e = { failures: [], lockedUntilMs: 0, lockouts: 0, lastMs: nowMs };
        this.entries.set(key, e);
      }
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

  /** A good sign-in: its user starts afresh. */
  succeeded(keys: ThrottleKeys): void {
    this.entries.delete(`user:${keys.userId}`);
  }

  get size(): number {
    return this.entries.size;
  }

  private keysOf(keys: ThrottleKeys): Array<['user' | 'address', string]> {
    return [
      ['user', `user:${keys.userId}`],
      ['address', `address:${keys.address}`],
    ];
  }

  private makeRoom(nowMs: number): void {
    if (this.entries.size < this.maxKeys) return;
    for (const [k, e] of this.entries) {
      const rule = this.rules[k.startsWith('user:') ? 'user' : 'address'];
      if (e.lockedUntilMs <= nowMs && e.failures.every((t) => nowMs - t >= rule.windowMs))
        this.entries.delete(k);
    }
    while (this.entries.size >= this.maxKeys) this.entries.delete(this.entries.keys().next().value!);
  }
}
