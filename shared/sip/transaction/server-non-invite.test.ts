import { describe, expect, test } from 'vitest';
import { IllegalTransactionEvent } from './illegal-event.js';
import {
  startServerNonInvite,
  stepServerNonInvite,
  type ServerNonInviteEvent,
  type ServerNonInviteState,
  type ServerNonInviteStateName,
} from './server-non-invite.js';
import { cmd, fireAll, request, response, sends, TCP, UDP } from './testing.js';
import type { TransactionOptions, TxCommand } from './types.js';

type Ev = ServerNonInviteEvent<string>;
const resent: Ev = { type: 'request', request: request('BYE', 'BYE again') };
const tu = (status: number): Ev => ({ type: 'tu-response', response: response(status, 'BYE') });
const transportError: Ev = { type: 'transport-error' };

const PATHS: Record<string, Ev[]> = {
  trying: [],
  proceeding: [tu(100)],
  completed: [tu(100), tu(200)],
  terminated: [transportError],
};

function reach(from: string, options: TransactionOptions = UDP): ServerNonInviteState<string> {
  let { state } = startServerNonInvite(request('BYE'), options, 0);
  for (const e of PATHS[from]!) state = stepServerNonInvite(state, e, 0).state;
  return state;
}

const NOW = 100;

const MOVES: [string, string, Ev, ServerNonInviteStateName, TxCommand<string>[]][] = [
  ['trying', 'resent request (absorbed)', resent, 'trying', []],
  ['trying', '100 from TU', tu(100), 'proceeding', [cmd.send('100')]],
  ['trying', '200 from TU', tu(200), 'completed', [cmd.send('200'), cmd.start('J', NOW + 32_000)]],
  ['trying', '404 from TU', tu(404), 'completed', [cmd.send('404'), cmd.start('J', NOW + 32_000)]],
  [
    'trying',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.terminated('transport-error')],
  ],
  ['proceeding', 'resent request', resent, 'proceeding', [cmd.send('100')]],
  ['proceeding', '183 from TU', tu(183), 'proceeding', [cmd.send('183')]],
  ['proceeding', '200 from TU', tu(200), 'completed', [cmd.send('200'), cmd.start('J', NOW + 32_000)]],
  [
    'proceeding',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.terminated('transport-error')],
  ],
  ['completed', 'resent request', resent, 'completed', [cmd.send('200')]],
  ['completed', 'timer J', { type: 'timer', name: 'J' }, 'terminated', [cmd.terminated('done')]],
  [
    'completed',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('J'), cmd.terminated('transport-error')],
  ],
];

const REFUSED: [string, string, Ev][] = [
  ['trying', 'timer J (not running)', { type: 'timer', name: 'J' }],
  ['proceeding', 'a different method', { type: 'request', request: request('CANCEL') }],
  ['completed', 'a second final from the TU', tu(500)],
  ['completed', 'a provisional after the final', tu(180)],
  ['terminated', 'resent request', resent],
  ['terminated', '200 from TU', tu(200)],
  ['terminated', 'transport error', transportError],
];

describe('non-INVITE server transaction', () => {
  test('starting passes the request to the TU and sends nothing', () => {
    const r = startServerNonInvite(request('BYE'), UDP, 0);
    expect(r.state.name).toBe('trying');
    expect(r.commands).toEqual([cmd.pass('BYE')]);
  });

  test.each(MOVES)('%s + %s -> %s', (from, _label, event, to, commands) => {
    const r = stepServerNonInvite(reach(from), event, NOW);
    expect(r.state.name).toBe(to);
    expect(r.commands).toEqual(commands);
  });

  test.each(REFUSED)('%s refuses %s, changing nothing', (from, _label, event) => {
    const state = reach(from);
    const copy = structuredClone(state);
    expect(() => stepServerNonInvite(state, event, NOW)).toThrow(IllegalTransactionEvent);
    expect(state).toEqual(copy);
  });

  test('every resent request gets the last response again, and none reaches the TU', () => {
    let { state } = startServerNonInvite(request('OPTIONS'), UDP, 0);
    const out: TxCommand<string>[] = [];
    const events: [Ev, number][] = [
      [{ type: 'request', request: request('OPTIONS') }, 500],
      [{ type: 'tu-response', response: response(200, 'OPTIONS') }, 600],
      [{ type: 'request', request: request('OPTIONS') }, 1500],
      [{ type: 'request', request: request('OPTIONS') }, 3500],
    ];
    for (const [e, t] of events) {
      const r = stepServerNonInvite(state, e, t);
      state = r.state;
      out.push(...r.commands);
    }
    expect(sends(out)).toEqual(['200', '200', '200']);
    expect(out.some((c) => c.type === 'pass-to-tu')).toBe(false);
    expect(fireAll(state, stepServerNonInvite).at(-1)).toMatchObject({ atMs: 600 + 32_000, name: 'J' });
  });

  test('on TCP the final ends the transaction at once (J = 0)', () => {
    const r = stepServerNonInvite(reach('trying', TCP), tu(200), NOW);
    expect(r.state).toMatchObject({ name: 'terminated', reason: 'done', timers: {} });
    expect(r.commands).toEqual([cmd.send('200'), cmd.terminated('done')]);
  });

  test('refuses to start on INVITE or ACK', () => {
    for (const method of ['INVITE', 'ACK']) {
      expect(() => startServerNonInvite(request(method), UDP, 0)).toThrow(/request\.method: /);
    }
  });
});
