/**
 * The `BankHost` port (DESIGN.md §4): the bank's core system that holds balances. The IVR and
 * agent desk talk to it only through this interface. Two adapters implement it: an in-memory
 * one for unit tests (memory.ts) and the reference ledger on Postgres (pg-ledger.ts).
 *
 * Errors are DomainErrors: unknown account/card = not-found, insufficient funds or a stopped
 * account = failed-precondition, same idempotency key with different content = conflict,
 * a host that does not answer in time = deadline-exceeded or unavailable. A PIN never appears
 * in an error, a log line or a return value.
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

export interface PinVerification {
  verified: boolean;
  /** The customer the subject belongs to, only when verified. */
  customerId?: string;
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

/** Validates the shape of money-moving requests; both adapters call it first. */
export function checkAmount(field: string, amountMinor: number): void {
  if (!Number.isSafeInteger(amountMinor) || amountMinor <= 0) {
    throw invalidArgument(field, `must be a positive whole number of minor units, got ${amountMinor}`);
  }
}

export function checkKey(field: string, key: string): void {
  if (typeof key !== 'string' || key.length < 1 || key.length > 200) {
    throw invalidArgument(field, 'must be a string of 1..200 characters');
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
