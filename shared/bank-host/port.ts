/**
 * The `BankHost` port (docs/architecture.md §4): the bank's core system that holds balances. The IVR and
 * agent desk talk to it only through this interface. Two adapters implement it: an in-memory
 * one for unit tests (memory.ts) and the reference ledger on Postgres (pg-ledger.ts).
 *
 * Errors are DomainErrors: a malformed request = invalid-argument naming the field (the
 * request checks below, shared by both adapters), unknown account/card = not-found,
 * insufficient funds or a stopped account = failed-precondition, same idempotency key with
 * different content = conflict, a host that does not answer in time = deadline-exceeded or
 * unavailable. A PIN never appears in an error, a log line or a return value.
 */
import { DomainError, invalidArgument } from '../errors.js';

export type AccountType = 'current' | 'deposit';
export type Currency = string; // ISO 4217, e.g. 'CNY', 'USD'

export interface AccountBalance {
  accountId: string;
  customerId: string;
  type: AccountType;
  currency: Currency;
  /** Balance in minor units (fen for CNY). */
  balanceMinor: number;
  status: 'active' | 'stopped';
}

export interface TransactionLine {
  postingId: string;
  accountId: string;
  atMs: number;
  /** Signed from the account's point of view: negative = money out. */
  amountMinor: number;
  currency: Currency;
  kind: 'opening' | 'transfer' | 'bill' | 'reversal';
  memo: string;
}

/** Who is verifying: a phone-banking customer (customer PIN) or a card (card PIN). */
export type PinSubject = { customerId: string } | { cardNumber: string };

/**
 * What a PIN check answers. A wrong PIN and a locked customer are distinct outcomes: a locked
 * customer is refused without the PIN being checked (the right PIN is refused too), and the
 * IVR tells the caller how to get unlocked instead of asking again.
 * - `verified: true`: the PIN is right; the customer's failure count is reset.
 * - `verified: false` alone: a wrong PIN, or a subject the host does not know.
 * - `verified: false, locked: true`: the subject's customer is locked until `lockedUntilMs`
 *   (the host's clock); `lockedNow` is true on the failure that started the lock, so the
 *   caller records it once.
 */
export type PinVerification =
  | { verified: true; customerId: string; locked?: undefined }
  | { verified: false; customerId?: undefined; locked?: undefined }
  | { verified: false; customerId?: undefined; locked: true; lockedUntilMs: number; lockedNow: boolean };

/**
 * How wrong PINs lock a customer, counted per customer across calls (a card's wrong PIN counts
 * against its customer): `maxFailures` wrong PINs in a row lock the customer for `lockMs`; a
 * right PIN before that resets the count; when the lock lapses the count starts again at zero.
 */
export interface PinLockPolicy {
  maxFailures: number;
  lockMs: number;
}

/**
 * Lifting a customer's PIN lock, by someone who has verified the customer's identity (an
 * agent): `by` says who, for the lock's record. Also resets the wrong-PIN count.
 */
export interface PinUnlockRequest {
  customerId: string;
  /** Who unlocks, e.g. the agent's id; kept on the lock's record. */
  by: string;
  reason: string;
}

export interface PinUnlockResult {
  customerId: string;
  /** `unlocked`: a lock was in force and is lifted; `not-locked`: there was none (or it had lapsed). */
  status: 'unlocked' | 'not-locked';
}

/**
 * Whether a customer's PIN is locked now (the host's clock), so an agent's screen can say so
 * and the agent knows to offer an unlock. A lapsed lock reads as not locked.
 */
export type PinLockStatus =
  { customerId: string; locked: false } | { customerId: string; locked: true; lockedUntilMs: number };

export function checkPinUnlockRequest(req: PinUnlockRequest): void {
  if (typeof req.customerId !== 'string' || req.customerId.length < 1) {
    throw invalidArgument('customerId', 'must be a non-empty string');
  }
  if (typeof req.by !== 'string' || req.by.length < 1 || req.by.length > 200) {
    throw invalidArgument('by', 'must be a string of 1..200 characters');
  }
  if (typeof req.reason !== 'string' || req.reason.length < 1 || req.reason.length > 500) {
    throw invalidArgument('reason', 'must be a string of 1..500 characters');
  }
}

/** The default: three wrong PINs lock the customer for 24 hours. */
export const DEFAULT_PIN_LOCK: PinLockPolicy = { maxFailures: 3, lockMs: 24 * 60 * 60 * 1000 };

/** A policy given where a host is built, checked once; the error names the field. */
export function checkPinLockPolicy(p: PinLockPolicy, field = 'pinLock'): PinLockPolicy {
  if (!Number.isInteger(p.maxFailures) || p.maxFailures < 1 || p.maxFailures > 20) {
    throw invalidArgument(`${field}.maxFailures`, `must be a whole number 1..20, got ${p.maxFailures}`);
  }
  if (!Number.isSafeInteger(p.lockMs) || p.lockMs < 1) {
    throw invalidArgument(
      `${field}.lockMs`,
      `must be a positive whole number of milliseconds, got ${p.lockMs}`,
    );
  }
  return { maxFailures: p.maxFailures, lockMs: p.lockMs };
}

/**
 * The lock decision both hosts make, pure so they cannot drift apart: given the customer's
 * stored count and lock, the time and whether the PIN matched, the new count and lock and
 * what to answer. A lapsed lock is cleared before the attempt counts.
 */
export interface PinLockState {
  failures: number;
  lockedUntilMs: number | null;
}
export type PinAttempt =
  | { kind: 'locked'; state: PinLockState; lockedUntilMs: number; lockedNow: boolean }
  | { kind: 'verified'; state: PinLockState }
  | { kind: 'wrong'; state: PinLockState };

/** Whether the customer is locked at `nowMs` (checked before the PIN is). */
export function activeLock(st: PinLockState, nowMs: number): number | undefined {
  return st.lockedUntilMs !== null && nowMs < st.lockedUntilMs ? st.lockedUntilMs : undefined;
}

/** The status a host answers for a customer whose active lock (if any) ends at `until`. */
export function lockStatus(customerId: string, until: number | undefined): PinLockStatus {
  return until === undefined
    ? { customerId, locked: false }
    : { customerId, locked: true, lockedUntilMs: until };
}

export function pinAttempt(
  st: PinLockState,
  pinMatches: boolean,
  nowMs: number,
  policy: PinLockPolicy,
): PinAttempt {
  const until = activeLock(st, nowMs);
  if (until !== undefined) return { kind: 'locked', state: st, lockedUntilMs: until, lockedNow: false };
  if (pinMatches) return { kind: 'verified', state: { failures: 0, lockedUntilMs: null } };
  // A lapsed lock starts the count again.
  const failures = (st.lockedUntilMs === null ? st.failures : 0) + 1;
  if (failures >= policy.maxFailures) {
    const lockedUntilMs = nowMs + policy.lockMs;
    return { kind: 'locked', state: { failures, lockedUntilMs }, lockedUntilMs, lockedNow: true };
  }
  return { kind: 'wrong', state: { failures, lockedUntilMs: null } };
}

export interface TransferRequest {
  idempotencyKey: string;
  fromAccountId: string;
  toAccountId: string;
  amountMinor: number;
  currency: Currency;
  memo?: string;
}

export type PostingStatus = 'posted' | 'reversed';

export interface PostingResult {
  postingId: string;
  status: PostingStatus;
}

/** Reverse by the key the original request carried, or by the posting id it returned. */
export type ReverseRequest = ({ idempotencyKey: string } | { postingId: string }) & { reason: string };

export interface ReverseResult {
  /**
   * - `reversed`: a compensating posting now cancels the original (also on a repeat call).
   * - `nothing-to-reverse`: the host never posted anything under that key; the key is now
   *   voided, so a late-arriving original with that key is refused and moves no money.
   */
  status: 'reversed' | 'nothing-to-reverse';
  originalPostingId?: string;
  reversalPostingId?: string;
}

export interface CardLossResult {
  /** Last four digits only. */
  cardLast4: string;
  customerId: string;
  status: 'stopped';
  stoppedAtMs: number;
  /** True when the card was already stopped before this call (the call is idempotent). */
  alreadyStopped: boolean;
}

export const PAYEE_KINDS = ['utility-water', 'utility-power', 'utility-gas', 'phone', 'cable-tv'] as const;
export type PayeeKind = (typeof PAYEE_KINDS)[number];

export interface PayBillRequest {
  idempotencyKey: string;
  fromAccountId: string;
  payee: PayeeKind;
  billRef: string;
  amountMinor: number;
}

export interface DepositRate {
  /** 0 = demand deposit (活期). */
  termMonths: number;
  /** Annual rate in percent, e.g. 1.35. */
  annualPercent: number;
}

export interface FxRate {
  currency: Currency;
  /** CNY per 100 units of `currency`, bank buys / sells. */
  buy: number;
  sell: number;
}

export interface Rates {
  deposit: DepositRate[];
  fx: FxRate[];
}

export interface BankHost {
  verifyPin(subject: PinSubject, pin: string): Promise<PinVerification>;
  /** Lift a PIN lock (not-found for an unknown customer); the lock's record says who and why. */
  unlockPin(req: PinUnlockRequest): Promise<PinUnlockResult>;
  /** Whether the customer's PIN is locked now (not-found for an unknown customer); changes nothing. */
  pinLockStatus(customerId: string): Promise<PinLockStatus>;
  balances(customerId: string): Promise<AccountBalance[]>;
  recentTransactions(accountId: string, limit: number): Promise<TransactionLine[]>;
  transfer(req: TransferRequest): Promise<PostingResult>;
  reverse(req: ReverseRequest): Promise<ReverseResult>;
  reportCardLoss(cardNumber: string): Promise<CardLossResult>;
  payBill(req: PayBillRequest): Promise<PostingResult>;
  rates(): Promise<Rates>;
}

/** The clearing account each payee kind's bill payments are credited to. */
export const payeeClearingAccount = (payee: PayeeKind): string => `clearing-${payee}`;

export const last4 = (cardNumber: string): string => cardNumber.slice(-4);

/*
 * What a well-formed request is: the one copy of the request checks, which both adapters run
 * before they read any state, so the in-memory host and the ledger refuse the same requests
 * with the same error, `invalid-argument` naming the field. Checks that need the host's
 * state (the account exists, is active, is not internal, is in the request's currency, has
 * the funds; the key's history) stay in each adapter, which must throw the same kinds:
 * not-found, failed-precondition, invalid-argument `currency`, conflict.
 */

function checkAmount(field: string, amountMinor: number): void {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) {
    throw invalidArgument(field, `must be a positive whole number of minor units, got ${amountMinor}`);
  }
}

function checkKey(field: string, key: string): void {
  if (typeof key !== 'string' || key.length < 1 || key.length > 200) {
    throw invalidArgument(field, 'must be a string of 1..200 characters');
  }
}

/** A bill reference as printed on the bill; it is stored and shown in the memo. */
const BILL_REF = /^[0-9A-Za-z-]{1,32}$/;

/** The most lines `recentTransactions` returns in one call. */
const MAX_RECENT_TRANSACTIONS = 100;

export function checkTransferRequest(req: TransferRequest): void {
  checkKey('idempotencyKey', req.idempotencyKey);
  checkAmount('amountMinor', req.amountMinor);
  if (req.fromAccountId === req.toAccountId) {
    throw invalidArgument('toAccountId', 'must differ from fromAccountId');
  }
}

export function checkPayBillRequest(req: PayBillRequest): void {
  checkKey('idempotencyKey', req.idempotencyKey);
  checkAmount('amountMinor', req.amountMinor);
  if (!PAYEE_KINDS.includes(req.payee)) {
    throw invalidArgument('payee', `unknown payee kind ${JSON.stringify(req.payee)}`);
  }
  // typeof first: a regex tests String(undefined), which would pass.
  if (typeof req.billRef !== 'string' || !BILL_REF.test(req.billRef)) {
    throw invalidArgument('billRef', 'must be 1..32 letters, digits or dashes');
  }
}

export function checkReverseRequest(req: ReverseRequest): void {
  // By posting id when it names one, else by key: the order the adapters branch in.
  if (!('postingId' in req)) checkKey('idempotencyKey', req.idempotencyKey);
}

export function checkTransactionLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_RECENT_TRANSACTIONS) {
    throw invalidArgument('limit', `must be 1..${MAX_RECENT_TRANSACTIONS}`);
  }
}

/** The host did not answer in time. */
export const hostTimeout = (op: string, ms: number): DomainError =>
  new DomainError('deadline-exceeded', `bank host: ${op} did not answer within ${ms} ms`);

/** A stable fingerprint of a request's content, to tell a retry from a different request. */
export function requestFingerprint(parts: Record<string, string | number | undefined>): string {
  return Object.keys(parts)
    .sort()
    .map((k) => `${k}=${parts[k] ?? ''}`)
    .join('|');
}
