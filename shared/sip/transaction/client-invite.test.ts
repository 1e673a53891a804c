import { describe, expect, test } from 'vitest';
import { isDomainError } from '../../errors.js';
import {
  startClientInvite,
  stepClientInvite,
  type ClientInviteEvent,
  type ClientInviteState,
  type ClientInviteStateName,
} from './client-invite.js';
import { IllegalTransactionEvent } from './illegal-event.js';
import { cmd, fireAll, request, response, sends, TCP, UDP } from './testing.js';
import type { TransactionOptions, TxCommand } from './types.js';

type Ev = ClientInviteEvent<string>;
const res = (status: number): Ev => ({ type: 'response', response: response(status) });
const timer = (name: 'A' | 'B' | 'D' | 'M'): Ev => ({ type: 'timer', name });
const cancelSent: Ev = { type: 'cancel-sent' };
const transportError: Ev = { type: 'transport-error' };

/** The events (all at t=0) that bring a fresh transaction to each state. */
const PATHS: Record<string, Ev[]> = {
  calling: [],
  proceeding: [res(180)],
  'proceeding, cancel sent': [res(180), cancelSent],
  completed: [res(486)],
  accepted: [res(200)],
  terminated: [transportError],
};

function reach(from: string, options: TransactionOptions = UDP): ClientInviteState<string> {
  let { state } = startClientInvite(request('INVITE'), options, 0);
  for (const e of PATHS[from]!) state = stepClientInvite(state, e, 0).state;
  return state;
}

const NOW = 100;
const WAIT = 32_000; // 64*T1: B, M; and D on UDP

/** Every move of the machine over UDP: from, event, to, the commands in order. */
const MOVES: [string, string, Ev, ClientInviteStateName, TxCommand<string>[]][] = [
  ['calling', '100', res(100), 'proceeding', [cmd.cancel('A'), cmd.cancel('B'), cmd.pass('100')]],
  ['calling', '180', res(180), 'proceeding', [cmd.cancel('A'), cmd.cancel('B'), cmd.pass('180')]],
  [
    'calling',
    '200',
    res(200),
    'accepted',
    [cmd.cancel('A'), cmd.cancel('B'), cmd.pass('200'), cmd.start('M', NOW + WAIT)],
  ],
  [
    'calling',
    '486',
    res(486),
    'completed',
    [cmd.cancel('A'), cmd.cancel('B'), cmd.ack('486'), cmd.pass('486'), cmd.start('D', NOW + WAIT)],
  ],
  [
    'calling',
    '302',
    res(302),
    'completed',
    [cmd.cancel('A'), cmd.cancel('B'), cmd.ack('302'), cmd.pass('302'), cmd.start('D', NOW + WAIT)],
  ],
  ['calling', 'timer A', timer('A'), 'calling', [cmd.send('INVITE'), cmd.start('A', NOW + 1000)]],
  ['calling', 'timer B', timer('B'), 'terminated', [cmd.timeout, cmd.cancel('A'), cmd.terminated('timeout')]],
  [
    'calling',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('A'), cmd.cancel('B'), cmd.terminated('transport-error')],
  ],
  ['proceeding', '183', res(183), 'proceeding', [cmd.pass('183')]],
  ['proceeding', '200', res(200), 'accepted', [cmd.pass('200'), cmd.start('M', NOW + WAIT)]],
  ['proceeding', '603', res(603), 'completed', [cmd.ack('603'), cmd.pass('603'), cmd.start('D', NOW + WAIT)]],
  ['proceeding', 'cancel sent', cancelSent, 'proceeding', [cmd.start('B', NOW + WAIT)]],
  [
    'proceeding',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.terminated('transport-error')],
  ],
  ['proceeding, cancel sent', '180', res(180), 'proceeding', [cmd.pass('180')]],
  ['proceeding, cancel sent', 'cancel sent again', cancelSent, 'proceeding', []],
  [
    'proceeding, cancel sent',
    '487',
    res(487),
    'completed',
    [cmd.cancel('B'), cmd.ack('487'), cmd.pass('487'), cmd.start('D', NOW + WAIT)],
  ],
  [
    'proceeding, cancel sent',
    '200',
    res(200),
    'accepted',
    [cmd.cancel('B'), cmd.pass('200'), cmd.start('M', NOW + WAIT)],
  ],
  ['proceeding, cancel sent', 'timer B', timer('B'), 'terminated', [cmd.timeout, cmd.terminated('timeout')]],
  ['completed', 'resent 486', res(486), 'completed', [cmd.ack('486')]],
  ['completed', 'late 180', res(180), 'completed', []],
  ['completed', 'stray 200', res(200), 'completed', []],
  ['completed', 'cancel sent (raced)', cancelSent, 'completed', []],
  ['completed', 'timer D', timer('D'), 'terminated', [cmd.terminated('done')]],
  [
    'completed',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('D'), cmd.terminated('transport-error')],
  ],
  ['accepted', 'resent or forked 200', res(200), 'accepted', [cmd.pass('200')]],
  ['accepted', 'late 180', res(180), 'accepted', []],
  ['accepted', 'late 486', res(486), 'accepted', []],
  ['accepted', 'cancel sent (raced)', cancelSent, 'accepted', []],
  ['accepted', 'timer M', timer('M'), 'terminated', [cmd.terminated('done')]],
  [
    'accepted',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('M'), cmd.terminated('transport-error')],
  ],
];

/** Events a state refuses: the adapter or the TU got something wrong. */
const REFUSED: [string, string, Ev][] = [
  [
    'proceeding',
    'the 200 to its CANCEL (another transaction)',
    { type: 'response', response: response(200, 'CANCEL') },
  ],
  ['calling', 'cancel sent before any provisional', cancelSent],
  ['calling', 'timer D (not running)', timer('D')],
  ['proceeding', 'timer A (cancelled)', timer('A')],
  ['proceeding', 'timer B (not started)', timer('B')],
  ['completed', 'timer A', timer('A')],
  ['accepted', 'timer D', timer('D')],
  ['terminated', '200', res(200)],
  ['terminated', 'timer B', timer('B')],
  ['terminated', 'transport error', transportError],
  ['terminated', 'cancel sent', cancelSent],
];

describe('INVITE client transaction', () => {
  test('starting sends the INVITE and arms A (T1) and B (64*T1) on UDP', () => {
    const r = startClientInvite(request('INVITE'), UDP, 0);
    expect(r.state.name).toBe('calling');
    expect(r.commands).toEqual([cmd.send('INVITE'), cmd.start('A', 500), cmd.start('B', WAIT)]);
  });

  test.each(MOVES)('%s + %s -> %s', (from, _label, event, to, commands) => {
    const r = stepClientInvite(reach(from), event, NOW);
    expect(r.state.name).toBe(to);
    expect(r.commands).toEqual(commands);
  });

  test.each(REFUSED)('%s refuses %s, changing nothing', (from, _label, event) => {
    const state = reach(from);
    const copy = structuredClone(state);
    expect(() => stepClientInvite(state, event, NOW)).toThrow(IllegalTransactionEvent);
    expect(state).toEqual(copy);
  });

  test('on TCP nothing is resent and a 3xx-6xx ends the transaction at once (D = 0)', () => {
    const start = startClientInvite(request('INVITE'), TCP, 0);
    expect(start.commands).toEqual([cmd.send('INVITE'), cmd.start('B', WAIT)]);
    const r = stepClientInvite(start.state, res(486), NOW);
    expect(r.state).toMatchObject({ name: 'terminated', reason: 'done', timers: {} });
    expect(r.commands).toEqual([cmd.cancel('B'), cmd.ack('486'), cmd.pass('486'), cmd.terminated('done')]);
    // A 2xx still waits M on TCP: resent and forked 2xx come over other connections too.
    expect(stepClientInvite(reach('calling', TCP), res(200), NOW).commands).toEqual([
      cmd.cancel('B'),
      cmd.pass('200'),
      cmd.start('M', NOW + WAIT),
    ]);
  });

  test('over UDP with no answer the INVITE is resent at 0.5, 1, 2, 4, 8, 16 s intervals until B at 32 s', () => {
    const start = startClientInvite(request('INVITE'), UDP, 0);
    const fired = fireAll(start.state, stepClientInvite);
    const sentAt = [0, ...fired.filter((f) => sends(f.commands).length > 0).map((f) => f.atMs)];
    expect(sentAt).toEqual([0, 500, 1500, 3500, 7500, 15500, 31500]);
    expect(sentAt.slice(1).map((t, i) => t - sentAt[i]!)).toEqual([500, 1000, 2000, 4000, 8000, 16000]);
    const last = fired.at(-1)!;
    expect(last).toMatchObject({ atMs: 32_000, name: 'B', state: { name: 'terminated', reason: 'timeout' } });
    expect(last.commands).toEqual([cmd.timeout, cmd.cancel('A'), cmd.terminated('timeout')]);
  });

  test('a 2xx goes to the TU once per copy and is never acknowledged or resent by the transaction', () => {
    let { state } = startClientInvite(request('INVITE'), UDP, 0);
    const all: TxCommand<string>[] = [];
    for (const [e, t] of [
      [res(180), 100],
      [res(200), 200],
      [res(200), 700],
      [res(200), 1700],
    ] as const) {
      const r = stepClientInvite(state, e, t);
      state = r.state;
      all.push(...r.commands);
    }
    const fired = fireAll(state, stepClientInvite);
    all.push(...fired.flatMap((f) => f.commands));
    expect(all.filter((c) => c.type === 'pass-to-tu' && c.message === '200')).toHaveLength(3);
    expect(all.some((c) => c.type === 'send-ack')).toBe(false);
    expect(all.filter((c) => c.type === 'send')).toEqual([]); // INVITE sent at start only
    expect(fired.at(-1)).toMatchObject({
      atMs: 200 + WAIT,
      name: 'M',
      state: { name: 'terminated', reason: 'done' },
    });
  });

  test('refuses to start on anything but INVITE, and a response with no SIP status', () => {
    for (const method of ['BYE', 'ACK']) {
      expect(() => startClientInvite(request(method), UDP, 0)).toThrow(/request\.method: .*not/);
    }
    for (const status of [99, 700, 200.5]) {
      try {
        stepClientInvite(reach('calling'), res(status), NOW);
        expect.unreachable();
      } catch (e) {
        expect(isDomainError(e, 'invalid-argument') && e.field).toBe('response.status');
      }
    }
  });
});
