import { beforeEach, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError, isDomainError } from '../errors.js';
import { silentLogger } from '../log.js';
import type { DemoLedgerCustomer } from './demo.js';
import { InMemoryBankHost } from './memory.js';
import { RoutingBankHost, type HomeResolver } from './routing.js';

/** One customer per site: 'cq' is local, 'cd' is a reachable remote, 'xa' has no host here. */
const cust = (site: string, n: string): DemoLedgerCustomer => ({
  customerId: `${site}-c${n}`,
  pin: '123456',
  accounts: [
    { accountId: `${site}-a${n}-cur`, type: 'current', currency: 'CNY', openingMinor: 100_000 },
    { accountId: `${site}-a${n}-dep`, type: 'deposit', currency: 'CNY', openingMinor: 0 },
  ],
  cards: [
    {
      cardNumber: `6222${site === 'cq' ? '01' : site === 'cd' ? '02' : '03'}${n}`,
      accountId: `${site}-a${n}-cur`,
      pin: '654321',
    },
  ],
});

/** The cache's knowledge of homes, as plain maps. */
class MapResolver implements HomeResolver {
  constructor(
    private readonly customers: DemoLedgerCustomer[],
    private readonly homes: Map<string, string>,
  ) {}
  private find(pred: (c: DemoLedgerCustomer) => boolean): Promise<string | undefined> {
    const c = this.customers.find(pred);
    return Promise.resolve(c ? this.homes.get(c.customerId) : undefined);
  }
  byCustomer(id: string) {
    return this.find((c) => c.customerId === id);
  }
  byAccount(id: string) {
    return this.find((c) => c.accounts.some((a) => a.accountId === id));
  }
  byCard(card: string) {
    return this.find((c) => c.cards.some((k) => k.cardNumber === card));
  }
}

describe('RoutingBankHost', () => {
  const cq = cust('cq', '001');
  const cd = cust('cd', '001');
  const xa = cust('xa', '001');
  const homes = new Map([
    [cq.customerId, 'cq'],
    [cd.customerId, 'cd'],
    [xa.customerId, 'xa'],
  ]);
  let local: InMemoryBankHost;
  let remote: InMemoryBankHost;
  let router: RoutingBankHost;

  beforeEach(async () => {
    local = await InMemoryBankHost.withCustomers([cq]);
    remote = await InMemoryBankHost.withCustomers([cd]);
    router = new RoutingBankHost({
      localSiteId: 'cq',
      local,
      remotes: new Map([['cd', remote]]),
      resolveHome: new MapResolver([cq, cd, xa], homes),
      log: silentLogger,
    });
  });

  const clearCalls = () => {
    local.calls.length = 0;
    remote.calls.length = 0;
  };

  test("a roaming customer's wrong PINs lock them at their home host, where an unlock goes too", async () => {
    // Two wrong PINs at the home site's own host, one through this site: the third locks.
    await remote.verifyPin({ customerId: cd.customerId }, '000000');
    await remote.verifyPin({ customerId: cd.customerId }, '000000');
    const r = await router.verifyPin({ customerId: cd.customerId }, '000000');
    assert.equal(r.locked, true);
    assert.equal((await router.verifyPin({ customerId: cd.customerId }, '123456')).locked, true);
    assert.equal(remote.pinLocks.length, 1);
    assert.deepEqual(local.pinLocks, []);
    clearCalls();
    assert.deepEqual(
      await router.unlockPin({ customerId: cd.customerId, by: 'agent-1', reason: 'verified' }),
      {
        customerId: cd.customerId,
        status: 'unlocked',
      },
    );
    assert.deepEqual(remote.calls, ['unlockPin']);
    assert.deepEqual(local.calls, []);
    assert.equal((await router.verifyPin({ customerId: cd.customerId }, '123456')).verified, true);
  });

  test('reads go to the home host: verifyPin by customer and card, balances, recent transactions', async () => {
    clearCalls();
    assert.deepEqual(await router.verifyPin({ customerId: cd.customerId }, '123456'), {
      verified: true,
      customerId: cd.customerId,
    });
    assert.equal((await router.verifyPin({ cardNumber: cd.cards[0]!.cardNumber }, '654321')).verified, true);
    const bal = await router.balances(cd.customerId);
    assert.deepEqual(
      bal.map((b) => b.accountId),
      [`cd-a001-cur`, `cd-a001-dep`],
    );
    const tx = await router.recentTransactions('cd-a001-cur', 5);
    assert.equal(tx[0]!.kind, 'opening');
    assert.deepEqual(remote.calls, ['verifyPin', 'verifyPin', 'balances', 'recentTransactions']);
    assert.deepEqual(local.calls, []);

    // The site's own customer stays local.
    assert.equal((await router.verifyPin({ customerId: cq.customerId }, '123456')).verified, true);
    assert.equal((await router.balances(cq.customerId)).length, 2);
    assert.deepEqual(local.calls, ['verifyPin', 'balances']);
    assert.equal(remote.calls.length, 4);
  });

  test('transfer and payBill post on the home host of the debited account', async () => {
    clearCalls();
    const t = await router.transfer({
      idempotencyKey: 'k-t1',
      fromAccountId: 'cd-a001-cur',
      toAccountId: 'cd-a001-dep',
      amountMinor: 1_000,
      currency: 'CNY',
    });
    assert.equal(t.status, 'posted');
    const b = await router.payBill({
      idempotencyKey: 'k-b1',
      fromAccountId: 'cd-a001-cur',
      payee: 'utility-water',
      billRef: 'W-1',
      amountMinor: 500,
    });
    assert.equal(b.status, 'posted');
    assert.equal(remote.accounts.get('cd-a001-cur')!.balanceMinor, 100_000 - 1_500);
    assert.deepEqual(remote.calls, ['transfer', 'payBill']);
    assert.deepEqual(local.calls, []);

    await router.transfer({
      idempotencyKey: 'k-t2',
      fromAccountId: 'cq-a001-cur',
      toAccountId: 'cq-a001-dep',
      amountMinor: 200,
      currency: 'CNY',
    });
    assert.equal(local.accounts.get('cq-a001-cur')!.balanceMinor, 100_000 - 200);
    assert.deepEqual(local.calls, ['transfer']);
  });

  test('reverse goes where the original went, by idempotency key or by posting id', async () => {
    const req = {
      idempotencyKey: 'k-r1',
      fromAccountId: 'cd-a001-cur',
      toAccountId: 'cd-a001-dep',
      amountMinor: 3_000,
      currency: 'CNY',
    };
    await router.transfer(req);
    clearCalls();
    const r = await router.reverse({ idempotencyKey: 'k-r1', reason: 'reply lost' });
    assert.equal(r.status, 'reversed');
    assert.deepEqual(remote.calls, ['reverse']);
    assert.deepEqual(local.calls, []);
    assert.equal(remote.accounts.get('cd-a001-cur')!.balanceMinor, 100_000);

    const bill = await router.payBill({
      idempotencyKey: 'k-r2',
      fromAccountId: 'cd-a001-cur',
      payee: 'phone',
      billRef: 'P-9',
      amountMinor: 700,
    });
    clearCalls();
    const r2 = await router.reverse({ postingId: bill.postingId, reason: 'customer request' });
    assert.equal(r2.originalPostingId, bill.postingId);
    assert.deepEqual(remote.calls, ['reverse']);
    assert.equal(remote.accounts.get('cd-a001-cur')!.balanceMinor, 100_000);
  });

  test('a transfer whose reply was lost is still reversed on the host that applied it', async () => {
    remote.setFault('transfer', { kind: 'error', error: new DomainError('deadline-exceeded', 'lost') });
    await assert.rejects(
      router.transfer({
        idempotencyKey: 'k-lost',
        fromAccountId: 'cd-a001-cur',
        toAccountId: 'cd-a001-dep',
        amountMinor: 100,
        currency: 'CNY',
      }),
      (e) => isDomainError(e, 'deadline-exceeded'),
    );
    clearCalls();
    const r = await router.reverse({ idempotencyKey: 'k-lost', reason: 'timeout' });
    assert.equal(r.status, 'nothing-to-reverse');
    assert.deepEqual(remote.calls, ['reverse']);
    assert.deepEqual(local.calls, []);
  });

  test('an unknown reversal, an unknown home and rates are served locally', async () => {
    clearCalls();
    assert.equal(
      (await router.reverse({ idempotencyKey: 'never-seen', reason: 'x' })).status,
      'nothing-to-reverse',
    );
    assert.deepEqual(await router.balances('nobody'), []);
    await assert.rejects(router.recentTransactions('no-such-account', 3), (e) =>
      isDomainError(e, 'not-found'),
    );
    assert.ok((await router.rates()).deposit.length > 0);
    assert.deepEqual(local.calls, ['reverse', 'balances', 'recentTransactions', 'rates']);
    assert.deepEqual(remote.calls, []);
  });

  test('reportCardLoss stops the card on its home host', async () => {
    clearCalls();
    const r = await router.reportCardLoss(cd.cards[0]!.cardNumber);
    assert.equal(r.customerId, cd.customerId);
    assert.equal(remote.cardStatus(cd.cards[0]!.cardNumber), 'stopped');
    assert.deepEqual(remote.calls, ['reportCardLoss']);
    assert.deepEqual(local.calls, []);
  });

  test('a home site with no reachable host: unavailable, and nothing is posted anywhere', async () => {
    clearCalls();
    const unavailable = (e: unknown) =>
      isDomainError(e, 'unavailable') && /site xa is not reachable from site cq/.test(e.message);
    await assert.rejects(router.verifyPin({ customerId: xa.customerId }, '123456'), unavailable);
    await assert.rejects(router.verifyPin({ cardNumber: xa.cards[0]!.cardNumber }, '654321'), unavailable);
    await assert.rejects(router.balances(xa.customerId), unavailable);
    await assert.rejects(router.recentTransactions('xa-a001-cur', 5), unavailable);
    await assert.rejects(
      router.transfer({
        idempotencyKey: 'k-x1',
        fromAccountId: 'xa-a001-cur',
        toAccountId: 'cq-a001-cur',
        amountMinor: 100,
        currency: 'CNY',
      }),
      unavailable,
    );
    await assert.rejects(
      router.payBill({
        idempotencyKey: 'k-x2',
        fromAccountId: 'xa-a001-cur',
        payee: 'phone',
        billRef: 'P',
        amountMinor: 100,
      }),
      unavailable,
    );
    await assert.rejects(router.reportCardLoss(xa.cards[0]!.cardNumber), unavailable);
    assert.deepEqual(local.calls, []);
    assert.deepEqual(remote.calls, []);
    const postings = (h: InMemoryBankHost) => h.postings.filter((p) => p.kind !== 'opening').length;
    assert.equal(postings(local), 0);
    assert.equal(postings(remote), 0);
  });

  test('the route memory is bounded', async () => {
    const small = new RoutingBankHost({
      localSiteId: 'cq',
      local,
      remotes: new Map([['cd', remote]]),
      resolveHome: new MapResolver([cq, cd], homes),
      log: silentLogger,
      maxRemembered: 4,
    });
    for (let i = 0; i < 5; i++) {
      await small.transfer({
        idempotencyKey: `k-${i}`,
        fromAccountId: 'cd-a001-cur',
        toAccountId: 'cd-a001-dep',
        amountMinor: 10,
        currency: 'CNY',
      });
    }
    clearCalls();
    // The oldest route is forgotten: the reversal falls back to the local host.
    assert.equal((await small.reverse({ idempotencyKey: 'k-0', reason: 'x' })).status, 'nothing-to-reverse');
    assert.deepEqual(local.calls, ['reverse']);
    // The newest is remembered.
    assert.equal((await small.reverse({ idempotencyKey: 'k-4', reason: 'x' })).status, 'reversed');
    assert.deepEqual(remote.calls, ['reverse']);
  });
});
