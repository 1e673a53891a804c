import { describe, expect, test } from 'vitest';
import { IllegalTransactionEvent } from './illegal-event.js';
import {
  startServerInvite,
  stepServerInvite,
  type ServerInviteEvent,
  type ServerInviteState,
  type ServerInviteStateName,
} from './server-invite.js';
import { cmd, fireAll, request, response, sends, TCP, UDP } from './testing.js';
import type { TransactionOptions, TxCommand } from './types.js';

type Ev = ServerInviteEvent<string>;
const invite: Ev = { type: 'request', request: request('INVITE', 'INVITE again') };
const ack: Ev = { type: 'request', request: request('ACK') };
const tu = (status: number): Ev => ({ type: 'tu-response', response: response(status) });
const timer = (name: 'G' | 'H' | 'I' | 'L'): Ev => ({ type: 'timer', name });
const transportError: Ev = { type: 'transport-error' };

const PATHS: Record<string, Ev[]> = {
  proceeding: [],
  'proceeding, 180 sent': [tu(180)],
  completed: [tu(486)],
  confirmed: [tu(486), ack],
  accepted: [tu(200)],
  terminated: [transportError],
};

function reach(from: string, options: TransactionOptions = UDP): ServerInviteState<string> {
  let { state } = startServerInvite(request('INVITE'), options, 0);
  for (const e of PATHS[from]!) state = stepServerInvite(state, e, 0).state;
  return state;
}

const NOW = 500; // when G first fires on UDP
const WAIT = 32_000;

const MOVES: [string, string, Ev, ServerInviteStateName, TxCommand<string>[]][] = [
  ['proceeding', 'resent INVITE before any 1xx from the TU', invite, 'proceeding', [cmd.trying()]],
  ['proceeding', 'stray ACK', ack, 'proceeding', []],
  ['proceeding', '180 from TU', tu(180), 'proceeding', [cmd.send('180')]],
  ['proceeding', '200 from TU', tu(200), 'accepted', [cmd.send('200'), cmd.start('L', NOW + WAIT)]],
  [
    'proceeding',
    '486 from TU',
    tu(486),
    'completed',
    [cmd.send('486'), cmd.start('G', NOW + 500), cmd.start('H', NOW + WAIT)],
  ],
  [
    'proceeding',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.terminated('transport-error')],
  ],
  ['proceeding, 180 sent', 'resent INVITE', invite, 'proceeding', [cmd.send('180')]],
  ['proceeding, 180 sent', '183 from TU', tu(183), 'proceeding', [cmd.send('183')]],
  [
    'proceeding, 180 sent',
    '603 from TU',
    tu(603),
    'completed',
    [cmd.send('603'), cmd.start('G', NOW + 500), cmd.start('H', NOW + WAIT)],
  ],
  ['completed', 'resent INVITE', invite, 'completed', [cmd.send('486')]],
  ['completed', 'timer G', timer('G'), 'completed', [cmd.send('486'), cmd.start('G', NOW + 1000)]],
  ['completed', 'ACK', ack, 'confirmed', [cmd.cancel('G'), cmd.cancel('H'), cmd.start('I', NOW + 5000)]],
  [
    'completed',
    'timer H',
    timer('H'),
    'terminated',
    [cmd.timeout, cmd.cancel('G'), cmd.terminated('timeout')],
  ],
  [
    'completed',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('G'), cmd.cancel('H'), cmd.terminated('transport-error')],
  ],
  ['confirmed', 'resent ACK', ack, 'confirmed', []],
  ['confirmed', 'resent INVITE', invite, 'confirmed', []],
  ['confirmed', 'timer I', timer('I'), 'terminated', [cmd.terminated('done')]],
  [
    'confirmed',
    'transport error',
    transportError,
    'terminated',
    [cmd.transportError, cmd.cancel('I'), cmd.terminated('transport-error')],
  ],
  ['accepted', 'resent INVITE (absorbed)', invite, 'accepted', []],
  ['accepted', 'ACK with the INVITE branch', ack, 'accepted', [cmd.pass('ACK')]],
  ['accepted', '200 resent by the TU', tu(200), 'accepted', [cmd.send('200')]],
  ['accepted', 'timer L', timer('L'), 'terminated', [cmd.terminated('done')]],
  ['accepted', 'transport error (kept)', transportError, 'accepted', [cmd.transportError]],
];

const REFUSED: [string, string, Ev][] = [
  ['proceeding', 'timer G (not running)', timer('G')],
  ['proceeding', 'a CANCEL (its own transaction)', { type: 'request', request: request('CANCEL') }],
  ['completed', 'a second final from the TU', tu(500)],
  ['completed', 'a 2xx after a 3xx-6xx', tu(200)],
  ['confirmed', 'timer G (cancelled)', timer('G')],
  ['confirmed', 'a response from the TU', tu(180)],
  ['accepted', 'a 3xx-6xx after the 2xx', tu(486)],
  ['accepted', 'a 1xx after the 2xx', tu(180)],
  ['terminated', 'resent INVITE', invite],
  ['terminated', 'timer L', timer('L')],
  ['terminated', 'transport error', transportError],
];

describe('INVITE server transaction', () => {
  test('starting passes the INVITE to the TU and sends 100 Trying', () => {
    const r = startServerInvite(request('INVITE'), UDP, 0);
    expect(r.state.name).toBe('proceeding');
    expect(r.commands).toEqual([cmd.pass('INVITE'), cmd.trying()]);
  });

  test.each(MOVES)('%s + %s -> %s', (from, _label, event, to, commands) => {
    const r = stepServerInvite(reach(from), event, NOW);
    expect(r.state.name).toBe(to);
    expect(r.commands).toEqual(commands);
  });

  test.each(REFUSED)('%s refuses %s, changing nothing', (from, _label, event) => {
    const state = reach(from);
    const copy = structuredClone(state);
    expect(() => stepServerInvite(state, event, NOW)).toThrow(IllegalTransactionEvent);
    expect(state).toEqual(copy);
  });

  test('with no ACK over UDP the final is resent at intervals doubling from T1 up to T2, until H at 32 s', () => {
    const fired = fireAll(reach('completed'), stepServerInvite);
    const sentAt = [0, ...fired.filter((f) => sends(f.commands).length > 0).map((f) => f.atMs)];
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    expect(gaps).toEqual([500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000]);
    expect(fired.at(-1)).toMatchObject({
      atMs: WAIT,
      name: 'H',
      state: { name: 'terminated', reason: 'timeout' },
    });
    expect(fired.at(-1)!.commands).toEqual([cmd.timeout, cmd.cancel('G'), cmd.terminated('timeout')]);
  });

  test('a 2xx is sent once: the transaction never resends it, only the TU does (RFC 6026 Accepted)', () => {
    const accepted = reach('accepted');
    const fired = fireAll(accepted, stepServerInvite);
    expect(fired.map((f) => f.name)).toEqual(['L']);
    expect(fired.flatMap((f) => sends(f.commands))).toEqual([]);
    // A resent INVITE meanwhile is absorbed: neither answered nor passed up as a new call.
    expect(stepServerInvite(accepted, invite, 1000).commands).toEqual([]);
  });

  test('on TCP nothing is resent and the ACK ends the transaction at once (I = 0)', () => {
    const completed = stepServerInvite(reach('proceeding', TCP), tu(486), NOW);
    expect(completed.commands).toEqual([cmd.send('486'), cmd.start('H', NOW + WAIT)]);
    const r = stepServerInvite(completed.state, ack, NOW + 10);
    expect(r.state).toMatchObject({ name: 'terminated', reason: 'done', timers: {} });
    expect(r.commands).toEqual([cmd.cancel('H'), cmd.terminated('done')]);
  });

  test('refuses to start on anything but INVITE', () => {
    for (const method of ['ACK', 'BYE']) {
      expect(() => startServerInvite(request(method), UDP, 0)).toThrow(/request\.method: /);
    }
  });
});
