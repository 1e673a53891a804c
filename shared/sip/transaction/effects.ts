/**
 * What one step of a transaction machine produces: the commands, in order, and the timers
 * left running. The machines build it through these few moves so that the timer table in
 * the state and the start/cancel commands cannot disagree, and so that reaching Terminated
 * always cancels every running timer before saying `terminated`.
 */
import { IllegalTransactionEvent, type MachineName } from './illegal-event.js';
import type { TimerName } from './timers.js';
import type { RunningTimers, TerminationReason, TxCommand } from './types.js';
import { TimerSteps } from '../timer-steps.js';

export class Effects<H> extends TimerSteps<TimerName, TxCommand<H>> {
  declare readonly commands: TxCommand<H>[];

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
