/**
 * The timers a pure SIP machine keeps running, and the start/cancel commands that say so, in
 * one object so the two cannot disagree. The transaction machines (transaction/effects.ts) and
 * the call legs (leg/step.ts) build each step on it.
 */

/** A running timer: when it fires and the interval it was armed with (resend timers double it). */
export interface ArmedTimer {
  readonly atMs: number;
  readonly intervalMs: number;
}

export type TimerCommand<N extends string> =
  | { readonly type: 'start-timer'; readonly name: N; readonly atMs: number }
  | { readonly type: 'cancel-timer'; readonly name: N };

/** A step's commands so far (`C`, which must include the timer commands) and its running timers. */
export class TimerSteps<N extends string, C> {
  readonly commands: Array<C | TimerCommand<N>> = [];
  protected readonly running: Partial<Record<N, ArmedTimer>>;

  constructor(
    timers: Readonly<Partial<Record<N, ArmedTimer>>>,
    readonly nowMs: number,
  ) {
    this.running = { ...timers };
  }

  /** Arm (or re-arm) a timer to fire `intervalMs` from now. */
  start(name: N, intervalMs: number): this {
    const atMs = this.nowMs + intervalMs;
    this.running[name] = { atMs, intervalMs };
    this.commands.push({ type: 'start-timer', name, atMs });
    return this;
  }

  /** Forget a timer that just fired: the adapter has nothing left to cancel. */
  fired(name: N): this {
    delete this.running[name];
    return this;
  }

  /** Cancel these timers where they are running. */
  cancel(...names: N[]): this {
    for (const name of names) {
      if (this.running[name] === undefined) continue;
      delete this.running[name];
      this.commands.push({ type: 'cancel-timer', name });
    }
    return this;
  }

  cancelAll(): this {
    return this.cancel(...(Object.keys(this.running) as N[]));
  }
}
