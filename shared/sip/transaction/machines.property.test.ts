/**
 * Seeded random event sequences against all four machines (shared/random.ts, so a failure
 * names the seed that reproduces it). After every step: the state is one of the machine's
 * states, the timers the state says are running are exactly those the commands started and
 * did not cancel (as an adapter would hold them), and Terminated leaves none. Once events
 * stop and the TU has done its part (answered what it received, cancelled an INVITE still
 * ringing), every transaction ends within 64*T1 of the last event, by its timers alone.
 */
import { describe, expect, test } from 'vitest';
import { isDomainError } from '../../errors.js';
import { Random } from '../../random.js';
import { startClientInvite, stepClientInvite } from './client-invite.js';
import { startClientNonInvite, stepClientNonInvite } from './client-non-invite.js';
import { IllegalTransactionEvent } from './illegal-event.js';
import { startServerInvite, stepServerInvite } from './server-invite.js';
import { startServerNonInvite, stepServerNonInvite } from './server-non-invite.js';
import { earliest, request, response, TCP, UDP, type Machine } from './testing.js';
import { TIMER_NAMES, type TimerName } from './timers.js';
import type { StepResult, TransactionOptions, TxCommand } from './types.js';

/** What the harness needs of a machine; events are built loosely and cast, as illegal ones are wanted too. */
interface Subject {
  readonly machine: string;
  readonly states: readonly string[];
  start(options: TransactionOptions): StepResult<Machine, string>;
  step(state: Machine, event: unknown, nowMs: number): StepResult<Machine, string>;
  /** An event from the network or the TU, legal or not. */
  randomEvent(rng: Random): unknown;
  /** What the TU still owes this state so it can end (an answer, a CANCEL), if anything. */
  owed(state: Machine): unknown;
}

const STATUSES = [100, 180, 183, 200, 202, 302, 404, 486, 487, 500, 603];
const status = (rng: Random) => rng.pick(STATUSES);

const SUBJECTS: Subject[] = [
  {
    machine: 'client-invite',
    states: ['calling', 'proceeding', 'completed', 'accepted', 'terminated'],
    start: (o) => startClientInvite(request('INVITE'), o, 0),
    step: (s, e, now) => stepClientInvite(s as never, e as never, now),
    randomEvent: (rng) =>
      rng.pick([
        () => ({ type: 'response', response: response(status(rng)) }),
        () => ({ type: 'cancel-sent' }),
        () => ({ type: 'transport-error' }),
      ])(),
    owed: (s) => (s.name === 'proceeding' && s.timers.B === undefined ? { type: 'cancel-sent' } : undefined),
  },
  {
    machine: 'client-non-invite',
    states: ['trying', 'proceeding', 'completed', 'terminated'],
    start: (o) => startClientNonInvite(request('BYE'), o, 0),
    step: (s, e, now) => stepClientNonInvite(s as never, e as never, now),
    randomEvent: (rng) =>
      rng.pick([
        () => ({ type: 'response', response: response(status(rng), 'BYE') }),
        () => ({ type: 'transport-error' }),
      ])(),
    owed: () => undefined,
  },
  {
    machine: 'server-invite',
    states: ['proceeding', 'completed', 'confirmed', 'accepted', 'terminated'],
    start: (o) => startServerInvite(request('INVITE'), o, 0),
    step: (s, e, now) => stepServerInvite(s as never, e as never, now),
    randomEvent: (rng) =>
      rng.pick([
        () => ({ type: 'request', request: request(rng.pick(['INVITE', 'ACK', 'ACK', 'CANCEL'])) }),
        () => ({ type: 'tu-response', response: response(status(rng)) }),
        () => ({ type: 'transport-error' }),
      ])(),
    owed: (s) => (s.name === 'proceeding' ? { type: 'tu-response', response: response(486) } : undefined),
  },
  {
    machine: 'server-non-invite',
    states: ['trying', 'proceeding', 'completed', 'terminated'],
    start: (o) => startServerNonInvite(request('BYE'), o, 0),
    step: (s, e, now) => stepServerNonInvite(s as never, e as never, now),
    randomEvent: (rng) =>
      rng.pick([
        () => ({ type: 'request', request: request(rng.pick(['BYE', 'BYE', 'OPTIONS'])) }),
        () => ({ type: 'tu-response', response: response(status(rng), 'BYE') }),
        () => ({ type: 'transport-error' }),
      ])(),
    owed: (s) =>
      s.name === 'trying' || s.name === 'proceeding'
        ? { type: 'tu-response', response: response(200, 'BYE') }
        : undefined,
  },
];

/** One run of one machine: the adapter's side, checking the machine after every step. */
class Run {
  state: Machine;
  now = 0;
  lastEventAt = 0;
  terminatedCount = 0;
  /** The timers as an adapter holds them: started by commands, dropped when cancelled or fired. */
  readonly armed = new Map<TimerName, number>();

  constructor(
    private readonly subject: Subject,
    options: TransactionOptions,
    private readonly where: string,
  ) {
    const r = subject.start(options);
    this.state = r.state;
    this.apply(r.commands);
  }

  private apply(commands: readonly TxCommand<string>[]): void {
    const at = `${this.where} at ${this.now} ms in ${this.state.name}`;
    for (const [i, c] of commands.entries()) {
      if (c.type === 'start-timer') {
        expect(c.atMs, `${at}: timer ${c.name} armed in the past`).toBeGreaterThanOrEqual(this.now);
        this.armed.set(c.name, c.atMs);
      } else if (c.type === 'cancel-timer') {
        expect(this.armed.has(c.name), `${at}: cancels ${c.name}, which is not running`).toBe(true);
        this.armed.delete(c.name);
      } else if (c.type === 'terminated') {
        expect(i, `${at}: terminated is not the last command`).toBe(commands.length - 1);
        this.terminatedCount++;
      }
    }
    expect(this.subject.states, at).toContain(this.state.name);
    const running = Object.fromEntries(Object.entries(this.state.timers).map(([n, t]) => [n, t.atMs]));
    expect(running, `${at}: the state's timers differ from the commands'`).toEqual(
      Object.fromEntries(this.armed),
    );
    if (this.state.name === 'terminated') {
      expect(this.armed.size, `${at}: timers left running after terminated`).toBe(0);
      expect(this.terminatedCount, `${at}: terminated said ${this.terminatedCount} times`).toBe(1);
    } else {
      expect(this.terminatedCount, `${at}: said terminated but is ${this.state.name}`).toBe(0);
    }
  }

  /** Feed one event; a refused event must be a typed error and change nothing. */
  feed(event: unknown): void {
    if (event && (event as { type: string }).type === 'timer')
      this.armed.delete((event as { name: TimerName }).name);
    const before = structuredClone(this.state);
    const armedBefore = new Map(this.armed);
    try {
      const r = this.subject.step(this.state, event, this.now);
      this.state = r.state;
      this.apply(r.commands);
    } catch (e) {
      if (!(e instanceof IllegalTransactionEvent) && !isDomainError(e, 'invalid-argument')) throw e;
      expect(this.state).toEqual(before);
      this.armed.clear();
      for (const [k, v] of armedBefore) this.armed.set(k, v);
    }
  }

  /** Fire, in order, every timer due by `t`, then move the clock to `t`. */
  advanceTo(t: number): void {
    for (let next = earliest(this.state.timers); next && next.atMs <= t; next = earliest(this.state.timers)) {
      this.now = next.atMs;
      this.feed({ type: 'timer', name: next.name });
    }
    this.now = t;
  }
}

describe.each(SUBJECTS)('$machine under random events', (subject) => {
  test('never leaves its states, keeps its timers honest, and ends within 64*T1 once events stop', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = new Random(seed);
      const options = rng.chance(0.5) ? UDP : TCP;
      const run = new Run(subject, options, `seed ${seed} (${options.reliable ? 'TCP' : 'UDP'})`);
      const events = rng.int(0, 12);
      for (let i = 0; i < events && run.state.name !== 'terminated'; i++) {
        run.advanceTo(run.now + rng.int(0, 3000));
        const roll = rng.next();
        if (roll < 0.1)
          run.feed({ type: 'timer', name: rng.pick(TIMER_NAMES) }); // often not running: refused
        else if (roll < 0.2) run.feed({ type: 'transport-error' });
        else run.feed(subject.randomEvent(rng));
        run.lastEventAt = run.now;
      }
      // Events stop; the TU does what it owes, then only timers fire.
      const owed = run.state.name === 'terminated' ? undefined : subject.owed(run.state);
      if (owed !== undefined) {
        run.feed(owed);
        run.lastEventAt = run.now;
      }
      run.advanceTo(run.lastEventAt + 64 * options.timers.t1Ms);
      expect(run.state.name, `seed ${seed}: still running 64*T1 after the last event`).toBe('terminated');
      expect(Object.keys(run.state.timers)).toEqual([]);
    }
  });
});
