/**
 * What one step of a transaction machine produces: the commands, in order, and the timers
 * left running. The machines build it through these few moves so that the timer table in
 * the state and the start/cancel commands cannot disagree, and so that reaching Terminated
 * always cancels every running timer before saying `terminated`.
 */
import { IllegalTransactionEvent, type MachineName } from './illegal-event.js';
import type { TimerName } from './timers.js';
import type { RunningTimers, TerminationReason, TxCommand } from './types.js';

export class Effects<H> {
  readonly commands: TxCommand<H>[] = [];
  private running: Partial<Record<TimerName, { atMs: number; intervalMs: number }>>;

  constructor(
    timers: RunningTimers,
    private readonly nowMs: number,
  ) {
    this.running = { ...timers };
  }

  get timers(): RunningTimers {
    return this.running;
  }

  send(message: H): this {
    this.commands.push({ type: 'send', message });
    return this;
  }

  passToTu(message: H): this {
    this.commands.push({ type: 'pass-to-tu', message });
    return this;
  }

  push(command: TxCommand<H>): this {
    this.commands.push(command);
    return this;
  }

  /** Arm (or re-arm) a timer to fire `intervalMs` from now. */
  start(name: TimerName, intervalMs: number): this {
    const atMs = this.nowMs + intervalMs;
    this.running[name] = { atMs, intervalMs };
    this.commands.push({ type: 'start-timer', name, atMs });
    return this;
  }

  /** Forget a timer that just fired: the adapter has nothing left to cancel. */
  fired(name: TimerName): this {
    delete this.running[name];
    return this;
  }

  /** Cancel these timers where they are running. */
  cancel(...names: TimerName[]): this {
    for (const name of names) {
      if (this.running[name] === undefined) continue;
      delete this.running[name];
      this.commands.push({ type: 'cancel-timer', name });
    }
    return this;
  }

  cancelAll(): this {
    return this.cancel(...(Object.keys(this.running) as TimerName[]));
  }

  /** Cancel what is left and end: `terminated` is always the last command. */
  terminate(reason: TerminationReason): this {
    this.cancelAll();
    this.commands.push({ type: 'terminated', reason });
    return this;
  }
}

/**
 * The one guard of every machine: `accepts` lists, per state, the event types that state
 * takes (the machine's diagram as a table). An event outside it, or a timer that is not
 * running, is refused with IllegalTransactionEvent before anything changes.
 */
export function guard<S extends string, E extends string>(
  machine: MachineName,
  state: S,
  accepts: Readonly<Record<S, readonly E[]>>,
  event: { readonly type: E; readonly name?: TimerName },
  timers: RunningTimers,
): void {
  const label = event.type === 'timer' ? `timer ${event.name ?? '?'}` : event.type;
  if (!accepts[state].includes(event.type)) {
    const why =
      state === 'terminated' ? 'the transaction is over' : `${state} takes ${accepts[state].join(', ')}`;
    throw new IllegalTransactionEvent(machine, state, label, why);
  }
  if (event.type === 'timer' && (event.name === undefined || timers[event.name] === undefined)) {
    throw new IllegalTransactionEvent(machine, state, label, 'that timer is not running');
  }
}
