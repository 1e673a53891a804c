/**
 * The reference ledger on Postgres: a BankHost adapter over the `ledger` schema
 * (migrations/). Every money movement is one transaction that
 *   1. claims the idempotency key (INSERT .. ON CONFLICT DO NOTHING: a concurrent request with
 *      the same key waits on the unique index until the first commits or rolls back),
 *   2. locks the accounts involved in account-id order (no deadlocks between transfers),
 *   3. writes a posting with balanced entries and updates the balances.
 * A failure (insufficient funds, unknown account) rolls everything back, key included.
 * SQLSTATEs are translated to DomainErrors in one place, `fromPgError`.
 */
import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import {
  DomainError,
  conflict,
  failedPrecondition,
  invalidArgument,
  notFound,
  type ErrorKind,
} from '../errors.js';
import { fromPgError as fromDbError, sqlStateOf } from '../pg/errors.js';
import { ulid } from '../ids.js';
import type { DemoLedgerCustomer } from './demo.js';
import { DEMO_DEPOSIT_RATES, DEMO_FX_RATES } from './demo.js';
import { hashPin, verifyPinHash } from './pin.js';
import {
  type AccountBalance,
  type BankHost,
  type CardLossResult,
  type PayBillRequest,
  type PinLockPolicy,
  type PinSubject,
  type PinUnlockRequest,
  type PinUnlockResult,
  type PinVerification,
  type PostingResult,
  type Rates,
  type ReverseRequest,
  type ReverseResult,
  type TransactionLine,
  type TransferRequest,
  DEFAULT_PIN_LOCK,
  activeLock,
  lockStatus,
  type PinLockStatus,
  checkPayBillRequest,
  checkPinLockPolicy,
  checkPinUnlockRequest,
  checkReverseRequest,
  checkTransactionLimit,
  checkTransferRequest,
  last4,
  payeeClearingAccount,
  pinAttempt,
  requestFingerprint,
} from './port.js';

/**
 * SQLSTATE -> DomainError at the bank-host boundary. What a database error means comes from
 * the project's one mapping (shared/pg/errors.ts); the ledger overrides only the states that
 * mean something else to a bank: a check constraint is a refused posting (insufficient funds,
 * a stopped account), a missing reference an unknown account, a duplicate a conflicting
 * request, and contention or an exhausted server a host that could not answer (the IVR then
 * reverses and tells the caller).
 */
const LEDGER_KIND: Readonly<Record<string, ErrorKind>> = {
  '23514': 'failed-precondition',
  '23503': 'not-found',
  '23505': 'conflict',
  '40001': 'unavailable',
  '40P01': 'unavailable',
  '53300': 'unavailable',
};

export function fromPgError(e: unknown, what: string): DomainError {
  if (e instanceof DomainError) return e;
  const base = fromDbError(e);
  const code = sqlStateOf(e);
  const kind = (code === undefined ? undefined : LEDGER_KIND[code]) ?? base.kind;
  return new DomainError(kind, `${what}: ${base.message}`, { cause: e });
}

type Tx = pg.PoolClient;

export interface PgLedgerOptions {
  clock?: Clock;
  /** Wrong PINs that lock a customer, and for how long; default DEFAULT_PIN_LOCK (port.ts). */
  pinLock?: PinLockPolicy;
  /** The PIN's check against its stored hash; default pin.ts verifyPinHash (tests watch when it runs). */
  checkPinHash?: (pin: string, hash: string) => Promise<boolean>;
}

export class PgLedgerBankHost implements BankHost {
  private readonly clock: Clock;
  private readonly pinLock: PinLockPolicy;
  private readonly checkPinHash: (pin: string, hash: string) => Promise<boolean>;
  constructor(
    private readonly pool: pg.Pool,
    opts: PgLedgerOptions = {},
  ) {
    this.clock = opts.clock ?? systemClock;
    this.pinLock = checkPinLockPolicy(opts.pinLock ?? DEFAULT_PIN_LOCK);
    this.checkPinHash = opts.checkPinHash ?? verifyPinHash;
  }

  private async tx<T>(what: string, work: (c: Tx) => Promise<T>): Promise<T> {
    let client: Tx;
    try {
      client = await this.pool.connect();
    } catch (e) {
      throw fromPgError(e, what);
    }
    try {
      await client.query('BEGIN');
      const out = await work(client);
      await client.query('COMMIT');
      return out;
    } catch (e) {
      await client.query('ROLLBACK').catch(() => {});
      throw fromPgError(e, what);
    } finally {
      client.release();
    }
  }

  private async read<T>(what: string, work: (c: pg.Pool) => Promise<T>): Promise<T> {
    try {
      return await work(this.pool);
    } catch (e) {
      throw fromPgError(e, what);
    }
  }

  private newPostingId(): string {
    return `pst_${ulid(this.clock.now(), () => randomBytes(10))}`;
  }

  async verifyPin(subject: PinSubject, pin: string): Promise<PinVerification> {
    // The hash is checked before the transaction, holding neither a pooled connection nor the
    // customer's row: scrypt takes tens of ms of a core, and inside the transaction every
    // attempt on one customer queued on the row lock, each holding a connection of the pool the
    // site's store shares, so a few calls from one number starved the store (docs/operations.md
    // §8.7). The attempt is still counted under the lock, one after another, against the state
    // then; a hash replaced meanwhile (a new PIN) is checked again there.
    const found = await this.read('verifyPin', (p) => this.pinHashOf(p, subject));
    if (!found) return { verified: false };
    const customerId = found.customer_id;
    // A locked customer is refused before the PIN is looked at (and again under the lock).
    const seen = await this.read('verifyPin', (p) => this.pinState(p, customerId, false));
    const lockedUntil = activeLock(seen, this.clock.now());
    if (lockedUntil !== undefined)
      return { verified: false, locked: true, lockedUntilMs: lockedUntil, lockedNow: false };
    const right = await this.checkPinHash(pin, found.pin_hash);
    return this.tx('verifyPin', async (c) => {
      const before = await this.pinState(c, customerId, true);
      const now = this.clock.now();
      const until = activeLock(before, now);
      if (until !== undefined)
        return { verified: false, locked: true, lockedUntilMs: until, lockedNow: false };
      const hashNow = (await this.pinHashOf(c, subject))?.pin_hash;
      const ok =
        hashNow === found.pin_hash ? right : hashNow !== undefined && (await this.checkPinHash(pin, hashNow));
      const a = pinAttempt(before, ok, now, this.pinLock);
      await c.query(
        'UPDATE ledger.customers SET pin_failures = $2, pin_locked_until_ms = $3 WHERE customer_id = $1',
        [customerId, a.state.failures, a.state.lockedUntilMs],
      );
      if (a.kind === 'verified') return { verified: true, customerId };
      if (a.kind === 'wrong') return { verified: false };
      if (a.lockedNow) {
        await c.query(
          `INSERT INTO ledger.pin_locks (customer_id, failures, locked_at_ms, locked_until_ms)
           VALUES ($1, $2, $3, $4)`,
          [customerId, a.state.failures, now, a.lockedUntilMs],
        );
      }
      return { verified: false, locked: true, lockedUntilMs: a.lockedUntilMs, lockedNow: a.lockedNow };
    });
  }

  /** The stored PIN hash the subject is checked against (the customer's, or the card's) and its customer. */
  private async pinHashOf(
    db: Tx | pg.Pool,
    subject: PinSubject,
  ): Promise<{ customer_id: string; pin_hash: string } | undefined> {
    return 'customerId' in subject
      ? (
          await db.query<{ customer_id: string; pin_hash: string }>(
            'SELECT customer_id, pin_hash FROM ledger.customers WHERE customer_id = $1',
            [subject.customerId],
          )
        ).rows[0]
      : (
          await db.query<{ customer_id: string; pin_hash: string }>(
            'SELECT customer_id, pin_hash FROM ledger.cards WHERE card_number = $1',
            [subject.cardNumber],
          )
        ).rows[0];
  }

  /** The customer's lock counts; `forUpdate` holds the row to the transaction's end. */
  private async pinState(
    db: Tx | pg.Pool,
    customerId: string,
    forUpdate: boolean,
  ): Promise<{ failures: number; lockedUntilMs: number | null }> {
    const row = (
      await db.query<{ pin_failures: number; pin_locked_until_ms: string | null }>(
        `SELECT pin_failures, pin_locked_until_ms FROM ledger.customers WHERE customer_id = $1${
          forUpdate ? ' FOR UPDATE' : ''
        }`,
        [customerId],
      )
    ).rows[0]!;
    return {
      failures: row.pin_failures,
      lockedUntilMs: row.pin_locked_until_ms === null ? null : Number(row.pin_locked_until_ms),
    };
  }

  async unlockPin(req: PinUnlockRequest): Promise<PinUnlockResult> {
    checkPinUnlockRequest(req);
    return this.tx('unlockPin', async (c) => {
      const row = (
        await c.query<{ pin_failures: number; pin_locked_until_ms: string | null }>(
          'SELECT pin_failures, pin_locked_until_ms FROM ledger.customers WHERE customer_id = $1 FOR UPDATE',
          [req.customerId],
        )
      ).rows[0];
      if (!row) throw notFound('customer', req.customerId);
      const now = this.clock.now();
      const until = row.pin_locked_until_ms === null ? null : Number(row.pin_locked_until_ms);
      const locked = activeLock({ failures: row.pin_failures, lockedUntilMs: until }, now) !== undefined;
      await c.query(
        'UPDATE ledger.customers SET pin_failures = 0, pin_locked_until_ms = NULL WHERE customer_id = $1',
        [req.customerId],
      );
      if (!locked) return { customerId: req.customerId, status: 'not-locked' };
      await c.query(
        `UPDATE ledger.pin_locks SET unlocked_at_ms = $2, unlocked_by = $3, unlock_reason = $4
          WHERE lock_id = (SELECT max(lock_id) FROM ledger.pin_locks
                            WHERE customer_id = $1 AND unlocked_at_ms IS NULL)`,
        [req.customerId, now, req.by, req.reason],
      );
      return { customerId: req.customerId, status: 'unlocked' };
    });
  }

  async pinLockStatus(customerId: string): Promise<PinLockStatus> {
    const row = await this.read(
      'pinLockStatus',
      async (p) =>
        (
          await p.query<{ pin_failures: number; pin_locked_until_ms: string | null }>(
            'SELECT pin_failures, pin_locked_until_ms FROM ledger.customers WHERE customer_id = $1',
            [customerId],
          )
        ).rows[0],
    );
    if (!row) throw notFound('customer', customerId);
    const until = row.pin_locked_until_ms === null ? null : Number(row.pin_locked_until_ms);
    return lockStatus(
      customerId,
      activeLock({ failures: row.pin_failures, lockedUntilMs: until }, this.clock.now()),
    );
  }

  async balances(customerId: string): Promise<AccountBalance[]> {
    const rows = await this.read(
      'balances',
      async (p) =>
        (
          await p.query<{
            account_id: string;
            type: 'current' | 'deposit';
            currency: string;
            balance_minor: string;
            status: 'active' | 'stopped';
          }>(
            `SELECT account_id, type, currency, balance_minor, status FROM ledger.accounts
            WHERE customer_id = $1 ORDER BY account_id`,
            [customerId],
          )
        ).rows,
    );
    return rows.map((r) => ({
      accountId: r.account_id,
      customerId,
      type: r.type,
      currency: r.currency,
      balanceMinor: Number(r.balance_minor),
      status: r.status,
    }));
  }

  async recentTransactions(accountId: string, limit: number): Promise<TransactionLine[]> {
    checkTransactionLimit(limit);
    return this.read('recentTransactions', async (p) => {
      const exists = await p.query('SELECT 1 FROM ledger.accounts WHERE account_id = $1', [accountId]);
      if (exists.rowCount === 0) throw notFound('account', accountId);
      const r = await p.query<{
        posting_id: string;
        at_ms: string;
        amount_minor: string;
        currency: string;
        kind: TransactionLine['kind'];
        memo: string;
      }>(
        `SELECT e.posting_id, p.at_ms, e.amount_minor, e.currency, p.kind, p.memo
           FROM ledger.entries e JOIN ledger.postings p USING (posting_id)
          WHERE e.account_id = $1 ORDER BY e.entry_id DESC LIMIT $2`,
        [accountId, limit],
      );
      return r.rows.map((x) => ({
        postingId: x.posting_id,
        accountId,
        atMs: Number(x.at_ms),
        amountMinor: Number(x.amount_minor),
        currency: x.currency,
        kind: x.kind,
        memo: x.memo,
      }));
    });
  }

  // async, so a refused request is a rejected promise like every other failure.
  async transfer(req: TransferRequest): Promise<PostingResult> {
    checkTransferRequest(req);
    const fp = requestFingerprint({
      op: 'transfer',
      from: req.fromAccountId,
      to: req.toAccountId,
      amount: req.amountMinor,
      currency: req.currency,
      memo: req.memo,
    });
    return this.tx('transfer', (c) =>
      this.move(
        c,
        req.idempotencyKey,
        fp,
        'transfer',
        req.fromAccountId,
        req.toAccountId,
        req.amountMinor,
        req.currency,
        req.memo ?? '',
        null,
      ),
    );
  }

  async payBill(req: PayBillRequest): Promise<PostingResult> {
    checkPayBillRequest(req);
    const fp = requestFingerprint({
      op: 'bill',
      from: req.fromAccountId,
      payee: req.payee,
      ref: req.billRef,
      amount: req.amountMinor,
    });
    return this.tx('payBill', (c) =>
      this.move(
        c,
        req.idempotencyKey,
        fp,
        'bill',
        req.fromAccountId,
        payeeClearingAccount(req.payee),
        req.amountMinor,
        'CNY',
        `${req.payee} ${req.billRef}`,
        req.billRef,
      ),
    );
  }

  private async move(
    c: Tx,
    key: string,
    fingerprint: string,
    kind: 'transfer' | 'bill',
    from: string,
    to: string,
    amount: number,
    currency: string,
    memo: string,
    billRef: string | null,
  ): Promise<PostingResult> {
    const claimed = await c.query(
      'INSERT INTO ledger.idempotency_keys (key, fingerprint) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING',
      [key, fingerprint],
    );
    if (claimed.rowCount === 0) {
      const prior = (
        await c.query<{
          fingerprint: string;
          posting_id: string | null;
          voided: boolean;
          status: PostingResult['status'] | null;
        }>(
          `SELECT k.fingerprint, k.posting_id, k.voided, p.status
             FROM ledger.idempotency_keys k LEFT JOIN ledger.postings p USING (posting_id) WHERE k.key = $1`,
          [key],
        )
      ).rows[0]!;
      if (prior.voided && !prior.posting_id)
        throw failedPrecondition(`request ${JSON.stringify(key)} was cancelled by a reversal`);
      if (prior.fingerprint !== fingerprint)
        throw conflict(`idempotency key ${JSON.stringify(key)} was used for a different request`);
      return { postingId: prior.posting_id!, status: prior.status! };
    }
    const accts = (
      await c.query<{
        account_id: string;
        type: string;
        currency: string;
        balance_minor: string;
        overdraft_minor: string;
        status: string;
      }>(
        `SELECT account_id, type, currency, balance_minor, overdraft_minor, status FROM ledger.accounts
          WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE`,
        [[from, to]],
      )
    ).rows;
    const a = accts.find((x) => x.account_id === from);
    const b = accts.find((x) => x.account_id === to);
    if (!a) throw notFound('account', from);
    if (!b) throw notFound('account', to);
    if (a.currency !== currency || b.currency !== currency)
      throw invalidArgument('currency', `accounts are not in ${currency}`);
    if (a.type === 'internal')
      throw failedPrecondition(`account ${from} cannot be debited by a customer request`);
    if (a.status !== 'active' || b.status !== 'active')
      throw failedPrecondition('an account in the request is stopped');
    if (Number(a.balance_minor) - amount < -Number(a.overdraft_minor))
      throw failedPrecondition(`insufficient funds in account ${from}`);
    const postingId = await this.writePosting(c, kind, from, to, amount, currency, memo, billRef, null);
    await c.query('UPDATE ledger.idempotency_keys SET posting_id = $2 WHERE key = $1', [key, postingId]);
    return { postingId, status: 'posted' };
  }

  /** Writes a posting moving `amount` from -> to, with its two entries and balance updates. */
  private async writePosting(
    c: Tx,
    kind: TransactionLine['kind'],
    from: string,
    to: string,
    amount: number,
    currency: string,
    memo: string,
    billRef: string | null,
    reverses: string | null,
  ): Promise<string> {
    const postingId = this.newPostingId();
    await c.query(
      'INSERT INTO ledger.postings (posting_id, kind, memo, bill_ref, reverses, at_ms) VALUES ($1, $2, $3, $4, $5, $6)',
      [postingId, kind, memo, billRef, reverses, this.clock.now()],
    );
    await c.query(
      `INSERT INTO ledger.entries (posting_id, account_id, amount_minor, currency)
       VALUES ($1, $2, $4, $5), ($1, $3, $6, $5)`,
      [postingId, from, to, -amount, currency, amount],
    );
    await c.query(
      `UPDATE ledger.accounts SET balance_minor = balance_minor + CASE WHEN account_id = $1 THEN -$3::bigint ELSE $3::bigint END
        WHERE account_id IN ($1, $2)`,
      [from, to, amount],
    );
    return postingId;
  }

  async reverse(req: ReverseRequest): Promise<ReverseResult> {
    checkReverseRequest(req);
    return this.tx('reverse', async (c) => {
      let originalId: string;
      if ('postingId' in req) {
        originalId = req.postingId;
      } else {
        // Claim the key as voided; if a transfer with it is in flight we wait for it here.
        await c.query(
          `INSERT INTO ledger.idempotency_keys (key, fingerprint, voided) VALUES ($1, '(voided)', true)
           ON CONFLICT (key) DO NOTHING`,
          [req.idempotencyKey],
        );
        const k = (
          await c.query<{ posting_id: string | null }>(
            'SELECT posting_id FROM ledger.idempotency_keys WHERE key = $1',
            [req.idempotencyKey],
          )
        ).rows[0]!;
        if (!k.posting_id) return { status: 'nothing-to-reverse' };
        originalId = k.posting_id;
      }
      const orig = (
        await c.query<{ kind: string; status: string; reversal: string | null }>(
          `SELECT p.kind, p.status, r.posting_id AS reversal FROM ledger.postings p
             LEFT JOIN ledger.postings r ON r.reverses = p.posting_id
            WHERE p.posting_id = $1 FOR UPDATE OF p`,
          [originalId],
        )
      ).rows[0];
      if (!orig || orig.kind === 'reversal' || orig.kind === 'opening') throw notFound('posting', originalId);
      if (orig.status === 'reversed')
        return { status: 'reversed', originalPostingId: originalId, reversalPostingId: orig.reversal! };
      const entries = (
        await c.query<{ account_id: string; amount_minor: string; currency: string }>(
          'SELECT account_id, amount_minor, currency FROM ledger.entries WHERE posting_id = $1',
          [originalId],
        )
      ).rows;
      const credited = entries.find((e) => Number(e.amount_minor) > 0)!;
      const debited = entries.find((e) => Number(e.amount_minor) < 0)!;
      await c.query(
        'SELECT 1 FROM ledger.accounts WHERE account_id = ANY($1) ORDER BY account_id FOR UPDATE',
        [[credited.account_id, debited.account_id]],
      );
      const reversalId = await this.writePosting(
        c,
        'reversal',
        credited.account_id,
        debited.account_id,
        Number(credited.amount_minor),
        credited.currency,
        `reversal of ${originalId}: ${req.reason}`.slice(0, 200),
        null,
        originalId,
      );
      await c.query(`UPDATE ledger.postings SET status = 'reversed' WHERE posting_id = $1`, [originalId]);
      return { status: 'reversed', originalPostingId: originalId, reversalPostingId: reversalId };
    });
  }

  reportCardLoss(cardNumber: string): Promise<CardLossResult> {
    return this.tx('reportCardLoss', async (c) => {
      const now = this.clock.now();
      const r = (
        await c.query<{ customer_id: string; status: string; stopped_at_ms: string | null }>(
          'SELECT customer_id, status, stopped_at_ms FROM ledger.cards WHERE card_number = $1 FOR UPDATE',
          [cardNumber],
        )
      ).rows[0];
      if (!r) throw new DomainError('not-found', `card ending ${last4(cardNumber)} not found`);
      if (r.status === 'stopped') {
        return {
          cardLast4: last4(cardNumber),
          customerId: r.customer_id,
          status: 'stopped',
          stoppedAtMs: Number(r.stopped_at_ms),
          alreadyStopped: true,
        };
      }
      await c.query(`UPDATE ledger.cards SET status = 'stopped', stopped_at_ms = $2 WHERE card_number = $1`, [
        cardNumber,
        now,
      ]);
      return {
        cardLast4: last4(cardNumber),
        customerId: r.customer_id,
        status: 'stopped',
        stoppedAtMs: now,
        alreadyStopped: false,
      };
    });
  }

  async rates(): Promise<Rates> {
    return this.read('rates', async (p) => {
      const d = await p.query<{ term_months: number; annual_percent: string }>(
        'SELECT term_months, annual_percent FROM ledger.deposit_rates ORDER BY term_months',
      );
      const f = await p.query<{ currency: string; buy: string; sell: string }>(
        'SELECT currency, buy, sell FROM ledger.fx_rates ORDER BY currency',
      );
      return {
        deposit: d.rows.map((r) => ({ termMonths: r.term_months, annualPercent: Number(r.annual_percent) })),
        fx: f.rows.map((r) => ({ currency: r.currency, buy: Number(r.buy), sell: Number(r.sell) })),
      };
    });
  }
}

/**
 * Seeds demo customers' accounts (opening balances posted from the bank's equity account, so
 * the books still sum to zero), cards with hashed PINs, and the rate tables. Idempotent: a
 * customer already present is left as it is.
 */
export async function seedDemoLedger(
  pool: pg.Pool,
  customers: DemoLedgerCustomer[],
  clock: Clock = systemClock,
): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    for (const r of DEMO_DEPOSIT_RATES) {
      await client.query(
        'INSERT INTO ledger.deposit_rates VALUES ($1, $2) ON CONFLICT (term_months) DO NOTHING',
        [r.termMonths, r.annualPercent],
      );
    }
    for (const r of DEMO_FX_RATES) {
      await client.query(
        'INSERT INTO ledger.fx_rates VALUES ($1, $2, $3) ON CONFLICT (currency) DO NOTHING',
        [r.currency, r.buy, r.sell],
      );
    }
    // Hashing a PIN is deliberately slow (scrypt): skip customers already seeded before
    // hashing anything, so a restarted site does not pay for its whole population again.
    const existing = new Set(
      (
        await client.query<{ customer_id: string }>(
          'SELECT customer_id FROM ledger.customers WHERE customer_id = ANY($1::text[])',
          [customers.map((c) => c.customerId)],
        )
      ).rows.map((r) => r.customer_id),
    );
    for (const cust of customers) {
      if (existing.has(cust.customerId)) continue;
      const pinHash = await hashPin(cust.pin);
      const ins = await client.query('INSERT INTO ledger.customers VALUES ($1, $2) ON CONFLICT DO NOTHING', [
        cust.customerId,
        pinHash,
      ]);
      if (ins.rowCount === 0) continue;
      for (const a of cust.accounts) {
        await client.query(
          'INSERT INTO ledger.accounts (account_id, customer_id, type, currency, overdraft_minor) VALUES ($1, $2, $3, $4, $5)',
          [a.accountId, cust.customerId, a.type, a.currency, a.overdraftMinor ?? 0],
        );
        if (a.openingMinor > 0) {
          const equity =
            a.currency === 'CNY' ? 'bank-opening-equity' : `bank-opening-equity-${a.currency.toLowerCase()}`;
          await client.query(
            `INSERT INTO ledger.accounts (account_id, customer_id, type, currency) VALUES ($1, NULL, 'internal', $2)
             ON CONFLICT DO NOTHING`,
            [equity, a.currency],
          );
          const postingId = `pst_${ulid(clock.now())}`;
          await client.query(
            `INSERT INTO ledger.postings (posting_id, kind, memo, at_ms) VALUES ($1, 'opening', 'opening balance', $2)`,
            [postingId, clock.now()],
          );
          await client.query(
            `INSERT INTO ledger.entries (posting_id, account_id, amount_minor, currency) VALUES ($1, $2, $4, $5), ($1, $3, $6, $5)`,
            [postingId, equity, a.accountId, -a.openingMinor, a.currency, a.openingMinor],
          );
          await client.query(
            'UPDATE ledger.accounts SET balance_minor = balance_minor - $2 WHERE account_id = $1',
            [equity, a.openingMinor],
          );
          await client.query(
            'UPDATE ledger.accounts SET balance_minor = balance_minor + $2 WHERE account_id = $1',
            [a.accountId, a.openingMinor],
          );
        }
      }
      for (const card of cust.cards) {
        await client.query(
          'INSERT INTO ledger.cards (card_number, customer_id, account_id, pin_hash) VALUES ($1, $2, $3, $4)',
          // The customer's own PIN on their card (the usual case) reuses its hash.
          [
            card.cardNumber,
            cust.customerId,
            card.accountId,
            card.pin === cust.pin ? pinHash : await hashPin(card.pin),
          ],
        );
      }
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => {});
    throw fromPgError(e, 'seedDemoLedger');
  } finally {
    client.release();
  }
}
