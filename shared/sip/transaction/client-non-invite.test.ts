import { describe, expect, test } from 'vitest';
import {
  startClientNonInvite,
  stepClientNonInvite,
  type ClientNonInviteEvent,
  type ClientNonInviteState,
  type ClientNonInviteStateName,
} from './client-non-invite.js';
import { IllegalTransactionEvent } from './illegal-event.js';
import { cmd, fireAll, request, response, sends, TCP, UDP } from './testing.js';
import type { TransactionOptions, TxCommand } from './types.js';

type Ev = ClientNonInviteEvent<string>;
const res = (status: number): Ev => ({ type: 'response', response: response(status, 'BYE') });
const timer = (name: 'E' | 'F' | 'K'): Ev => ({ type: 'timer', name });
const transportError: Ev = { type: 'transport-error' };

const PATHS: Record<string, Ev[]> = {
  trying: [],
  proceeding: [res(100)],
  completed: [res(200)],
  terminated: [transportError],
};

function reach(from: string, options: TransactionOptions = UDP): ClientNonInviteState<string> {
  let { state } = startClientNonInvite(request('BYE'), options, 0);
  for (const e of PATHS[from]!) state = stepClientNonInvite(state, e, 0).state;
  return state;
}

const NOW = 500; // when E first fires on UDP

const MOVES: [string, string, Ev, ClientNonInviteStateName, TxCommand<string>[]][] = [
  ['trying', '100', res(100), 'proceeding', [cmd.pass('100')]],
  [
    'trying',
    '200',
    res(200),
    'completed',
    [cmd.pass('200'), cmd.cancel('E'), cmd.cancel('F'), cmd.start('K', NOW + 5000)],
  ],
  [
    'trying',
    '481',
    res(481),
    'completed',
    [cmd.pass('481'), cmd.cancel('E'), cmd.cancel('F'), cmd.start('K', NOW + 5000)],
  ],
  ['trying', 'timer E', timer('E'), 'trying', [cmd.send('BYE'), cmd.start('E', NOW + 1000)]],
  ['trying', 'timer F', timer('F'), 'terminated', [cmd.timeout, cmd.cancel('E'), cmd.terminated('timeout')]],
  [
    'trying',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('E'), cmd.cancel('F'), cmd.terminated('transport-error')],
  ],
  ['proceeding', '180', res(180), 'proceeding', [cmd.pass('180')]],
  [
    'proceeding',
    '200',
    res(200),
    'completed',
    [cmd.pass('200'), cmd.cancel('E'), cmd.cancel('F'), cmd.start('K', NOW + 5000)],
  ],
  [
    'proceeding',
    'timer E (resent every T2)',
    timer('E'),
    'proceeding',
    [cmd.send('BYE'), cmd.start('E', NOW + 4000)],
  ],
  [
    'proceeding',
    'timer F',
    timer('F'),
    'terminated',
    [cmd.timeout, cmd.cancel('E'), cmd.terminated('timeout')],
  ],
  [
    'proceeding',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('E'), cmd.cancel('F'), cmd.terminated('transport-error')],
  ],
  ['completed', 'resent 200', res(200), 'completed', []],
  ['completed', 'late 100', res(100), 'completed', []],
  ['completed', 'timer K', timer('K'), 'terminated', [cmd.terminated('done')]],
  [
    'completed',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('K'), cmd.terminated('transport-error')],
  ],
];

const REFUSED: [string, string, Ev][] = [
  ['trying', 'a response to another method', { type: 'response', response: response(200, 'INVITE') }],
  ['trying', 'timer K (not running)', timer('K')],
  ['completed', 'timer E (cancelled)', timer('E')],
  ['completed', 'timer F (cancelled)', timer('F')],
  ['terminated', '200', res(200)],
  ['terminated', 'timer E', timer('E')],
  ['terminated', 'transport error', transportError],
];

describe('non-INVITE client transaction', () => {
  test('starting sends the request and arms E (T1) and F (64*T1) on UDP, only F on TCP', () => {
    expect(startClientNonInvite(request('BYE'), UDP, 0).commands).toEqual([
      cmd.send('BYE'),
      cmd.start('E', 500),
      cmd.start('F', 32_000),
    ]);
    expect(startClientNonInvite(request('BYE'), TCP, 0).commands).toEqual([
      cmd.send('BYE'),
      cmd.start('F', 32_000),
    ]);
  });

  test.each(MOVES)('%s + %s -> %s', (from, _label, event, to, commands) => {
    const r = stepClientNonInvite(reach(from), event, NOW);
    expect(r.state.name).toBe(to);
    expect(r.commands).toEqual(commands);
  });

  test.each(REFUSED)('%s refuses %s, changing nothing', (from, _label, event) => {
    const state = reach(from);
    const copy = structuredClone(state);
    expect(() => stepClientNonInvite(state, event, NOW)).toThrow(IllegalTransactionEvent);
    expect(state).toEqual(copy);
  });

  test('on TCP a final ends the transaction at once (K = 0)', () => {
    const r = stepClientNonInvite(reach('trying', TCP), res(200), NOW);
    expect(r.state).toMatchObject({ name: 'terminated', reason: 'done', timers: {} });
    expect(r.commands).toEqual([cmd.pass('200'), cmd.cancel('F'), cmd.terminated('done')]);
  });

  test('over UDP with no answer the request is resent at intervals doubling from T1 up to T2, until F at 32 s', () => {
    const fired = fireAll(reach('trying'), stepClientNonInvite);
    const sentAt = [0, ...fired.filter((f) => sends(f.commands).length > 0).map((f) => f.atMs)];
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    expect(gaps).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
    expect(fired.at(-1)).toMatchObject({
      atMs: 32_000,
      name: 'F',
      state: { name: 'terminated', reason: 'timeout' },
    });
  });

  test('refuses to start on INVITE or ACK', () => {
    for (const method of ['INVITE', 'ACK']) {
      expect(() => startClientNonInvite(request(method), UDP, 0)).toThrow(/request\.method: /);
    }
  });
});
