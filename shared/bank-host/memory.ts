/**
 * An in-memory BankHost with the same semantics as the reference ledger (idempotency keys,
 * compensating reversals, voided keys, card stops), for unit tests of the IVR. Faults can be
 * injected per operation to test timeouts: `hang` never answers, `apply-then-hang` does the
 * work and loses the reply (the case reversal exists for), `error` fails with a DomainError.
 */
import type { Clock } from '../clock.js';
import { systemClock } from '../clock.js';
import { DomainError, conflict, failedPrecondition, invalidArgument, notFound } from '../errors.js';
import type { DemoLedgerCustomer } from './demo.js';
import { DEMO_DEPOSIT_RATES, DEMO_FX_RATES } from './demo.js';
import { hashPin, verifyPinHash } from './pin.js';
import {
  type AccountBalance,
  type BankHost,
  type CardLossResult,
  type PayBillRequest,
  type PinLockPolicy,
  type PinLockState,
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
  PAYEE_KINDS,
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

export interface InMemoryBankHostOptions {
  /** Wrong PINs that lock a customer, and for how long; default DEFAULT_PIN_LOCK (port.ts). */
  pinLock?: PinLockPolicy;
}

/** One PIN lock as the host recorded it (the ledger's `ledger.pin_locks` row). */
export interface PinLockRecord {
  customerId: string;
  failures: number;
  lockedAtMs: number;
  lockedUntilMs: number;
  /** Set when lifted before it lapsed: when, by whom, why. */
  unlockedAtMs?: number;
  unlockedBy?: string;
  unlockReason?: string;
}

export type BankOpName = keyof BankHost;
export type Fault = { kind: 'hang' } | { kind: 'apply-then-hang' } | { kind: 'error'; error: DomainError };

interface Acct extends AccountBalance {
  overdraftMinor: number;
  internal: boolean;
}
interface Posting {
  postingId: string;
  kind: TransactionLine['kind'];
  status: PostingResult['status'];
  entries: { accountId: string; amountMinor: number; currency: string }[];
  atMs: number;
  memo: string;
  reversalPostingId?: string;
}

export class InMemoryBankHost implements BankHost {
  readonly accounts = new Map<string, Acct>();
  readonly postings: Posting[] = [];
  private readonly cards = new Map<string, { customerId: string; pinHash: string; stoppedAtMs?: number }>();
  private readonly customerPins = new Map<string, string>();
  private readonly keys = new Map<string, { fingerprint: string; postingId?: string; voided: boolean }>();
  private readonly faults = new Map<BankOpName, Fault>();
  private readonly pinStates = new Map<string, PinLockState>();
  private readonly pinLock: PinLockPolicy;
  /** Every PIN lock, in the order they started. */
  readonly pinLocks: PinLockRecord[] = [];
  /** Every call made, with the op name only (never arguments: they may hold a PIN). */
  readonly calls: BankOpName[] = [];
  private seq = 0;

  constructor(
    private readonly clock: Clock = systemClock,
    opts: InMemoryBankHostOptions = {},
  ) {
    this.pinLock = checkPinLockPolicy(opts.pinLock ?? DEFAULT_PIN_LOCK);
    this.open('bank-opening-equity', '', 'current', 'CNY', 0, true);
    for (const p of PAYEE_KINDS) this.open(payeeClearingAccount(p), '', 'current', 'CNY', 0, true);
  }

  /** A host preloaded with demo customers (PIN hashing makes this async). */
  static async withCustomers(
    customers: DemoLedgerCustomer[],
    clock?: Clock,
    opts?: InMemoryBankHostOptions,
  ): Promise<InMemoryBankHost> {
    const h = new InMemoryBankHost(clock, opts);
    for (const c of customers) {
      h.customerPins.set(c.customerId, await hashPin(c.pin));
      for (const a of c.accounts) {
        h.open(a.accountId, c.customerId, a.type, a.currency, a.overdraftMinor ?? 0, false);
        if (a.openingMinor > 0) {
          const eq = `bank-opening-equity${a.currency === 'CNY' ? '' : '-' + a.currency}`;
          if (!h.accounts.has(eq)) h.open(eq, '', 'current', a.currency, 0, true);
          h.post('opening', eq, a.accountId, a.openingMinor, a.currency, 'opening balance');
        }
      }
      for (const card of c.cards) {
        h.cards.set(card.cardNumber, { customerId: c.customerId, pinHash: await hashPin(card.pin) });
      }
    }
    return h;
  }

  setFault(op: BankOpName, fault: Fault | undefined): void {
    if (fault) this.faults.set(op, fault);
    else this.faults.delete(op);
  }

  private open(
    id: string,
    customerId: string,
    type: Acct['type'],
    currency: string,
    od: number,
    internal: boolean,
  ) {
    this.accounts.set(id, {
      accountId: id,
      customerId,
      type,
      currency,
      balanceMinor: 0,
      status: 'active',
      overdraftMinor: od,
      internal,
    });
  }

  private async gate<T>(op: BankOpName, work: () => T | Promise<T>): Promise<T> {
    this.calls.push(op);
    await Promise.resolve();
    const f = this.faults.get(op);
    if (f?.kind === 'error') throw f.error;
    if (f?.kind === 'hang') return new Promise<T>(() => {});
    const out = await work();
    if (f?.kind === 'apply-then-hang') return new Promise<T>(() => {});
    return out;
  }

  private acct(id: string): Acct {
    const a = this.accounts.get(id);
    if (!a) throw notFound('account', id);
    return a;
  }

  private post(
    kind: Posting['kind'],
    from: string,
    to: string,
    amount: number,
    currency: string,
    memo: string,
  ) {
    const a = this.acct(from);
    const b = this.acct(to);
    const posting: Posting = {
      postingId: `p-${++this.seq}`,
      kind,
      status: 'posted',
      atMs: this.clock.now(),
      memo,
      entries: [
        { accountId: from, amountMinor: -amount, currency },
        { accountId: to, amountMinor: amount, currency },
      ],
    };
    a.balanceMinor -= amount;
    b.balanceMinor += amount;
    this.postings.push(posting);
    return posting;
  }

  private move(
    key: string,
    fingerprint: string,
    kind: 'transfer' | 'bill',
    from: string,
    to: string,
    amount: number,
    currency: string,
    memo: string,
  ): PostingResult {
    const prior = this.keys.get(key);
    if (prior) {
      if (prior.voided && !prior.postingId)
        throw failedPrecondition(`request ${JSON.stringify(key)} was cancelled by a reversal`);
      if (prior.fingerprint !== fingerprint)
        throw conflict(`idempotency key ${JSON.stringify(key)} was used for a different request`);
      const p = this.postings.find((x) => x.postingId === prior.postingId)!;
      return { postingId: p.postingId, status: p.status };
    }
    const a = this.acct(from);
    const b = this.acct(to);
    if (a.currency !== currency || b.currency !== currency)
      throw invalidArgument('currency', `accounts are not in ${currency}`);
    if (a.internal) throw failedPrecondition(`account ${from} cannot be debited by a customer request`);
    if (a.status !== 'active' || b.status !== 'active')
      throw failedPrecondition('an account in the request is stopped');
    if (a.balanceMinor - amount < -a.overdraftMinor)
      throw failedPrecondition(`insufficient funds in account ${from}`);
    const p = this.post(kind, from, to, amount, currency, memo);
    this.keys.set(key, { fingerprint, postingId: p.postingId, voided: false });
    return { postingId: p.postingId, status: 'posted' };
  }

  verifyPin(subject: PinSubject, pin: string): Promise<PinVerification> {
    return this.gate('verifyPin', async () => {
      const [customerId, hash] =
        'customerId' in subject
          ? [subject.customerId, this.customerPins.get(subject.customerId)]
          : [this.cards.get(subject.cardNumber)?.customerId, this.cards.get(subject.cardNumber)?.pinHash];
      if (!hash || !customerId) return { verified: false };
      const now = this.clock.now();
      const before = this.pinStates.get(customerId) ?? { failures: 0, lockedUntilMs: null };
      // A locked customer is refused before the PIN is looked at: the right PIN is refused too.
      const until = activeLock(before, now);
      if (until !== undefined)
        return { verified: false, locked: true, lockedUntilMs: until, lockedNow: false };
      const a = pinAttempt(before, await verifyPinHash(pin, hash), now, this.pinLock);
      this.pinStates.set(customerId, a.state);
      if (a.kind === 'verified') return { verified: true, customerId };
      if (a.kind === 'wrong') return { verified: false };
      if (a.lockedNow) {
        this.pinLocks.push({
          customerId,
          failures: a.state.failures,
          lockedAtMs: now,
          lockedUntilMs: a.lockedUntilMs,
        });
      }
      return { verified: false, locked: true, lockedUntilMs: a.lockedUntilMs, lockedNow: a.lockedNow };
    });
  }

  unlockPin(req: PinUnlockRequest): Promise<PinUnlockResult> {
    return this.gate('unlockPin', () => {
      checkPinUnlockRequest(req);
      if (!this.customerPins.has(req.customerId)) throw notFound('customer', req.customerId);
      const now = this.clock.now();
      const st = this.pinStates.get(req.customerId) ?? { failures: 0, lockedUntilMs: null };
      const locked = activeLock(st, now) !== undefined;
      this.pinStates.set(req.customerId, { failures: 0, lockedUntilMs: null });
      if (!locked) return { customerId: req.customerId, status: 'not-locked' };
      const rec = this.pinLocks.findLast(
        (l) => l.customerId === req.customerId && l.unlockedAtMs === undefined,
      );
      if (rec) Object.assign(rec, { unlockedAtMs: now, unlockedBy: req.by, unlockReason: req.reason });
      return { customerId: req.customerId, status: 'unlocked' };
    });
  }

  pinLockStatus(customerId: string): Promise<PinLockStatus> {
    return this.gate('pinLockStatus', () => {
      if (!this.customerPins.has(customerId)) throw notFound('customer', customerId);
      const st = this.pinStates.get(customerId) ?? { failures: 0, lockedUntilMs: null };
      return lockStatus(customerId, activeLock(st, this.clock.now()));
    });
  }

  balances(customerId: string): Promise<AccountBalance[]> {
    return this.gate('balances', () =>
      [...this.accounts.values()]
        .filter((a) => a.customerId === customerId && !a.internal)
        .map(({ accountId, customerId, type, currency, balanceMinor, status }) => ({
          accountId,
          customerId,
          type,
          currency,
          balanceMinor,
          status,
        })),
    );
  }

  recentTransactions(accountId: string, limit: number): Promise<TransactionLine[]> {
    return this.gate('recentTransactions', () => {
      checkTransactionLimit(limit);
      this.acct(accountId);
      const out: TransactionLine[] = [];
      for (const p of [...this.postings].reverse()) {
        for (const e of p.entries) {
          if (e.accountId === accountId) {
            out.push({
              postingId: p.postingId,
              accountId,
              atMs: p.atMs,
              amountMinor: e.amountMinor,
              currency: e.currency,
              kind: p.kind,
              memo: p.memo,
            });
          }
        }
        if (out.length >= limit) break;
      }
      return out.slice(0, limit);
    });
  }

  transfer(req: TransferRequest): Promise<PostingResult> {
    return this.gate('transfer', () => {
      checkTransferRequest(req);
      const fp = requestFingerprint({
        op: 'transfer',
        from: req.fromAccountId,
        to: req.toAccountId,
        amount: req.amountMinor,
        currency: req.currency,
        memo: req.memo,
      });
      return this.move(
        req.idempotencyKey,
        fp,
        'transfer',
        req.fromAccountId,
        req.toAccountId,
        req.amountMinor,
        req.currency,
        req.memo ?? '',
      );
    });
  }

  payBill(req: PayBillRequest): Promise<PostingResult> {
    return this.gate('payBill', () => {
      checkPayBillRequest(req);
      const fp = requestFingerprint({
        op: 'bill',
        from: req.fromAccountId,
        payee: req.payee,
        ref: req.billRef,
        amount: req.amountMinor,
      });
      return this.move(
        req.idempotencyKey,
        fp,
        'bill',
        req.fromAccountId,
        payeeClearingAccount(req.payee),
        req.amountMinor,
        'CNY',
        `${req.payee} ${req.billRef}`,
      );
    });
  }

  reverse(req: ReverseRequest): Promise<ReverseResult> {
    return this.gate('reverse', () => {
      checkReverseRequest(req);
      let original: Posting | undefined;
      if ('postingId' in req) {
        // Only transfers and bills can be reversed; an opening balance is not a request's.
        original = this.postings.find(
          (p) => p.postingId === req.postingId && (p.kind === 'transfer' || p.kind === 'bill'),
        );
        if (!original) throw notFound('posting', req.postingId);
      } else {
        const k = this.keys.get(req.idempotencyKey);
        if (!k || k.voided) {
          if (!k) this.keys.set(req.idempotencyKey, { fingerprint: '(voided)', voided: true });
          return { status: 'nothing-to-reverse' };
        }
        original = this.postings.find((p) => p.postingId === k.postingId)!;
      }
      if (original.status === 'reversed') {
        return {
          status: 'reversed',
          originalPostingId: original.postingId,
          reversalPostingId: original.reversalPostingId!,
        };
      }
      const debit = original.entries.find((e) => e.amountMinor > 0)!;
      const credit = original.entries.find((e) => e.amountMinor < 0)!;
      const back = this.acct(debit.accountId);
      if (!back.internal && back.balanceMinor - debit.amountMinor < -back.overdraftMinor) {
        throw failedPrecondition(
          `insufficient funds in account ${back.accountId} to reverse ${original.postingId}`,
        );
      }
      const r = this.post(
        'reversal',
        debit.accountId,
        credit.accountId,
        debit.amountMinor,
        debit.currency,
        `reversal of ${original.postingId}: ${req.reason}`,
      );
      original.status = 'reversed';
      original.reversalPostingId = r.postingId;
      return { status: 'reversed', originalPostingId: original.postingId, reversalPostingId: r.postingId };
    });
  }

  reportCardLoss(cardNumber: string): Promise<CardLossResult> {
    return this.gate('reportCardLoss', () => {
      const c = this.cards.get(cardNumber);
      if (!c) throw new DomainError('not-found', `card ending ${last4(cardNumber)} not found`);
      const alreadyStopped = c.stoppedAtMs !== undefined;
      c.stoppedAtMs ??= this.clock.now();
      return {
        cardLast4: last4(cardNumber),
        customerId: c.customerId,
        status: 'stopped',
        stoppedAtMs: c.stoppedAtMs,
        alreadyStopped,
      };
    });
  }

  cardStatus(cardNumber: string): 'active' | 'stopped' | undefined {
    const c = this.cards.get(cardNumber);
    return c ? (c.stoppedAtMs === undefined ? 'active' : 'stopped') : undefined;
  }

  rates(): Promise<Rates> {
    return this.gate('rates', () => ({ deposit: DEMO_DEPOSIT_RATES, fx: DEMO_FX_RATES }));
  }
}
