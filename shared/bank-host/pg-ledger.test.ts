/**
 * The reference ledger on real Postgres (a private database per run; needs TEST_PG_URL, which
 * `npm test` sets). Skipped, loudly, in the `--unit` tier that runs without services.
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createPool } from '../pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { isDomainError } from '../errors.js';
import { DEMO_LEDGER_CUSTOMERS } from './demo.js';
import { applyLedgerMigrations } from './migrate.js';
import { PgLedgerBankHost, seedDemoLedger } from './pg-ledger.js';
import { verifyPinHash } from './pin.js';

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (run with npm test)';

describe.skipIf(skip)('pg ledger', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let host: PgLedgerBankHost;

  beforeAll(async () => {
    db = await freshDatabase('ledger');
    pool = createPool(db.url, { applicationName: 'test/ledger', max: 6 });
    const applied = await applyLedgerMigrations(pool);
    assert.deepEqual(applied, ['001_ledger.sql', '002_pin_lock.sql']);
    assert.deepEqual(await applyLedgerMigrations(pool), [], 'a second run applies nothing');
    await seedDemoLedger(pool, DEMO_LEDGER_CUSTOMERS);
    await seedDemoLedger(pool, DEMO_LEDGER_CUSTOMERS); // idempotent
    host = new PgLedgerBankHost(pool);
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });

  const balance = async (id: string) =>
    Number(
      (await pool.query('SELECT balance_minor FROM ledger.accounts WHERE account_id = $1', [id])).rows[0]
        .balance_minor,
    );

  async function assertBooksBalanced() {
    const unbalanced = await pool.query(
      'SELECT posting_id FROM ledger.entries GROUP BY posting_id, currency HAVING sum(amount_minor) <> 0',
    );
    assert.equal(unbalanced.rowCount, 0, 'every posting sums to zero');
    const total = await pool.query(
      'SELECT currency, sum(balance_minor)::bigint AS s FROM ledger.accounts GROUP BY currency',
    );
    for (const r of total.rows) assert.equal(Number(r.s), 0, `all ${r.currency} balances sum to zero`);
    const drift = await pool.query(
      `SELECT a.account_id FROM ledger.accounts a LEFT JOIN ledger.entries e USING (account_id)
        GROUP BY a.account_id, a.balance_minor HAVING a.balance_minor <> coalesce(sum(e.amount_minor), 0)`,
    );
    assert.equal(drift.rowCount, 0, 'balances equal the sum of their entries');
  }

  test('seeded balances, rates, and double entry sums to zero', async () => {
    const b = await host.balances('c-1001');
    assert.deepEqual(
      b.map((x) => [x.accountId, x.type, x.balanceMinor]),
      [
        ['a-1001-cur', 'current', 1_250_000],
        ['a-1001-dep', 'deposit', 5_000_000],
      ],
    );
    const r = await host.rates();
    assert.ok(r.deposit.length > 0 && r.fx.some((f) => f.currency === 'USD'));
    await assertBooksBalanced();
  });

  test('the PIN hash never equals the PIN; a wrong PIN is refused, the right one accepted', async () => {
    const rows = (
      await pool.query('SELECT pin_hash FROM ledger.customers UNION ALL SELECT pin_hash FROM ledger.cards')
    ).rows;
    const pins = DEMO_LEDGER_CUSTOMERS.flatMap((c) => [c.pin, ...c.cards.map((k) => k.pin)]);
    for (const r of rows)
      for (const p of pins) assert.ok(!r.pin_hash.includes(p), 'no PIN inside a stored hash');
    assert.deepEqual(await host.verifyPin({ customerId: 'c-1001' }, '000000'), { verified: false });
    assert.deepEqual(await host.verifyPin({ customerId: 'c-1001' }, '135790'), {
      verified: true,
      customerId: 'c-1001',
    });
    assert.deepEqual(await host.verifyPin({ cardNumber: '6222020000001001' }, '135790'), {
      verified: true,
      customerId: 'c-1001',
    });
    assert.deepEqual(await host.verifyPin({ cardNumber: '6222020000009999' }, '135790'), { verified: false });
  });

  test("a PIN's hash is checked holding no pooled connection and no row lock: one customer's calls do not starve the pool", async () => {
    // The site's store shares this pool: a check of tens of ms inside the transaction held a
    // connection and the customer's row, so concurrent calls of one customer queued on the lock,
    // each holding a connection (docs/operations.md §8.7).
    const small = createPool(db.url, { applicationName: 'test/ledger-pin', max: 2 });
    try {
      const checkedOut: number[] = [];
      const rowFree: boolean[] = [];
      const watched = new PgLedgerBankHost(small, {
        checkPinHash: async (pin, hash) => {
          checkedOut.push(small.totalCount - small.idleCount);
          // Another connection can take the customer's row at once: nobody holds it.
          const probe = await pool.connect();
          try {
            await probe.query('BEGIN');
            await probe.query("SET LOCAL lock_timeout = '200ms'");
            rowFree.push(
              await probe
                .query("SELECT 1 FROM ledger.customers WHERE customer_id = 'c-1001' FOR UPDATE")
                .then(
                  () => true,
                  () => false,
                ),
            );
          } finally {
            await probe.query('ROLLBACK');
            probe.release();
          }
          return verifyPinHash(pin, hash);
        },
      });
      // One at a time: what each attempt holds while its own hash is checked.
      assert.deepEqual(await watched.verifyPin({ customerId: 'c-1001' }, '135790'), {
        verified: true,
        customerId: 'c-1001',
      });
      assert.deepEqual(await watched.verifyPin({ customerId: 'c-1001' }, '000000'), { verified: false });
      assert.deepEqual(await watched.verifyPin({ cardNumber: '6222020000001001' }, '135790'), {
        verified: true,
        customerId: 'c-1001',
      });
      assert.deepEqual(checkedOut, [0, 0, 0], 'no connection of the pool is held while a hash is checked');
      assert.deepEqual(rowFree, [true, true, true], "the customer's row is free while a hash is checked");
    } finally {
      await small.end();
    }
  });

  test('a transfer writes balanced entries; a retry with the same key moves money once', async () => {
    const req = {
      idempotencyKey: 'k-retry',
      fromAccountId: 'a-1001-cur',
      toAccountId: 'a-1001-dep',
      amountMinor: 10_000,
      currency: 'CNY',
      memo: 'save',
    };
    const before = [await balance('a-1001-cur'), await balance('a-1001-dep')];
    const first = await host.transfer(req);
    const again = await host.transfer(req);
    assert.deepEqual(again, first);
    assert.equal(first.status, 'posted');
    assert.deepEqual(
      [await balance('a-1001-cur'), await balance('a-1001-dep')],
      [before[0]! - 10_000, before[1]! + 10_000],
    );
    const entries = (
      await pool.query('SELECT amount_minor FROM ledger.entries WHERE posting_id = $1', [first.postingId])
    ).rows;
    assert.deepEqual(
      entries.map((e) => Number(e.amount_minor)).sort((a, b) => a - b),
      [-10_000, 10_000],
    );
    await assert.rejects(host.transfer({ ...req, amountMinor: 10_001 }), (e) => isDomainError(e, 'conflict'));
    await assertBooksBalanced();
  });

  test('concurrent transfers with the same key move money once', async () => {
    const req = {
      idempotencyKey: 'k-race',
      fromAccountId: 'a-2001-cur',
      toAccountId: 'a-2001-dep',
      amountMinor: 7_777,
      currency: 'CNY',
    };
    const before = await balance('a-2001-cur');
    const results = await Promise.all([host.transfer(req), host.transfer(req), host.transfer(req)]);
    assert.equal(new Set(results.map((r) => r.postingId)).size, 1);
    assert.equal(await balance('a-2001-cur'), before - 7_777);
    await assertBooksBalanced();
  });

  test('concurrent different transfers on the same accounts never overdraw', async () => {
    // c-3001 has 300.00; ten concurrent 50.00 transfers: exactly six succeed.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, (_, i) =>
        host.payBill({
          idempotencyKey: `k-bill-${i}`,
          fromAccountId: 'a-3001-cur',
          payee: 'utility-water',
          billRef: `W${i}`,
          amountMinor: 5_000,
        }),
      ),
    );
    assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 6);
    for (const o of outcomes)
      if (o.status === 'rejected') assert.ok(isDomainError(o.reason, 'failed-precondition'));
    assert.equal(await balance('a-3001-cur'), 0);
    assert.equal(await balance('clearing-utility-water'), 30_000);
    await assertBooksBalanced();
  });

  test('insufficient funds changes nothing (and the key stays free)', async () => {
    const before = await balance('a-1001-cur');
    const postings = (await pool.query('SELECT count(*)::int AS n FROM ledger.postings')).rows[0].n;
    const req = {
      idempotencyKey: 'k-big',
      fromAccountId: 'a-1001-cur',
      toAccountId: 'a-1001-dep',
      amountMinor: 999_999_999,
      currency: 'CNY',
    };
    await assert.rejects(host.transfer(req), (e) => isDomainError(e, 'failed-precondition'));
    assert.equal(await balance('a-1001-cur'), before);
    assert.equal((await pool.query('SELECT count(*)::int AS n FROM ledger.postings')).rows[0].n, postings);
    assert.equal((await pool.query(`SELECT 1 FROM ledger.idempotency_keys WHERE key = 'k-big'`)).rowCount, 0);
    await assert.rejects(host.transfer({ ...req, fromAccountId: 'nope' }), (e) =>
      isDomainError(e, 'not-found'),
    );
  });

  test('overdraft line lets a current account go below zero only that far', async () => {
    const cur = await balance('a-2001-cur');
    const r = await host.transfer({
      idempotencyKey: 'k-od',
      fromAccountId: 'a-2001-cur',
      toAccountId: 'a-2001-dep',
      amountMinor: cur + 500_000,
      currency: 'CNY',
    });
    assert.equal(r.status, 'posted');
    assert.equal(await balance('a-2001-cur'), -500_000);
    await assert.rejects(
      host.transfer({
        idempotencyKey: 'k-od2',
        fromAccountId: 'a-2001-cur',
        toAccountId: 'a-2001-dep',
        amountMinor: 500_001,
        currency: 'CNY',
      }),
      (e) => isDomainError(e, 'failed-precondition'),
    );
  });

  test('reversal restores balances, is idempotent, and a key reversed first voids a late original', async () => {
    const before = [await balance('a-1001-cur'), await balance('a-1001-dep')];
    const req = {
      idempotencyKey: 'k-rev',
      fromAccountId: 'a-1001-cur',
      toAccountId: 'a-1001-dep',
      amountMinor: 12_345,
      currency: 'CNY',
    };
    const t = await host.transfer(req);
    const r1 = await host.reverse({ idempotencyKey: 'k-rev', reason: 'host timeout' });
    const r2 = await host.reverse({ postingId: t.postingId, reason: 'again' });
    assert.equal(r1.status, 'reversed');
    assert.deepEqual(r2, r1);
    assert.deepEqual([await balance('a-1001-cur'), await balance('a-1001-dep')], before);
    assert.deepEqual(await host.transfer(req), { postingId: t.postingId, status: 'reversed' });

    const v = await host.reverse({ idempotencyKey: 'k-never-arrived', reason: 'timeout' });
    assert.equal(v.status, 'nothing-to-reverse');
    await assert.rejects(host.transfer({ ...req, idempotencyKey: 'k-never-arrived' }), (e) =>
      isDomainError(e, 'failed-precondition'),
    );
    assert.deepEqual([await balance('a-1001-cur'), await balance('a-1001-dep')], before);
    const lines = await host.recentTransactions('a-1001-cur', 2);
    assert.deepEqual(
      lines.map((l) => [l.kind, l.amountMinor]),
      [
        ['reversal', 12_345],
        ['transfer', -12_345],
      ],
    );
    await assertBooksBalanced();
  });

  test('card loss stops the card at once, idempotently', async () => {
    const r = await host.reportCardLoss('6222020000001001');
    assert.equal(r.status, 'stopped');
    assert.equal(r.alreadyStopped, false);
    assert.equal(r.cardLast4, '1001');
    assert.equal((await host.reportCardLoss('6222020000001001')).alreadyStopped, true);
    assert.equal(
      (await pool.query(`SELECT status FROM ledger.cards WHERE card_number = '6222020000001001'`)).rows[0]
        .status,
      'stopped',
    );
    await assert.rejects(
      host.reportCardLoss('6222020000000000'),
      (e) => isDomainError(e, 'not-found') && !/6222020000000000/.test(e.message),
    );
  });

  test('an unbalanced posting is refused at commit by the ledger itself', async () => {
    const c = await pool.connect();
    try {
      await c.query('BEGIN');
      await c.query(`INSERT INTO ledger.postings (posting_id, kind, at_ms) VALUES ('bad', 'transfer', 0)`);
      await c.query(
        `INSERT INTO ledger.entries (posting_id, account_id, amount_minor, currency) VALUES ('bad', 'a-1001-cur', 5, 'CNY')`,
      );
      await assert.rejects(c.query('COMMIT'), /not balanced/);
    } finally {
      await c.query('ROLLBACK').catch(() => {});
      c.release();
    }
  });
});
