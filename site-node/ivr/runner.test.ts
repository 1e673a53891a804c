/** The pure runner, one node kind at a time: feed events, check commands and state. */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { Secret } from '../../shared/bank-host/pin.js';
import { type Flow, loadPromptCatalogueFile, parseFlow } from './flow.js';
import { ivrStep, newIvrState } from './runner.js';
import { DEMO_PROFILES, PROMPTS_FILE } from './test-support.js';
import type { CustomerProfile } from '../../shared/domain/customer.js';
import type { IvrCommand, IvrEvent, IvrState } from './types.js';

const catalogue = loadPromptCatalogueFile(PROMPTS_FILE);
const NOW = 1_000_000;

function flowOf(
  nodes: Record<string, unknown>,
  start = Object.keys(nodes)[0]!,
  settings: Record<string, unknown> = {},
): Flow {
  return parseFlow({ id: 't', start, settings, nodes }, { catalogue }).flow;
}

/** Feeds events in order; returns the final state and every command issued. */
function drive(flow: Flow, events: IvrEvent[], state: IvrState = newIvrState('s1')) {
  const all: IvrCommand[][] = [];
  for (const e of events) {
    const r = ivrStep(flow, state, e, NOW);
    state = r.state;
    all.push(r.commands);
  }
  return { state, cmds: all, last: all[all.length - 1] ?? [] };
}

const start = (ani = '13800000001', customer: CustomerProfile | null = DEMO_PROFILES[0]!): IvrEvent => ({
  type: 'call-started',
  ani,
  dnis: '95588',
  ...(customer ? { customer } : {}),
});
const d = (digits: string): IvrEvent => ({ type: 'digits', digits });
const types = (cmds: IvrCommand[]) => cmds.map((c) => c.type);
const played = (cmds: IvrCommand[]) => cmds.flatMap((c) => (c.type === 'play' ? [c.promptId] : []));

const end = { bye: { kind: 'hangup', reason: 'done' }, agent: { kind: 'transfer', queue: 'retail' } };

describe('state machine guards', () => {
  const flow = flowOf({
    m: { kind: 'menu', prompt: 'main.menu', options: { '1': 'bye' }, onMaxRetries: 'agent' },
    ...end,
  });
  test('idle ignores everything but call-started; a finished call ignores everything', () => {
    const s0 = newIvrState('s1');
    assert.deepEqual(ivrStep(flow, s0, d('1'), NOW), { state: s0, commands: [] });
    const { state } = drive(flow, [start(), d('1')]);
    assert.equal(state.status, 'ended');
    assert.deepEqual(ivrStep(flow, state, d('1'), NOW).commands, []);
  });
  test('the runner does not mutate its input state', () => {
    const s0 = newIvrState('s1');
    const frozen = JSON.stringify(s0);
    ivrStep(flow, s0, start(), NOW);
    assert.equal(JSON.stringify(s0), frozen);
  });
  test('caller hang-up ends the call', () => {
    const { state, last } = drive(flow, [start(), { type: 'caller-hung-up' }]);
    assert.equal(state.status, 'ended');
    assert.equal(state.endReason, 'caller-hung-up');
    assert.deepEqual(last, []);
  });
});

describe('menu', () => {
  const flow = flowOf({
    m: {
      kind: 'menu',
      prompt: 'main.menu',
      options: { '1': { next: 'bye', intent: 'quit' } },
      onMaxRetries: 'agent',
      retries: 2,
    },
    ...end,
  });
  test('plays the prompt and collects one digit', () => {
    const { last } = drive(flow, [start()]);
    assert.deepEqual(last, [
      { type: 'play', promptId: 'main.menu' },
      { type: 'collect-digits', minDigits: 1, maxDigits: 1, timeoutMs: 6000 },
    ]);
  });
  test('a valid key follows the option and sets its intent', () => {
    const { state, last } = drive(flow, [start(), d('1')]);
    assert.deepEqual(last, [{ type: 'hangup', reason: 'done' }]);
    assert.equal(state.intent, 'quit');
    assert.deepEqual(state.path, ['m', 'bye']);
  });
  test('an invalid key replays with the invalid prompt; retries exhausted go onMaxRetries', () => {
    const r = drive(flow, [start(), d('7'), { type: 'digits-timeout' }]);
    assert.deepEqual(played(r.cmds[1]!), ['common.invalid', 'main.menu']);
    assert.equal(r.state.status, 'transferred');
    assert.deepEqual(types(r.last), ['play', 'transfer-to-queue']);
  });
});

describe('collect and play', () => {
  const flow = flowOf({
    c: {
      kind: 'collect',
      prompt: 'bill.enter_ref',
      into: 'ref',
      minLength: 4,
      maxLength: 8,
      next: 'p',
      onMaxRetries: 'bye',
    },
    p: { kind: 'play', prompt: 'ticket.created', vars: { ref: 'ref' }, next: 'bye' },
    ...end,
  });
  test('collects with a # terminator, stores the variable, plays it back', () => {
    const r = drive(flow, [start(), d('12'), d('12345')]);
    assert.deepEqual(r.cmds[0]![1], {
      type: 'collect-digits',
      minDigits: 4,
      maxDigits: 8,
      timeoutMs: 6000,
      terminator: '#',
    });
    assert.deepEqual(played(r.cmds[1]!), ['common.invalid', 'bill.enter_ref']);
    assert.equal(r.state.vars.ref, '12345');
    assert.deepEqual(r.last[0], { type: 'play', promptId: 'ticket.created', vars: { ref: '12345' } });
  });
});

describe('identify', () => {
  const flow = flowOf({
    i: { kind: 'identify', method: 'ani-or-card', next: 'agent', onUnknown: 'bye' },
    ...end,
  });
  test('a caller recognised by ANI passes straight through', () => {
    const { state } = drive(flow, [start()]);
    assert.equal(state.status, 'transferred');
    assert.equal(state.customer?.customerId, 'c-1001');
  });
  test('an unknown caller keys in a card; the runner asks the directory', () => {
    const r = drive(flow, [start('02311111111', null), d('6222020000003001')]);
    assert.deepEqual(r.last, [
      { type: 'lookup-customer', requestId: 's1:lookup1', by: 'card', value: '6222020000003001' },
    ]);
    const ok = ivrStep(
      flow,
      r.state,
      { type: 'lookup-result', requestId: 's1:lookup1', customer: DEMO_PROFILES[2] },
      NOW,
    );
    assert.equal(ok.state.customer?.customerId, 'c-3001');
    assert.equal(ok.state.cardNumber, '6222020000003001');
    const stale = ivrStep(
      flow,
      r.state,
      { type: 'lookup-result', requestId: 'other', customer: DEMO_PROFILES[2] },
      NOW,
    );
    assert.deepEqual(stale.commands, []);
    const unknown = ivrStep(flow, r.state, { type: 'lookup-result', requestId: 's1:lookup1' }, NOW);
    assert.deepEqual(played(unknown.commands), ['identify.unknown_card', 'identify.enter_card']);
  });
  test('# alone skips identification', () => {
    assert.deepEqual(drive(flow, [start('', null), d('')]).state.path, ['i', 'bye']);
  });
});

describe('verify-pin', () => {
  const flow = flowOf(
    {
      v: { kind: 'verify-pin', next: 'agent', onLocked: 'bye', onUnidentified: 'bye', lockSlaMinutes: 30 },
      ...end,
    },
    'v',
    { bankTimeoutMs: 500 },
  );
  test('the PIN goes to the host as a Secret and nowhere else', () => {
    const r = drive(flow, [start(), d('424242')]);
    const req = r.last[0]!;
    assert.ok(req.type === 'bank-request' && req.op === 'verifyPin');
    assert.ok(req.args.pin instanceof Secret && req.args.pin.reveal() === '424242');
    assert.deepEqual(req.args.subject, { customerId: 'c-1001' });
    assert.deepEqual(r.last[1], { type: 'start-timer', timerId: 's1:req1:timeout', atMs: NOW + 500 });
    assert.equal(
      r.cmds[0]!.find((c) => c.type === 'collect-digits')?.type === 'collect-digits' &&
        (r.cmds[0]!.at(-1) as { secret?: boolean }).secret,
      true,
    );
    assert.ok(!JSON.stringify(r).includes('424242'));
  });
  test('verified goes next; a stale result is ignored', () => {
    const r = drive(flow, [start(), d('424242')]);
    assert.deepEqual(
      ivrStep(
        flow,
        r.state,
        { type: 'bank-result', requestId: 'x', ok: true, value: { verified: true } },
        NOW,
      ).commands,
      [],
    );
    const ok = ivrStep(
      flow,
      r.state,
      { type: 'bank-result', requestId: 's1:req1', ok: true, value: { verified: true } },
      NOW,
    );
    assert.equal(ok.state.verified, true);
    assert.deepEqual(types(ok.commands), ['cancel-timer', 'play', 'transfer-to-queue']);
  });
  test('three refusals lock the session and open a security-lock ticket', () => {
    const no = (n: number): IvrEvent => ({
      type: 'bank-result',
      requestId: `s1:req${n}`,
      ok: true,
      value: { verified: false },
    });
    const r = drive(flow, [start(), d('111111'), no(1), d('222222'), no(2), d('333333'), no(3)]);
    assert.equal(r.state.locked, true);
    const t = r.last.find((c) => c.type === 'create-ticket');
    assert.ok(t?.type === 'create-ticket' && t.kind === 'security-lock' && t.slaMinutes === 30);
    assert.deepEqual(played(r.cmds[2]!), ['pin.wrong', 'pin.enter']);
    assert.equal(r.state.status, 'ended');
  });
  test('a customer locked at the host is told how to unlock and leaves through onLocked, without a new ticket', () => {
    // The right PIN, but the host refuses: the lock started in an earlier call.
    const locked: IvrEvent = {
      type: 'bank-result',
      requestId: 's1:req1',
      ok: true,
      value: { verified: false, locked: true, lockedUntilMs: NOW + 86_400_000, lockedNow: false },
    };
    const r = drive(flow, [start(), d('135790'), locked]);
    assert.equal(r.state.locked, true);
    assert.equal(r.state.verified, false);
    assert.deepEqual(played(r.last), ['pin.locked_host']);
    assert.ok(!r.last.some((c) => c.type === 'create-ticket'), 'the lock was recorded when it started');
    assert.equal(r.state.status, 'ended');
    assert.deepEqual(r.state.path, ['v', 'bye']);
  });
  test('the wrong PIN that starts a host lock opens the security-lock ticket once, naming the host lock', () => {
    const no = (n: number, value: unknown): IvrEvent => ({
      type: 'bank-result',
      requestId: `s1:req${n}`,
      ok: true,
      value,
    });
    const until = NOW + 86_400_000;
    // One earlier failure in another call: the host locks on this call's second wrong PIN.
    const r = drive(flow, [
      start(),
      d('111111'),
      no(1, { verified: false }),
      d('222222'),
      no(2, { verified: false, locked: true, lockedUntilMs: until, lockedNow: true }),
    ]);
    assert.equal(r.state.locked, true);
    assert.deepEqual(played(r.last), ['pin.locked_host']);
    const tickets = r.cmds.flat().filter((c) => c.type === 'create-ticket');
    assert.equal(tickets.length, 1);
    const t = tickets[0]!;
    assert.ok(t.type === 'create-ticket' && t.kind === 'security-lock' && t.slaMinutes === 30);
    assert.equal(t.data.reason, 'pin-locked-at-host');
    assert.equal(t.data.attempts, 2);
    assert.equal(t.data.lockedUntilMs, until);
  });
  test('re-entering a PIN node after a host lock says the PIN is locked, not that the call is', () => {
    const twice = flowOf(
      {
        v: { kind: 'verify-pin', next: 'agent', onLocked: 'v2', onUnidentified: 'bye' },
        v2: { kind: 'verify-pin', next: 'agent', onLocked: 'bye', onUnidentified: 'bye' },
        ...end,
      },
      'v',
    );
    const locked: IvrEvent = {
      type: 'bank-result',
      requestId: 's1:req1',
      ok: true,
      value: { verified: false, locked: true, lockedUntilMs: NOW + 1000, lockedNow: false },
    };
    const r = drive(twice, [start(), d('135790'), locked]);
    assert.deepEqual(played(r.last), ['pin.locked_host', 'pin.locked_host']);
  });
  test('a host timeout (timer fired) leaves through onUnidentified/onError', () => {
    const r = drive(flow, [start(), d('424242'), { type: 'timer-fired', timerId: 's1:req1:timeout' }]);
    assert.deepEqual(played(r.last), ['bank.host_error']);
    assert.equal(r.state.status, 'ended');
  });
});

describe('bank: transfer between own accounts', () => {
  const flow = flowOf({
    t: {
      kind: 'bank',
      action: 'transfer-own-accounts',
      requiresVerified: false,
      callbackQueue: 'retail',
      next: 'bye',
      onError: 'agent',
    },
    ...end,
  });
  const accounts = [
    {
      accountId: 'a-1',
      customerId: 'c-1001',
      type: 'current',
      currency: 'CNY',
      balanceMinor: 100_000,
      status: 'active',
    },
    {
      accountId: 'a-2',
      customerId: 'c-1001',
      type: 'deposit',
      currency: 'CNY',
      balanceMinor: 0,
      status: 'active',
    },
  ];
  const upToConfirm = () =>
    drive(flow, [
      start(),
      { type: 'bank-result', requestId: 's1:req1', ok: true, value: accounts },
      d('1'),
      d('12*5'),
      d('1'),
    ]);
  test('choose, amount, confirm, then a transfer with a deterministic idempotency key', () => {
    const r = upToConfirm();
    assert.ok(played(r.cmds[3]!).includes('transfer.confirm'));
    const req = r.last.find((c) => c.type === 'bank-request');
    assert.ok(req?.type === 'bank-request' && req.op === 'transfer');
    assert.deepEqual(req.args, {
      idempotencyKey: 'ivr:s1:t:2',
      fromAccountId: 'a-1',
      toAccountId: 'a-2',
      amountMinor: 1250,
      currency: 'CNY',
      memo: 'IVR own-account transfer',
    });
    assert.equal(JSON.stringify(upToConfirm().last), JSON.stringify(r.last), 'same inputs, same key');
  });
  test('a host timeout issues reverse with the same key and tells the caller it was not made', () => {
    const r = upToConfirm();
    const timeout = ivrStep(
      flow,
      r.state,
      {
        type: 'bank-result',
        requestId: 's1:req2',
        ok: false,
        error: { kind: 'deadline-exceeded', message: 'x' },
      },
      NOW,
    );
    const rev = timeout.commands.find((c) => c.type === 'bank-request');
    assert.ok(rev?.type === 'bank-request' && rev.op === 'reverse');
    assert.equal((rev.args as { idempotencyKey: string }).idempotencyKey, 'ivr:s1:t:2');
    const done = ivrStep(
      flow,
      timeout.state,
      { type: 'bank-result', requestId: 's1:req3', ok: true, value: { status: 'nothing-to-reverse' } },
      NOW,
    );
    assert.deepEqual(played(done.commands), ['transfer.not_made']);
  });
  test('a reversal that also fails: a callback is scheduled (with a number and a time), then promised', () => {
    const r = upToConfirm();
    const t1 = ivrStep(flow, r.state, { type: 'timer-fired', timerId: 's1:req2:timeout' }, NOW);
    const t2 = ivrStep(flow, t1.state, { type: 'timer-fired', timerId: 's1:req3:timeout' }, NOW);
    // A callback request the site can store and place: the caller's number, a time (SLA), and
    // what the agent must check. The promise waits until the store says it is recorded.
    const cb = t2.commands.findIndex((c) => c.type === 'schedule-callback');
    assert.ok(cb >= 0, 'a callback is scheduled');
    assert.deepEqual(played(t2.commands), [], 'nothing promised before it is recorded');
    const c = t2.commands[cb]!;
    assert.ok(c.type === 'schedule-callback');
    const t3 = ivrStep(flow, t2.state, { type: 'record-result', recordId: c.callbackId, ok: true }, NOW);
    assert.equal(played(t3.commands)[0], 'transfer.uncertain');
    assert.ok(c.type === 'schedule-callback');
    assert.equal(c.phone, '13800000001');
    assert.equal(c.queueId, 'retail');
    assert.equal(c.slaMinutes, 240);
    assert.equal(c.data.reason, 'transfer-outcome-unknown');
    assert.equal(c.data.idempotencyKey, 'ivr:s1:t:2');
    assert.equal(c.data.amountMinor, 1250);
    assert.ok(!t2.commands.some((x) => x.type === 'create-ticket'), 'no ticket the store would refuse');
  });
  test('a reversal that also fails and a callback the store could not record: no promise, to an agent', () => {
    const r = upToConfirm();
    const t1 = ivrStep(flow, r.state, { type: 'timer-fired', timerId: 's1:req2:timeout' }, NOW);
    const t2 = ivrStep(flow, t1.state, { type: 'timer-fired', timerId: 's1:req3:timeout' }, NOW);
    const c = t2.commands.find((x) => x.type === 'schedule-callback');
    assert.ok(c?.type === 'schedule-callback' && c.awaited);
    const t3 = ivrStep(flow, t2.state, { type: 'record-result', recordId: c.callbackId, ok: false }, NOW);
    assert.deepEqual(played(t3.commands), ['transfer.unconfirmed', 'transfer.connecting']);
    const toAgent = t3.commands.find((x) => x.type === 'transfer-to-queue');
    assert.equal(
      toAgent?.type === 'transfer-to-queue' && toAgent.attached.intent,
      'transfer-outcome-unknown',
    );
  });
  test('a reversal that also fails for a caller without a number: no promise of a call, to an agent', () => {
    const r = drive(flow, [
      start(''),
      { type: 'bank-result', requestId: 's1:req1', ok: true, value: accounts },
      d('1'),
      d('12*5'),
      d('1'),
    ]);
    const t1 = ivrStep(flow, r.state, { type: 'timer-fired', timerId: 's1:req2:timeout' }, NOW);
    const t2 = ivrStep(flow, t1.state, { type: 'timer-fired', timerId: 's1:req3:timeout' }, NOW);
    assert.ok(!t2.commands.some((c) => c.type === 'schedule-callback' || c.type === 'create-ticket'));
    assert.deepEqual(played(t2.commands), ['transfer.unconfirmed', 'transfer.connecting']);
    const toAgent = t2.commands.find((c) => c.type === 'transfer-to-queue');
    assert.equal(
      toAgent?.type === 'transfer-to-queue' && toAgent.attached.intent,
      'transfer-outcome-unknown',
    );
  });
  test('cancel at confirmation moves nothing', () => {
    const r = drive(flow, [
      start(),
      { type: 'bank-result', requestId: 's1:req1', ok: true, value: accounts },
      d('1'),
      d('5'),
      d('2'),
    ]);
    assert.ok(!r.last.some((c) => c.type === 'bank-request'));
    assert.deepEqual(played(r.last), ['bank.cancelled']);
  });
  test('requiresVerified sends an unverified caller to onUnverified', () => {
    const f = flowOf({
      t: { kind: 'bank', action: 'balance', next: 'bye', onError: 'bye', onUnverified: 'agent' },
      ...end,
    });
    const r = drive(f, [start()]);
    assert.deepEqual(played(r.last), ['bank.not_verified', 'transfer.connecting']);
  });
});

describe('bank: card loss, rates', () => {
  test('card loss: confirm, stop at the host, ticket for the branch', () => {
    const flow = flowOf({
      c: { kind: 'bank', action: 'card-loss', slaMinutes: 90, next: 'bye', onError: 'agent' },
      ...end,
    });
    const r = drive(flow, [start(), d('1')]);
    assert.deepEqual(r.last[0], {
      type: 'bank-request',
      requestId: 's1:req1',
      op: 'reportCardLoss',
      args: { cardNumber: '6222020000001001' },
    });
    const ok = ivrStep(
      flow,
      r.state,
      {
        type: 'bank-result',
        requestId: 's1:req1',
        ok: true,
        value: {
          cardLast4: '1001',
          customerId: 'c-1001',
          status: 'stopped',
          stoppedAtMs: 5,
          alreadyStopped: false,
        },
      },
      NOW,
    );
    const t = ok.commands.find((c) => c.type === 'create-ticket');
    assert.ok(
      t?.type === 'create-ticket' &&
        t.kind === 'card-loss' &&
        t.slaMinutes === 90 &&
        t.data.stopConfirmed === true,
    );
  });
  test('rates play deposit and FX items', () => {
    const flow = flowOf({ r: { kind: 'bank', action: 'rates', next: 'bye', onError: 'agent' }, ...end });
    const r = drive(flow, [
      start(),
      {
        type: 'bank-result',
        requestId: 's1:req1',
        ok: true,
        value: {
          deposit: [{ termMonths: 12, annualPercent: 1.25 }],
          fx: [{ currency: 'USD', buy: 716.2, sell: 719.1 }],
        },
      },
    ]);
    assert.deepEqual(
      r.last.filter((c) => c.type === 'play'),
      [
        { type: 'play', promptId: 'rates.deposit_item', vars: { months: '12', rate: '1.25' } },
        { type: 'play', promptId: 'rates.fx_item', vars: { currency: 'USD', buy: '716.20', sell: '719.10' } },
      ],
    );
  });
});

describe('ticket, callback, transfer, hangup', () => {
  test('ticket carries kind, SLA and call data', () => {
    const flow = flowOf({
      t: { kind: 'ticket', ticketKind: 'complaint', slaMinutes: 1440, next: 'bye', intent: 'complaint' },
      ...end,
    });
    const { cmds } = drive(flow, [start()]);
    assert.deepEqual(cmds[0]![0], {
      type: 'create-ticket',
      ticketId: 's1:tkt1',
      kind: 'complaint',
      slaMinutes: 1440,
      data: {
        customerId: 'c-1001',
        ani: '13800000001',
        verified: false,
        ivrPath: ['t'],
        intent: 'complaint',
      },
      awaited: true,
    });
  });
  test('a node flagged `record` asks for the recording on entry, before its own commands, once per call', () => {
    const flow = flowOf({
      m: { kind: 'menu', prompt: 'main.menu', options: { '1': 't', '2': 'bye' }, onMaxRetries: 'bye' },
      t: { kind: 'ticket', ticketKind: 'complaint', slaMinutes: 1440, next: 'again', record: true },
      again: { kind: 'menu', prompt: 'main.menu', options: { '1': 't', '2': 'agent' }, onMaxRetries: 'bye' },
      ...end,
    });
    const first = drive(flow, [start()]);
    assert.ok(!types(first.last).includes('record-call'), 'nothing recorded before the flagged node');
    const r = drive(flow, [d('1')], first.state);
    assert.deepEqual(types(r.last), ['record-call', 'create-ticket']);
    assert.deepEqual(r.last[0], { type: 'record-call', reason: 'node:t' });
    assert.equal(r.state.recording, 'node:t');
    const again = drive(flow, [{ type: 'record-result', recordId: 's1:tkt1', ok: true }, d('1')], r.state);
    assert.ok(!again.cmds.flat().some((c) => c.type === 'record-call'), 'asked once per call');
    // A call that never enters the node is never recorded.
    const other = drive(flow, [start(), d('2')]);
    assert.ok(!other.cmds.flat().some((c) => c.type === 'record-call'));
  });
  test('a ticket is confirmed only once recorded; a stray or late result changes nothing', () => {
    const flow = flowOf({
      t: { kind: 'ticket', ticketKind: 'complaint', slaMinutes: 1440, next: 'bye' },
      ...end,
    });
    const r = drive(flow, [start()]);
    assert.deepEqual(played(r.last), [], 'nothing said before the store answers');
    assert.deepEqual(r.state.waiting, { on: 'record', recordId: 's1:tkt1', purpose: 'ticket' });
    const stray = ivrStep(flow, r.state, { type: 'record-result', recordId: 's1:tkt9', ok: true }, NOW);
    assert.deepEqual(stray.commands, []);
    const ok = ivrStep(flow, r.state, { type: 'record-result', recordId: 's1:tkt1', ok: true }, NOW);
    assert.deepEqual(played(ok.commands), ['ticket.created']);
    assert.equal(ok.state.status, 'ended');
  });
  test('a ticket the store could not record: an apology, then onError (or an agent without one)', () => {
    const withOnError = flowOf({
      t: { kind: 'ticket', ticketKind: 'complaint', slaMinutes: 1440, next: 'bye', onError: 'sorry' },
      sorry: { kind: 'hangup', reason: 'not-recorded', prompt: 'common.goodbye' },
      ...end,
    });
    const a = drive(withOnError, [start(), { type: 'record-result', recordId: 's1:tkt1', ok: false }]);
    assert.deepEqual(played(a.last), ['ticket.not_recorded', 'common.goodbye']);
    assert.equal(a.state.endReason, 'not-recorded');
    const plain = flowOf({
      t: { kind: 'ticket', ticketKind: 'complaint', slaMinutes: 1440, next: 'bye' },
      ...end,
    });
    const b = drive(plain, [start(), { type: 'record-result', recordId: 's1:tkt1', ok: false }]);
    assert.equal(played(b.last)[0], 'ticket.not_recorded');
    assert.ok(!played(b.last).includes('ticket.created'));
    assert.equal(b.state.status, 'transferred');
    assert.equal(b.state.endReason, 'fallback:ticket-not-recorded');
  });
  test('a callback is promised only once recorded; not recorded: an apology and an agent', () => {
    const flow = flowOf({ c: { kind: 'callback', queue: 'retail', slaMinutes: 60, next: 'bye' }, ...end });
    const r = drive(flow, [start()]);
    assert.deepEqual(played(r.last), []);
    const ok = ivrStep(flow, r.state, { type: 'record-result', recordId: 's1:cb1', ok: true }, NOW);
    assert.deepEqual(played(ok.commands), ['callback.scheduled']);
    const no = ivrStep(flow, r.state, { type: 'record-result', recordId: 's1:cb1', ok: false }, NOW);
    assert.equal(played(no.commands)[0], 'callback.not_scheduled');
    assert.equal(no.state.status, 'transferred');
  });
  test('callback schedules to the caller number', () => {
    const flow = flowOf({ c: { kind: 'callback', queue: 'retail', slaMinutes: 60, next: 'bye' }, ...end });
    const c = drive(flow, [start()]).cmds[0]![0]!;
    assert.ok(
      c.type === 'schedule-callback' &&
        c.phone === '13800000001' &&
        c.queueId === 'retail' &&
        c.slaMinutes === 60,
    );
  });
  test('transfer: first matching rule wins, attached data filled in', () => {
    const flow = flowOf({
      x: {
        kind: 'transfer',
        queue: 'retail',
        rules: [
          { when: { segment: 'vip' }, queue: 'vip', priority: 10 },
          { when: { intent: 'complaint' }, queue: 'complaints' },
        ],
        intent: 'complaint',
      },
    });
    const vip = drive(flow, [start('13900000002', DEMO_PROFILES[1])]).last.at(-1)!;
    assert.ok(
      vip.type === 'transfer-to-queue' &&
        vip.queueId === 'vip' &&
        vip.priority === 10 &&
        vip.attached.segment === 'vip',
    );
    const retail = drive(flow, [start()]).last.at(-1)!;
    assert.ok(
      retail.type === 'transfer-to-queue' && retail.queueId === 'complaints' && retail.priority === 5,
    );
    assert.deepEqual(retail.attached, {
      customerId: 'c-1001',
      segment: 'retail',
      language: 'zh',
      verified: false,
      ivrPath: ['x'],
      intent: 'complaint',
      priority: 5,
      ani: '13800000001',
      dnis: '95588',
    });
  });
  test('max events sends the call to the fallback queue', () => {
    const flow = flowOf(
      { m: { kind: 'menu', prompt: 'main.menu', options: { '1': 'm' }, onMaxRetries: 'bye' }, ...end },
      'm',
      { maxEvents: 10 },
    );
    const r = drive(flow, [start(), ...Array.from({ length: 12 }, () => d('1'))]);
    assert.equal(r.state.status, 'transferred');
    assert.equal(r.state.endReason, 'fallback:max-events');
  });
});
