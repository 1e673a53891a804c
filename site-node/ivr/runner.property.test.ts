/**
 * Property: whatever a caller presses (random keys, silences, PINs right and wrong) and however
 * the host answers (results, errors, no answer at all), the runner never throws, always ends in
 * a transfer or a hangup within a bounded number of events, and never puts a PIN into a
 * command, the state, the ivr path or the attached data.
 */
import { test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ivrStep, newIvrState } from './runner.js';
import { DEMO_PROFILES, loadPhoneBanking } from './test-support.js';
import type { IvrCommand, IvrEvent } from './types.js';

const { flow } = loadPhoneBanking();
const GOOD_PIN = '135790';
const BAD_PIN = '864209';
const MAX_EVENTS = flow.settings.maxEvents + 5;

type Input = { kind: 'keys'; keys: string } | { kind: 'timeout' } | { kind: 'hangup' };
type HostMode = 'ok' | 'error' | 'timeout' | 'refuse';

const input: fc.Arbitrary<Input> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc
      .constantFrom('0', '1', '2', '3', '4', '5', '6', '9', '7', '*', '')
      .map((keys) => ({ kind: 'keys' as const, keys })),
  },
  {
    weight: 2,
    arbitrary: fc.constantFrom(GOOD_PIN, BAD_PIN).map((keys) => ({ kind: 'keys' as const, keys })),
  },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom('100', '5*5', '12345678', '6222020000001001', '6222020000003001', '99999999999', '0')
      .map((keys) => ({ kind: 'keys' as const, keys })),
  },
  { weight: 2, arbitrary: fc.constant({ kind: 'timeout' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'hangup' as const }) },
);

function hostAnswer(
  cmd: Extract<IvrCommand, { type: 'bank-request' }>,
  mode: HostMode,
): IvrEvent | undefined {
  const { requestId } = cmd;
  if (mode === 'timeout') return { type: 'timer-fired', timerId: `${requestId}:timeout` };
  if (mode === 'error')
    return { type: 'bank-result', requestId, ok: false, error: { kind: 'unavailable', message: 'down' } };
  if (mode === 'refuse')
    return {
      type: 'bank-result',
      requestId,
      ok: false,
      error: { kind: 'failed-precondition', message: 'no' },
    };
  const value: unknown = (() => {
    switch (cmd.op) {
      case 'verifyPin':
        return cmd.args.pin.reveal() === GOOD_PIN
          ? { verified: true, customerId: 'c-1001' }
          : { verified: false };
      case 'balances':
        return [
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
            balanceMinor: 5_000,
            status: 'active',
          },
        ];
      case 'recentTransactions':
        return [
          {
            postingId: 'p1',
            accountId: 'a-1',
            atMs: 0,
            amountMinor: -100,
            currency: 'CNY',
            kind: 'transfer',
            memo: '',
          },
        ];
      case 'transfer':
      case 'payBill':
        return { postingId: 'p-9', status: 'posted' };
      case 'reverse':
        return { status: 'reversed' };
      case 'reportCardLoss':
        return {
          cardLast4: '1001',
          customerId: 'c-1001',
          status: 'stopped',
          stoppedAtMs: 1,
          alreadyStopped: false,
        };
      case 'rates':
        return {
          deposit: [{ termMonths: 3, annualPercent: 0.8 }],
          fx: [{ currency: 'USD', buy: 1, sell: 2 }],
        };
    }
  })();
  return { type: 'bank-result', requestId, ok: true, value };
}

test('random callers and hosts: no crash, bounded, no PIN anywhere', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(0, 1, 2, 3),
      fc.array(input, { maxLength: 80 }),
      fc.array(fc.constantFrom<HostMode>('ok', 'ok', 'ok', 'error', 'timeout', 'refuse'), {
        minLength: 1,
        maxLength: 20,
      }),
      (who, script, hostModes) => {
        const customer = who < 3 ? DEMO_PROFILES[who] : undefined;
        let state = newIvrState('prop');
        const queue: IvrEvent[] = [
          {
            type: 'call-started',
            ani: customer?.phones[0] ?? '',
            dnis: '95588',
            ...(customer ? { customer } : {}),
          },
        ];
        let si = 0;
        let hi = 0;
        let events = 0;
        const seen: unknown[] = [];
        // A caller may type the PIN's digits at a non-PIN prompt (say, as a bill number); only
        // digits that were typed at PIN prompts alone must never show up.
        const typedInClear = new Set<string>();
        while (state.status !== 'transferred' && state.status !== 'ended') {
          const ev = queue.shift();
          assert.ok(ev, `the runner is waiting on nothing at node ${state.node}`);
          events++;
          assert.ok(events <= MAX_EVENTS, 'bounded number of events');
          const r = ivrStep(flow, state, ev, 1000 * events);
          state = r.state;
          seen.push(r.commands, state);
          for (const c of r.commands) {
            if (c.type === 'collect-digits') {
              const step = script[si++];
              // Once the script runs out the caller stays silent.
              if (!step || step.kind === 'timeout') queue.push({ type: 'digits-timeout' });
              else if (step.kind === 'hangup') queue.push({ type: 'caller-hung-up' });
              else {
                if (!c.secret) typedInClear.add(step.keys);
                queue.push({ type: 'digits', digits: step.keys });
              }
            } else if (c.type === 'bank-request') {
              const ans = hostAnswer(c, hostModes[hi++ % hostModes.length]!);
              if (ans) queue.push(ans);
            } else if ((c.type === 'create-ticket' || c.type === 'schedule-callback') && c.awaited) {
              // The store takes it, or not (its outage), as the host answers or not.
              const recordId = c.type === 'create-ticket' ? c.ticketId : c.callbackId;
              const ok = hostModes[hi++ % hostModes.length] !== 'error';
              queue.push({ type: 'record-result', recordId, ok });
            } else if (c.type === 'lookup-customer') {
              const found = DEMO_PROFILES.find((p) => p.cards.includes(c.value));
              queue.push({
                type: 'lookup-result',
                requestId: c.requestId,
                ...(found ? { customer: found } : {}),
              });
            }
          }
        }
        const text = JSON.stringify(seen);
        for (const pin of [GOOD_PIN, BAD_PIN]) {
          if (!typedInClear.has(pin))
            assert.ok(!text.includes(pin), 'no PIN in commands, state, path or attached data');
        }
      },
    ),
    { numRuns: 400 },
  );
});
