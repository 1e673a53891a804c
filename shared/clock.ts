/**
 * Time is an input (docs/architecture.md §3.2). Cores never read the wall clock: they take `nowMs`
 * arguments, and adapters get a `Clock` injected so tests can run hours in milliseconds.
 */
export interface Clock {
  /** Milliseconds since the Unix epoch. */
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** A clock that only moves when told to; for tests and simulations. */
export class ManualClock implements Clock {
  constructor(private ms = 0) {}
  now(): number {
    return this.ms;
  }
  set(ms: number): void {
    if (ms < this.ms) throw new Error(`ManualClock cannot go backwards (${this.ms} -> ${ms})`);
    this.ms = ms;
  }
  advance(deltaMs: number): void {
    this.set(this.ms + deltaMs);
  }
}
