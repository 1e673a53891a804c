import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { isDomainError } from '../errors.js';
import { DEMO_LEDGER_CUSTOMERS } from './demo.js';
import { InMemoryBankHost } from './memory.js';

describe('in-memory bank host (same semantics as the ledger)', () => {
  test('idempotent transfer, conflict on a changed request, reversal, voided key', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    const req = {
      idempotencyKey: 'k1',
      fromAccountId: 'a-1001-cur',
      toAccountId: 'a-1001-dep',
      amountMinor: 500,
      currency: 'CNY',
    };
    const p = await h.transfer(req);
    assert.deepEqual(await h.transfer(req), p);
    assert.equal(h.accounts.get('a-1001-cur')!.balanceMinor, 1_250_000 - 500);
    await assert.rejects(h.transfer({ ...req, amountMinor: 1 }), (e) => isDomainError(e, 'conflict'));
    const r = await h.reverse({ idempotencyKey: 'k1', reason: 't' });
    assert.equal(r.status, 'reversed');
    assert.deepEqual(await h.reverse({ postingId: p.postingId, reason: 't' }), r);
    assert.equal(h.accounts.get('a-1001-cur')!.balanceMinor, 1_250_000);
    assert.equal((await h.reverse({ idempotencyKey: 'k2', reason: 't' })).status, 'nothing-to-reverse');
    await assert.rejects(h.transfer({ ...req, idempotencyKey: 'k2' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    const total = [...h.accounts.values()].reduce(
      (s, a) => s + (a.currency === 'CNY' ? a.balanceMinor : 0),
      0,
    );
    assert.equal(total, 0, 'books balance');
  });
  test('insufficient funds, unknown account, PINs, card loss, faults', async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    await assert.rejects(
      h.transfer({
        idempotencyKey: 'x',
        fromAccountId: 'a-3001-cur',
        toAccountId: 'a-1001-cur',
        amountMinor: 30_001,
        currency: 'CNY',
      }),
      (e) => isDomainError(e, 'failed-precondition'),
    );
    await assert.rejects(
      h.balances('c-1001').then(() => h.recentTransactions('nope', 1)),
      (e) => isDomainError(e, 'not-found'),
    );
    assert.deepEqual(await h.verifyPin({ customerId: 'c-1001' }, '000000'), { verified: false });
    assert.deepEqual(await h.verifyPin({ cardNumber: '6222020000001001' }, '135790'), {
      verified: true,
      customerId: 'c-1001',
    });
    assert.equal((await h.reportCardLoss('6222020000001001')).status, 'stopped');
    assert.equal(h.cardStatus('6222020000001001'), 'stopped');
    h.setFault('rates', { kind: 'hang' });
    const raced = await Promise.race([
      h.rates().then(() => 'answered'),
      new Promise((r) => setTimeout(() => r('hung'), 20)),
    ]);
    assert.equal(raced, 'hung');
  });
});
