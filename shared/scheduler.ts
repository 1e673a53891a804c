/**
 * A `Scheduler` is a Clock that can also call back later. Adapters and simulations that
 * need timers take one (docs/architecture.md §3.2): the real one runs on setTimeout, optionally sped
 * up; the virtual one only moves when a test advances it, firing due callbacks in order.
 */
import type { Clock } from './clock.js';

export type Cancel = () => void;

export interface Scheduler extends Clock {
  /** Milliseconds since the Unix epoch, in scheduler (possibly simulated) time. */
  now(): number;
  /** Call `fn` once, `ms` scheduler-milliseconds from now. Returns a cancel function. */
  after(ms: number, fn: () => void): Cancel;
}

/**
 * Timers on setTimeout. `speed` = simulated milliseconds per real millisecond: speed 10 runs
 * ten simulated seconds per real second; `now()` runs at the same speed (from `startMs`), so
 * the scheduler is also the consistent Clock for everything in the simulation.
 */
export class RealScheduler implements Scheduler {
  readonly speed: number;
  private readonly startMs: number;
  private readonly realStart: number;
  private readonly realNow: () => number;
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(opts: { speed?: number; startMs?: number; realNow?: () => number } = {}) {
    const speed = opts.speed ?? 1;
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`scheduler speed ${speed} must be > 0`);
    this.speed = speed;
    this.realNow = opts.realNow ?? Date.now;
    this.realStart = this.realNow();
    this.startMs = opts.startMs ?? this.realStart;
  }

  now(): number {
    return Math.floor(this.startMs + (this.realNow() - this.realStart) * this.speed);
  }

  /**
   * Never before `now()` reaches the due time: libuv arms a timeout from its loop time, cached
   * when the loop's turn began, so on a busy process setTimeout can fire while `now()` (read
   * fresh) is still short of it, and a deadline checked against `now()` would look unpassed
   * with no timer left to check it again. An early firing re-arms for the rest.
   */
  after(ms: number, fn: () => void): Cancel {
    const dueMs = this.now() + Math.max(0, ms);
    let t: NodeJS.Timeout;
    const arm = (simMs: number): void => {
      t = setTimeout(() => {
        this.timers.delete(t);
        const left = dueMs - this.now();
        if (left > 0) return arm(left);
        fn();
      }, simMs / this.speed);
      this.timers.add(t);
    };
    arm(Math.max(0, ms));
    return () => {
      clearTimeout(t);
      this.timers.delete(t);
    };
  }

  /** Timers not yet fired or cancelled. */
  pending(): number {
    return this.timers.size;
  }

  /** Cancel every pending timer (shutdown). */
  cancelAll(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }
}

interface VirtualTimer {
  atMs: number;
  seq: number;
  fn: () => void;
}

/** Let every queued promise continuation run (one macrotask turn). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Virtual time for tests: nothing happens until `advance`/`runUntil`. Due callbacks fire in
 * order of due time, then of scheduling (FIFO for equal times); time jumps to each one's due
 * time before it fires, and pending promise continuations are settled after each callback,
 * so async code driven by the timers (awaiting an in-memory port) runs as it would live.
 */
export class VirtualScheduler implements Scheduler {
  private ms: number;
  private seq = 0;
  private queue: VirtualTimer[] = [];

  constructor(startMs = 0) {
    if (!Number.isInteger(startMs))
      throw new RangeError(`VirtualScheduler start ${startMs} must be an integer`);
    this.ms = startMs;
  }

  now(): number {
    return this.ms;
  }

  after(ms: number, fn: () => void): Cancel {
    // Whole milliseconds, so every time the scheduler hands out is an integer (ids, int64 fields).
    const timer: VirtualTimer = { atMs: this.ms + Math.max(0, Math.round(ms)), seq: this.seq++, fn };
    // Keep the queue sorted; insertion from the back is cheap for the usual near-future timers.
    let i = this.queue.length;
    while (i > 0) {
      const prev = this.queue[i - 1]!;
      if (prev.atMs < timer.atMs || (prev.atMs === timer.atMs && prev.seq < timer.seq)) break;
      i--;
    }
    this.queue.splice(i, 0, timer);
    return () => {
      const j = this.queue.indexOf(timer);
      if (j >= 0) this.queue.splice(j, 1);
    };
  }

  /** Timers not yet fired or cancelled. */
  pending(): number {
    return this.queue.length;
  }

  /** Due time of the next timer, if any. */
  nextAt(): number | undefined {
    return this.queue[0]?.atMs;
  }

  /** Fire everything due up to `now() + ms`, in order, then set the time there. Returns how many fired. */
  advance(ms: number): Promise<number> {
    return this.runUntil(this.ms + ms);
  }

  /** Fire everything due up to `atMs`, in order, then set the time to `atMs`. */
  async runUntil(atMs: number): Promise<number> {
    atMs = Math.round(atMs);
    let fired = 0;
    await settle();
    for (;;) {
      const next = this.queue[0];
      if (!next || next.atMs > atMs) break;
      this.queue.shift();
      this.ms = Math.max(this.ms, next.atMs);
      next.fn();
      fired++;
      await settle();
    }
    this.ms = Math.max(this.ms, atMs);
    return fired;
  }

  /** Fire timers until none are left (or `maxTimers` fired, against runaway loops). */
  async runAll(maxTimers = 1_000_000): Promise<number> {
    let fired = 0;
    await settle();
    while (this.queue.length > 0) {
      if (fired >= maxTimers) throw new Error(`VirtualScheduler.runAll: more than ${maxTimers} timers fired`);
      const next = this.queue.shift()!;
      this.ms = Math.max(this.ms, next.atMs);
      next.fn();
      fired++;
      await settle();
    }
    return fired;
  }
}
