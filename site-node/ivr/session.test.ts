/**
 * The phone-banking flow end to end through the driver: scripted callers, the in-memory bank
 * host (real PIN hashing, idempotency and reversal semantics), recording sinks.
 */
import { beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { ManualClock } from '../../shared/clock.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { DEMO_LEDGER_CUSTOMERS } from '../../shared/bank-host/demo.js';
import { InMemoryBankHost } from '../../shared/bank-host/memory.js';
import { DomainError } from '../../shared/errors.js';
import { createLogger } from '../../shared/log.js';
import { ScriptedCaller, type ScriptStep } from './scripted-caller.js';
import { type IvrSessionOptions, runIvrSession } from './session.js';
import { MemoryDirectory, RecordingSinks, loadPhoneBanking } from './test-support.js';
import type { CustomerProfile, ReadPurpose } from '../../shared/domain/customer.js';
import { normalizePhone, tryNormalizePhone } from '../../shared/domain/phone.js';
import type { IvrCommand, IvrEvent, IvrState } from './types.js';

const { flow, catalogue } = loadPhoneBanking();
const PINS = DEMO_LEDGER_CUSTOMERS.flatMap((c) => [c.pin, ...c.cards.map((k) => k.pin)]);
const RETAIL = '13800000001';
const VIP = '13900000002';
const T0 = 1_700_000_000_000;

/**
 * Lets queued promise continuations and immediates run, one macrotask turn at a time, until
 * `check` holds; throws naming `what` if it never does. Counts turns, never real time: for
 * work that is all in memory (no PIN hashing, no I/O).
 */
async function until(what: string, check: () => boolean, maxTurns = 10_000): Promise<void> {
  for (let i = 0; i < maxTurns; i++) {
    if (check()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.fail(`still waiting for: ${what}`);
}

/**
 * Watches a session's steps: `reached(op)` resolves once the session waits on the host for
 * `op` (after however much real work, such as PIN hashing, it takes to get there).
 */
function bankWatch() {
  let op: string | undefined;
  const waiters: Array<{ op: string; resolve: () => void }> = [];
  const onStep: NonNullable<IvrSessionOptions['onStep']> = (s) => {
    op = s.state.waiting.on === 'bank' ? s.state.waiting.op : undefined;
    for (const w of waiters.filter((x) => x.op === op)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
  };
  return {
    onStep,
    waitingOn: () => op,
    reached: (want: string) =>
      new Promise<void>((resolve) => (op === want ? resolve() : waiters.push({ op: want, resolve }))),
  };
}

async function call(
  ani: string,
  script: ScriptStep[],
  host: InMemoryBankHost,
  extra: Partial<IvrSessionOptions> = {},
) {
  const caller = new ScriptedCaller(script, catalogue);
  const sinks = new RecordingSinks();
  const steps: Array<{ event: IvrEvent; commands: IvrCommand[]; state: IvrState }> = [];
  const { onStep, ...options } = extra;
  const result = await runIvrSession({
    flow,
    sessionId: `s-${Math.random().toString(36).slice(2, 8)}`,
    ani,
    dnis: '95588',
    host,
    channel: caller,
    tickets: sinks,
    callbacks: sinks,
    directory: new MemoryDirectory(),
    // Virtual time: a bank timeout fires only when a test advances this scheduler.
    scheduler: new VirtualScheduler(T0),
    ...options,
    onStep: (s) => {
      steps.push(s);
      onStep?.(s);
      if (process.env.IVR_DEBUG)
        console.error(ani, s.event.type, s.state.node, s.commands.map((c) => c.type).join(','));
    },
  });
  // No PIN ever appears in a command, a state, the path, attached data, tickets or callbacks.
  const commands = steps.flatMap((s) => s.commands);
  const visible = JSON.stringify({ commands, states: steps.map((s) => s.state), result, sinks });
  for (const pin of PINS) assert.ok(!visible.includes(pin), `PIN leaked into commands/state/result`);
  const played = caller.played.map((p) => p.promptId);
  return { result, caller, sinks, commands, played, steps };
}

describe('phone-banking flow end to end', () => {
  let host: InMemoryBankHost;
  beforeAll(async () => {
    host = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
  });

  test('balance and recent transactions, then an agent with attached data', async () => {
    const { result, caller, played } = await call(RETAIL, ['1', '135790', '1', '0'], host);
    assert.deepEqual(caller.recordings, [], 'a call no node flags is not recorded');
    assert.deepEqual(
      caller.played.filter((p) => p.promptId === 'bank.balance_item').map((p) => p.vars?.balance),
      ['12500.00', '50000.00'],
    );
    assert.ok(played.includes('bank.txn_item'));
    assert.equal(result.outcome.type, 'transfer');
    if (result.outcome.type !== 'transfer') return;
    assert.equal(result.outcome.queueId, 'retail');
    const a = result.outcome.attached;
    assert.equal(a.customerId, 'c-1001');
    assert.equal(a.verified, true);
    assert.equal(a.intent, 'agent');
    assert.deepEqual(a.ivrPath, [
      'greeting',
      'identify',
      'main_menu',
      'pin_for_balance',
      'balance',
      'balance_menu',
      'recent_transactions',
      'main_menu',
      'agent',
    ]);
    assert.ok(caller.transcript.includes('caller: ****'), 'the PIN entry is masked in the transcript');
  });

  test('transfer between own accounts with confirmation moves money once', async () => {
    const before = [
      host.accounts.get('a-1001-cur')!.balanceMinor,
      host.accounts.get('a-1001-dep')!.balanceMinor,
    ];
    const { result, played, commands } = await call(
      RETAIL,
      ['2', '135790', '1', '100*5', '1', 'hangup'],
      host,
    );
    assert.ok(played.includes('transfer.confirm'));
    assert.ok(played.includes('transfer.done'));
    assert.deepEqual(
      [host.accounts.get('a-1001-cur')!.balanceMinor, host.accounts.get('a-1001-dep')!.balanceMinor],
      [before[0]! - 10_050, before[1]! + 10_050],
    );
    const t = commands.find((c) => c.type === 'bank-request' && c.op === 'transfer');
    assert.ok(
      t && t.type === 'bank-request' && t.op === 'transfer' && t.args.idempotencyKey.startsWith('ivr:'),
    );
    assert.deepEqual(result.outcome, { type: 'ended', reason: 'caller-hung-up' });
  });

  test('a transfer whose host times out is reversed under the same key, and no money moves', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    h.setFault('transfer', { kind: 'apply-then-hang' });
    const before = h.accounts.get('a-1001-cur')!.balanceMinor;
    const scheduler = new VirtualScheduler(T0);
    const watch = bankWatch();
    const running = call(RETAIL, ['2', '135790', '1', '300', '1', 'hangup'], h, {
      bankTimeoutMs: 1_000,
      scheduler,
      onStep: watch.onStep,
    });
    await watch.reached('transfer');
    await scheduler.advance(1_000);
    const { played, commands } = await running;
    const t = commands.find((c) => c.type === 'bank-request' && c.op === 'transfer');
    const r = commands.find((c) => c.type === 'bank-request' && c.op === 'reverse');
    assert.ok(t?.type === 'bank-request' && t.op === 'transfer');
    assert.ok(r?.type === 'bank-request' && r.op === 'reverse');
    assert.equal((r.args as { idempotencyKey: string }).idempotencyKey, t.args.idempotencyKey);
    assert.ok(played.includes('transfer.not_made'));
    assert.ok(!played.includes('transfer.done'));
    assert.equal(h.accounts.get('a-1001-cur')!.balanceMinor, before, 'the reversal restored the balance');
    assert.equal(h.postings.find((p) => p.kind === 'transfer')?.status, 'reversed');
  });

  test('card loss: immediate stop at the host and a ticket for the branch', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const { sinks, played } = await call(RETAIL, ['3', '1', 'hangup'], h);
    assert.equal(h.cardStatus('6222020000001001'), 'stopped');
    assert.ok(played.includes('cardloss.stopped'));
    assert.equal(sinks.tickets.length, 1);
    const tk = sinks.tickets[0]!;
    assert.equal(tk.kind, 'card-loss');
    assert.equal(tk.slaMinutes, 240);
    assert.equal(tk.data.cardLast4, '1001');
    assert.equal(tk.data.stopConfirmed, true);
    assert.equal(tk.data.customerId, 'c-1001');
  });

  test('card loss from an unknown number: identify by card, then stop', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const { sinks } = await call('02300000000', ['6222020000003001#', '3', '1', 'hangup'], h);
    assert.equal(h.cardStatus('6222020000003001'), 'stopped');
    assert.equal(sinks.tickets[0]?.kind, 'card-loss');
  });

  test('three wrong PINs lock the session and open a security ticket', async () => {
    // A host of its own: the wrong PINs lock the customer at the host too (across calls).
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const { result, sinks, played, commands } = await call(RETAIL, ['1', '987654', '876543', '765432'], h);
    assert.equal(commands.filter((c) => c.type === 'bank-request' && c.op === 'verifyPin').length, 3);
    assert.equal(played.filter((p) => p === 'pin.wrong').length, 2);
    // The host's lock (three, the default) ends the call with how to unlock, not "this call".
    assert.ok(played.includes('pin.locked_host'));
    assert.deepEqual(result.outcome, { type: 'ended', reason: 'security-lock' });
    assert.equal(sinks.tickets.length, 1);
    assert.equal(sinks.tickets[0]!.kind, 'security-lock');
    assert.equal(sinks.tickets[0]!.data.customerId, 'c-1001');
    assert.ok(!JSON.stringify(sinks).match(/987654|876543|765432/), 'wrong PINs are not recorded either');
  });

  test('a caller who failed three PINs in one call is refused in the next call, even with the right PIN', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const first = await call(RETAIL, ['1', '987654', '876543', '765432'], h);
    assert.ok(
      first.played.includes('pin.locked_host'),
      'the third wrong PIN locked the customer at the host',
    );
    assert.equal(first.sinks.tickets.length, 1);
    assert.equal(first.sinks.tickets[0]!.kind, 'security-lock');
    assert.equal(first.sinks.tickets[0]!.data.reason, 'pin-locked-at-host');
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({}, { env: {}, write: (l) => lines.push(JSON.parse(l)) });
    const second = await call(RETAIL, ['1', '135790'], h, { logger });
    assert.equal(second.commands.filter((c) => c.type === 'bank-request' && c.op === 'verifyPin').length, 1);
    const refusals = lines.filter((l) => l.msg === 'PIN refused: customer locked at the bank host');
    assert.equal(refusals.length, 1, 'the refusal is logged once');
    assert.deepEqual(refusals[0]!.subject, { customerId: 'c-1001' });
    assert.equal(refusals[0]!.lockedNow, false);
    assert.ok(second.played.includes('pin.locked_host'));
    assert.ok(!second.played.some((p) => p.startsWith('bank.balance')), 'no account service');
    assert.deepEqual(second.result.outcome, { type: 'ended', reason: 'security-lock' });
    assert.equal(second.sinks.tickets.length, 0, 'the lock was recorded once, when it started');
    assert.equal(h.pinLocks.length, 1);
  });

  test('a right PIN before the limit resets the count across calls', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const first = await call(RETAIL, ['1', '987654', '876543', '135790', '9', 'hangup'], h);
    assert.ok(first.played.includes('bank.balance_item'));
    const second = await call(RETAIL, ['1', '987654', '876543', '135790', '9', 'hangup'], h);
    assert.ok(second.played.includes('bank.balance_item'), 'two more wrong PINs did not lock');
    assert.equal(h.pinLocks.length, 0);
  });

  test("the lock lapses after its period on the host's clock", async () => {
    const clock = new ManualClock(T0);
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS, clock);
    await call(RETAIL, ['1', '987654', '876543', '765432'], h);
    clock.advance(24 * 60 * 60 * 1000 - 1);
    assert.ok((await call(RETAIL, ['1', '135790'], h)).played.includes('pin.locked_host'));
    clock.advance(1);
    const after = await call(RETAIL, ['1', '135790', '9', 'hangup'], h);
    assert.ok(after.played.includes('bank.balance_item'));
    assert.ok(!after.played.includes('pin.locked_host'));
  });

  test('a VIP customer goes to the VIP queue with attached data', async () => {
    const { result } = await call(VIP, ['1', '246802', '9', '0'], host);
    assert.equal(result.outcome.type, 'transfer');
    if (result.outcome.type !== 'transfer') return;
    assert.equal(result.outcome.queueId, 'vip');
    assert.equal(result.outcome.priority, 10);
    assert.deepEqual(
      { ...result.outcome.attached, ivrPath: undefined },
      {
        customerId: 'c-2001',
        segment: 'vip',
        language: 'zh',
        verified: true,
        ivrPath: undefined,
        intent: 'agent',
        priority: 10,
        ani: VIP,
        dnis: '95588',
      },
    );
  });

  test('a complaint opens a ticket with an SLA and goes to the complaints queue', async () => {
    const { result, sinks, caller } = await call(RETAIL, ['6', '1'], host);
    // The flow flags the complaint ticket node: the channel is asked to record from there on.
    assert.deepEqual(caller.recordings, ['node:complaint_ticket']);
    assert.equal(sinks.tickets.length, 1);
    assert.equal(sinks.tickets[0]!.kind, 'complaint');
    assert.equal(sinks.tickets[0]!.slaMinutes, 1440);
    assert.equal(sinks.tickets[0]!.createdAtMs, T0);
    assert.equal(result.outcome.type === 'transfer' && result.outcome.queueId, 'complaints');
  });

  test('a ticket the store could not take is never confirmed: the caller hears an apology', async () => {
    const failing = {
      createTicket: () => Promise.reject(new Error('store unreachable')),
      scheduleCallback: () => Promise.reject(new Error('store unreachable')),
    };
    const complaint = await call(RETAIL, ['6', '1'], host, { tickets: failing });
    assert.ok(complaint.played.includes('ticket.not_recorded'));
    assert.ok(!complaint.played.includes('feedback.complaint_recorded'), 'no "recorded" for a lost ticket');
    const callback = await call(RETAIL, ['6', '3'], host, { callbacks: failing });
    assert.ok(callback.played.includes('callback.not_scheduled'));
    assert.ok(!callback.played.includes('callback.scheduled'));
  });

  test('a callback request is scheduled to the caller number', async () => {
    const { sinks, result } = await call(RETAIL, ['6', '3'], host);
    assert.equal(sinks.callbacks.length, 1);
    assert.equal(sinks.callbacks[0]!.phone, RETAIL);
    assert.deepEqual(result.outcome, { type: 'ended', reason: 'completed' });
  });

  test('rates need no PIN', async () => {
    const { played, commands } = await call('', ['#', '5', '9', 'hangup'], host);
    assert.ok(played.includes('rates.deposit_item') && played.includes('rates.fx_item'));
    assert.ok(!commands.some((c) => c.type === 'bank-request' && c.op === 'verifyPin'));
  });

  test('bill payment debits the account and credits the payee clearing account', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const { played } = await call(RETAIL, ['4', '135790', '2', '88776655#', '120*3#', '1', 'hangup'], h);
    assert.ok(played.includes('bill.done'));
    assert.equal(h.accounts.get('clearing-utility-power')!.balanceMinor, 12_030);
  });

  test('insufficient funds is told to the caller and changes nothing', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    h.setFault('transfer', {
      kind: 'error',
      error: new DomainError('failed-precondition', 'insufficient funds'),
    });
    const before = h.accounts.get('a-1001-cur')!.balanceMinor;
    const { played } = await call(RETAIL, ['2', '135790', '1', '5', '1', 'hangup'], h);
    assert.ok(played.includes('transfer.insufficient'));
    assert.equal(h.accounts.get('a-1001-cur')!.balanceMinor, before);
  });

  test('a host that never answers times out on the scheduler, not the wall clock', async () => {
    // The sped-up simulation hands the session a scheduler: its bank timeout must be that
    // scheduler's 5 s, not 5 s of real time. Virtual time here: nothing waits for real.
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    h.setFault('balances', { kind: 'hang' });
    const scheduler = new VirtualScheduler(T0);
    const watch = bankWatch();
    const realStart = performance.now();
    let done = false;
    const running = call(RETAIL, ['1', '135790', 'hangup'], h, {
      bankTimeoutMs: 5_000,
      scheduler,
      onStep: watch.onStep,
    }).finally(() => (done = true));
    await watch.reached('balances');
    await scheduler.advance(4_999);
    assert.equal(done, false, 'still waiting on the host 1 ms before the timeout');
    assert.equal(watch.waitingOn(), 'balances');
    await scheduler.advance(1);
    await until('the session goes on after the timeout', () => done);
    const { played, steps, result } = await running;
    const fired = steps.find((s) => s.event.type === 'timer-fired');
    assert.ok(fired, 'the bank timer fired');
    assert.ok(played.includes('bank.host_error'), played.join(','));
    assert.deepEqual(result.outcome, { type: 'ended', reason: 'caller-hung-up' });
    assert.equal(scheduler.now(), T0 + 5_000);
    assert.equal(scheduler.pending(), 0, 'no timer left behind');
    assert.ok(performance.now() - realStart < 5_000, 'no real 5 s wait');
  });

  test('a caller who says nothing ends at an agent after the retries', async () => {
    const { result } = await call(
      '',
      ['timeout', 'timeout', 'timeout', 'timeout', 'timeout', 'timeout'],
      host,
    );
    assert.equal(result.outcome.type, 'transfer');
  });
});

/**
 * Directories normalise the ANI (shared/domain/phone.ts); the session passes it on as the
 * trunk delivered it. These two stand in for the real ones: one maps a non-number to "not
 * found" (the site directories), one refuses it (the hub's invalid-argument).
 */
class NormalisingDirectory extends MemoryDirectory {
  readonly asked: string[] = [];
  constructor(private readonly strict: boolean) {
    super();
  }
  override byPhone(phone: string, _purpose?: ReadPurpose): Promise<CustomerProfile | undefined> {
    this.asked.push(phone);
    try {
      const canonical = this.strict ? normalizePhone(phone) : tryNormalizePhone(phone);
      return canonical === undefined ? Promise.resolve(undefined) : super.byPhone(canonical);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
  }
}

describe('caller numbers as trunks deliver them', () => {
  let host: InMemoryBankHost;
  beforeAll(async () => {
    host = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
  });

  test('a formatted or prefixed ANI reaches the directory unchanged and recognises the customer', async () => {
    for (const ani of ['+8613800000001', '013800000001', '138 0000 0001']) {
      const directory = new NormalisingDirectory(false);
      const { result } = await call(ani, ['1', '135790', '1', '0'], host, { directory });
      assert.deepEqual(directory.asked, [ani]);
      assert.equal(result.outcome.type, 'transfer', ani);
      if (result.outcome.type === 'transfer') assert.equal(result.outcome.attached.customerId, 'c-1001', ani);
    }
  });

  test('an ANI that is not a phone number is an unrecognised caller, never a failed call', async () => {
    for (const strict of [false, true]) {
      for (const ani of ['anonymous', 'unknown', 'Restricted', '']) {
        const directory = new NormalisingDirectory(strict);
        const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
        // Identified by card instead, exactly like a caller from an unknown number.
        const { sinks, played } = await call(ani, ['6222020000003001#', '3', '1', 'hangup'], h, {
          directory,
        });
        assert.equal(h.cardStatus('6222020000003001'), 'stopped', `${String(strict)} ${ani}`);
        assert.equal(sinks.tickets[0]?.kind, 'card-loss');
        assert.ok(!played.some((p) => /error|sorry|technical/.test(p)), played.join(','));
        // An empty caller id is not even looked up.
        assert.deepEqual(directory.asked, ani === '' ? [] : [ani]);
      }
    }
  });
});
