/**
 * Helpers for the transaction machines' unit tests: messages whose handle is a readable
 * string, the two transports, and a driver that fires each machine's earliest timer at its
 * time, as an adapter's clock would.
 */
import { DEFAULT_TIMER_OPTIONS, type TimerName } from './timers.js';
import type {
  RunningTimers,
  StepResult,
  TransactionOptions,
  TxCommand,
  TxRequest,
  TxResponse,
} from './types.js';

export const UDP: TransactionOptions = { reliable: false, timers: DEFAULT_TIMER_OPTIONS };
export const TCP: TransactionOptions = { reliable: true, timers: DEFAULT_TIMER_OPTIONS };

export const BRANCH = 'z9hG4bK-test-1';
export const SENT_BY = 'pbx.example:5060';

export const request = (method: string, handle = method): TxRequest<string> => ({
  method,
  branch: BRANCH,
  sentBy: SENT_BY,
  handle,
});

export const response = (
  status: number,
  cseqMethod = 'INVITE',
  handle = String(status),
): TxResponse<string> => ({
  status,
  cseqMethod,
  branch: BRANCH,
  handle,
});

export interface Machine {
  readonly name: string;
  readonly timers: RunningTimers;
}

/** The running timer that fires first, if any. */
export function earliest(timers: RunningTimers): { name: TimerName; atMs: number } | undefined {
  let best: { name: TimerName; atMs: number } | undefined;
  for (const [name, t] of Object.entries(timers) as [TimerName, { atMs: number }][]) {
    if (best === undefined || t.atMs < best.atMs) best = { name, atMs: t.atMs };
  }
  return best;
}

export interface Fired<S> {
  readonly atMs: number;
  readonly name: TimerName;
  readonly state: S;
  readonly commands: readonly TxCommand<string>[];
}

/**
 * Fire the earliest timer again and again, each at its own time, until none is left (or
 * `limit` firings, so a machine that never settles fails the test instead of hanging it).
 */
export function fireAll<S extends Machine>(
  start: S,
  step: (s: S, e: { type: 'timer'; name: TimerName }, nowMs: number) => StepResult<S, string>,
  limit = 1000,
): Fired<S>[] {
  const out: Fired<S>[] = [];
  let state = start;
  for (let next = earliest(state.timers); next !== undefined; next = earliest(state.timers)) {
    if (out.length >= limit) throw new Error(`still ${state.name} with timers after ${limit} firings`);
    const r = step(state, { type: 'timer', name: next.name }, next.atMs);
    state = r.state;
    out.push({ atMs: next.atMs, name: next.name, state, commands: r.commands });
  }
  return out;
}

export const sends = (commands: readonly TxCommand<string>[]): string[] =>
  commands.flatMap((c) => (c.type === 'send' ? [c.message] : []));

/** Command builders, so a test's expected list reads like the diagram. */
export const cmd = {
  send: (message: string): TxCommand<string> => ({ type: 'send', message }),
  ack: (response: string, req = 'INVITE'): TxCommand<string> => ({
    type: 'send-ack',
    request: req,
    response,
  }),
  trying: (req = 'INVITE'): TxCommand<string> => ({ type: 'send-trying', request: req }),
  start: (name: TimerName, atMs: number): TxCommand<string> => ({ type: 'start-timer', name, atMs }),
  cancel: (name: TimerName): TxCommand<string> => ({ type: 'cancel-timer', name }),
  pass: (message: string): TxCommand<string> => ({ type: 'pass-to-tu', message }),
  timeout: { type: 'timeout' } as TxCommand<string>,
  transportError: { type: 'transport-error' } as TxCommand<string>,
  terminated: (reason: 'done' | 'timeout' | 'transport-error'): TxCommand<string> => ({
    type: 'terminated',
    reason,
  }),
};
