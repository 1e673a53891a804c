/**
 * Both BankHost adapters refuse the same bad requests with the same error: one table, run
 * against the in-memory host and against the reference ledger on real Postgres (a private
 * database; skipped, loudly, without TEST_PG_URL). Each row says the error kind and, for a
 * malformed request, the field it names; every refusal leaves the books as they were, and
 * comes as a rejected promise (never a synchronous throw the caller's `.catch` would miss).
 */
import { afterAll, beforeAll, describe, test } from 'vitest';
import assert from 'node:assert/strict';
import type pg from 'pg';
import { createPool } from '../pg/pool.js';
import { freshDatabase, type TestDatabase } from '../../test/support/pg.js';
import { DomainError, type ErrorKind } from '../errors.js';
import { DEMO_LEDGER_CUSTOMERS } from './demo.js';
import { InMemoryBankHost } from './memory.js';
import { applyLedgerMigrations } from './migrate.js';
import { PgLedgerBankHost, seedDemoLedger } from './pg-ledger.js';
import type { BankHost, PayBillRequest, PayeeKind, TransferRequest } from './port.js';

/** One adapter with the few hooks the table needs to set up state it cannot reach by the port. */
interface Subject {
  host: BankHost;
  setStatus(accountId: string, status: 'active' | 'stopped'): Promise<void>;
  openingPostingOf(accountId: string): Promise<string>;
  /** Every balance and the number of postings, to show a refusal changed nothing. */
  books(): Promise<string>;
}

interface Row {
  name: string;
  /** Runs before the refused call (and is not part of what must stay unchanged). */
  setup?: (s: Subject) => Promise<void>;
  teardown?: (s: Subject) => Promise<void>;
  call: (s: Subject) => Promise<unknown>;
  kind: ErrorKind;
  /** The field a malformed request's error names; undefined for state-dependent refusals. */
  field?: string;
}

/** A fresh key per request, so a row the host wrongly accepts cannot spoil the next one. */
let keys = 0;
const transfer = (over: Partial<TransferRequest>): TransferRequest => ({
  idempotencyKey: `k-bad-${++keys}`,
  fromAccountId: 'a-1001-cur',
  toAccountId: 'a-1001-dep',
  amountMinor: 100,
  currency: 'CNY',
  ...over,
});

const bill = (over: Partial<Record<keyof PayBillRequest, unknown>>): PayBillRequest =>
  ({
    idempotencyKey: `k-bad-${++keys}`,
    fromAccountId: 'a-1001-cur',
    payee: 'phone',
    billRef: 'P-1001',
    amountMinor: 100,
    ...over,
  }) as PayBillRequest;

const ROWS: Row[] = [
  // The request's own shape: checked before any state is read.
  {
    name: 'transfer: empty idempotency key',
    call: (s) => s.host.transfer(transfer({ idempotencyKey: '' })),
    kind: 'invalid-argument',
    field: 'idempotencyKey',
  },
  {
    name: 'transfer: idempotency key over 200 characters',
    call: (s) => s.host.transfer(transfer({ idempotencyKey: 'k'.repeat(201) })),
    kind: 'invalid-argument',
    field: 'idempotencyKey',
  },
  {
    name: 'transfer: zero amount',
    call: (s) => s.host.transfer(transfer({ amountMinor: 0 })),
    kind: 'invalid-argument',
    field: 'amountMinor',
  },
  {
    name: 'transfer: negative amount',
    call: (s) => s.host.transfer(transfer({ amountMinor: -100 })),
    kind: 'invalid-argument',
    field: 'amountMinor',
  },
  {
    name: 'transfer: fractional amount',
    call: (s) => s.host.transfer(transfer({ amountMinor: 1.5 })),
    kind: 'invalid-argument',
    field: 'amountMinor',
  },
  {
    name: 'transfer: amount beyond a safe integer',
    call: (s) => s.host.transfer(transfer({ amountMinor: 2 ** 53 })),
    kind: 'invalid-argument',
    field: 'amountMinor',
  },
  {
    name: 'transfer: from = to',
    call: (s) => s.host.transfer(transfer({ toAccountId: 'a-1001-cur' })),
    kind: 'invalid-argument',
    field: 'toAccountId',
  },
  {
    name: 'transfer: from = to on an account that does not exist',
    call: (s) => s.host.transfer(transfer({ fromAccountId: 'nope', toAccountId: 'nope' })),
    kind: 'invalid-argument',
    field: 'toAccountId',
  },
  {
    name: 'payBill: empty idempotency key',
    call: (s) => s.host.payBill(bill({ idempotencyKey: '' })),
    kind: 'invalid-argument',
    field: 'idempotencyKey',
  },
  {
    name: 'payBill: zero amount',
    call: (s) => s.host.payBill(bill({ amountMinor: 0 })),
    kind: 'invalid-argument',
    field: 'amountMinor',
  },
  {
    name: 'payBill: unknown payee kind',
    call: (s) => s.host.payBill(bill({ payee: 'casino' as PayeeKind })),
    kind: 'invalid-argument',
    field: 'payee',
  },
  {
    name: 'payBill: missing bill reference',
    call: (s) => s.host.payBill(bill({ billRef: undefined })),
    kind: 'invalid-argument',
    field: 'billRef',
  },
  {
    name: 'payBill: empty bill reference',
    call: (s) => s.host.payBill(bill({ billRef: '' })),
    kind: 'invalid-argument',
    field: 'billRef',
  },
  {
    name: 'payBill: bill reference with other characters',
    call: (s) => s.host.payBill(bill({ billRef: 'P 1001; --' })),
    kind: 'invalid-argument',
    field: 'billRef',
  },
  {
    name: 'payBill: bill reference over 32 characters',
    call: (s) => s.host.payBill(bill({ billRef: '1'.repeat(33) })),
    kind: 'invalid-argument',
    field: 'billRef',
  },
  {
    name: 'reverse: empty idempotency key',
    call: (s) => s.host.reverse({ idempotencyKey: '', reason: 'test' }),
    kind: 'invalid-argument',
    field: 'idempotencyKey',
  },
  {
    name: 'recentTransactions: limit 0',
    call: (s) => s.host.recentTransactions('a-1001-cur', 0),
    kind: 'invalid-argument',
    field: 'limit',
  },
  {
    name: 'recentTransactions: limit over 100',
    call: (s) => s.host.recentTransactions('a-1001-cur', 101),
    kind: 'invalid-argument',
    field: 'limit',
  },
  {
    name: 'recentTransactions: fractional limit',
    call: (s) => s.host.recentTransactions('a-1001-cur', 2.5),
    kind: 'invalid-argument',
    field: 'limit',
  },

  // Refusals that depend on what the host holds: each adapter checks its own state, and
  // both must answer with the same kind.
  {
    name: 'transfer: unknown debit account',
    call: (s) => s.host.transfer(transfer({ fromAccountId: 'nope' })),
    kind: 'not-found',
  },
  {
    name: 'transfer: unknown credit account',
    call: (s) => s.host.transfer(transfer({ toAccountId: 'nope' })),
    kind: 'not-found',
  },
  {
    name: 'transfer: currency other than the accounts',
    call: (s) => s.host.transfer(transfer({ currency: 'USD' })),
    kind: 'invalid-argument',
    field: 'currency',
  },
  {
    name: 'transfer: into an account in another currency',
    call: (s) => s.host.transfer(transfer({ fromAccountId: 'a-2001-cur', toAccountId: 'a-2001-usd' })),
    kind: 'invalid-argument',
    field: 'currency',
  },
  {
    name: 'transfer: debiting an internal account',
    call: (s) => s.host.transfer(transfer({ fromAccountId: 'bank-opening-equity' })),
    kind: 'failed-precondition',
  },
  {
    name: "payBill: debiting the payee's own clearing account",
    call: (s) => s.host.payBill(bill({ fromAccountId: 'clearing-phone' })),
    kind: 'failed-precondition',
  },
  {
    name: 'transfer: beyond balance and overdraft',
    call: (s) => s.host.transfer(transfer({ amountMinor: 999_999_999 })),
    kind: 'failed-precondition',
  },
  {
    name: 'transfer: from a stopped account',
    setup: (s) => s.setStatus('a-1001-cur', 'stopped'),
    teardown: (s) => s.setStatus('a-1001-cur', 'active'),
    call: (s) => s.host.transfer(transfer({})),
    kind: 'failed-precondition',
  },
  {
    name: 'transfer: into a stopped account',
    setup: (s) => s.setStatus('a-1001-dep', 'stopped'),
    teardown: (s) => s.setStatus('a-1001-dep', 'active'),
    call: (s) => s.host.transfer(transfer({})),
    kind: 'failed-precondition',
  },
  {
    name: 'transfer: a used idempotency key with a different request',
    setup: async (s) => {
      await s.host.transfer(transfer({ idempotencyKey: 'k-used' }));
    },
    call: (s) => s.host.transfer(transfer({ idempotencyKey: 'k-used', amountMinor: 101 })),
    kind: 'conflict',
  },
  {
    name: 'transfer: a key a reversal voided first',
    setup: async (s) => {
      await s.host.reverse({ idempotencyKey: 'k-voided', reason: 'reply lost' });
    },
    call: (s) => s.host.transfer(transfer({ idempotencyKey: 'k-voided' })),
    kind: 'failed-precondition',
  },
  {
    name: 'reverse: unknown posting',
    call: (s) => s.host.reverse({ postingId: 'no-such-posting', reason: 'test' }),
    kind: 'not-found',
  },
  {
    name: 'reverse: an opening balance',
    call: async (s) => s.host.reverse({ postingId: await s.openingPostingOf('a-1001-cur'), reason: 'test' }),
    kind: 'not-found',
  },
  {
    name: 'recentTransactions: unknown account',
    call: (s) => s.host.recentTransactions('nope', 5),
    kind: 'not-found',
  },
];

function runTable(subject: () => Subject): void {
  for (const row of ROWS) {
    test(row.name, async () => {
      const s = subject();
      await row.setup?.(s);
      try {
        const books = await s.books();
        let refused: Promise<unknown> | undefined;
        assert.doesNotThrow(() => {
          refused = row.call(s);
        }, 'a bad request is refused by rejecting, not by throwing synchronously');
        await assert.rejects(refused!, (e: unknown) => {
          assert.ok(e instanceof DomainError, `a DomainError, got ${String(e)}`);
          assert.equal(e.kind, row.kind, e.message);
          assert.equal(e.field, row.field, e.message);
          return true;
        });
        assert.equal(await s.books(), books, 'the refusal changed nothing');
      } finally {
        await row.teardown?.(s);
      }
    });
  }
}

describe('bad requests: the in-memory host', () => {
  let subject: Subject;
  beforeAll(async () => {
    const h = await InMemoryBankHost.withCustomers(DEMO_LEDGER_CUSTOMERS);
    subject = {
      host: h,
      setStatus: async (id, status) => {
        h.accounts.get(id)!.status = status;
      },
      openingPostingOf: async (id) =>
        h.postings.find((p) => p.kind === 'opening' && p.entries.some((e) => e.accountId === id))!.postingId,
      books: async () =>
        JSON.stringify({
          postings: h.postings.length,
          balances: [...h.accounts.values()].map((a) => `${a.accountId}=${a.balanceMinor}`).sort(),
        }),
    };
  });
  runTable(() => subject);
});

const skip = process.env.TEST_PG_URL ? false : 'TEST_PG_URL is not set (run with npm test)';

describe.skipIf(skip)('bad requests: the pg ledger', () => {
  let db: TestDatabase;
  let pool: pg.Pool;
  let subject: Subject;
  beforeAll(async () => {
    db = await freshDatabase('ledger_bad');
    pool = createPool(db.url, { applicationName: 'test/ledger-bad', max: 4 });
    await applyLedgerMigrations(pool);
    await seedDemoLedger(pool, DEMO_LEDGER_CUSTOMERS);
    subject = {
      host: new PgLedgerBankHost(pool),
      setStatus: async (id, status) => {
        await pool.query('UPDATE ledger.accounts SET status = $2 WHERE account_id = $1', [id, status]);
      },
      openingPostingOf: async (id) =>
        (
          await pool.query<{ posting_id: string }>(
            `SELECT p.posting_id FROM ledger.postings p JOIN ledger.entries e USING (posting_id)
              WHERE p.kind = 'opening' AND e.account_id = $1`,
            [id],
          )
        ).rows[0]!.posting_id,
      books: async () => {
        const n = (await pool.query<{ n: number }>('SELECT count(*)::int AS n FROM ledger.postings')).rows[0]!
          .n;
        const b = await pool.query<{ account_id: string; balance_minor: string }>(
          'SELECT account_id, balance_minor FROM ledger.accounts',
        );
        return JSON.stringify({
          postings: n,
          balances: b.rows.map((r) => `${r.account_id}=${Number(r.balance_minor)}`).sort(),
        });
      },
    };
  });
  afterAll(async () => {
    await pool?.end();
    await db?.drop();
  });
  runTable(() => subject);
});
