/**
 * Demo customers' accounts and cards for the reference ledger and the in-memory host. The
 * PINs here are demo data for simulated callers; the ledger stores only their scrypt hashes.
 */
import type { AccountType, DepositRate, FxRate } from './port.js';

export interface DemoAccount {
  accountId: string;
  type: AccountType;
  currency: string;
  openingMinor: number;
  /** How far a current account may go below zero (default 0). */
  overdraftMinor?: number;
}

export interface DemoCard {
  cardNumber: string;
  accountId: string;
  pin: string;
}

export interface DemoLedgerCustomer {
  customerId: string;
  /** The phone-banking PIN (电话银行密码). */
  pin: string;
  accounts: DemoAccount[];
  cards: DemoCard[];
}

export const DEMO_LEDGER_CUSTOMERS: DemoLedgerCustomer[] = [
  {
    customerId: 'c-1001',
    pin: '135790',
    accounts: [
      { accountId: 'a-1001-cur', type: 'current', currency: 'CNY', openingMinor: 1_250_000 },
      { accountId: 'a-1001-dep', type: 'deposit', currency: 'CNY', openingMinor: 5_000_000 },
    ],
    cards: [{ cardNumber: '6222020000001001', accountId: 'a-1001-cur', pin: '135790' }],
  },
  {
    customerId: 'c-2001',
    pin: '246802',
    accounts: [
      {
        accountId: 'a-2001-cur',
        type: 'current',
        currency: 'CNY',
        openingMinor: 88_000_000,
        overdraftMinor: 1_000_000,
      },
      { accountId: 'a-2001-dep', type: 'deposit', currency: 'CNY', openingMinor: 300_000_000 },
      { accountId: 'a-2001-usd', type: 'current', currency: 'USD', openingMinor: 2_000_000 },
    ],
    cards: [{ cardNumber: '6222020000002001', accountId: 'a-2001-cur', pin: '246802' }],
  },
  {
    customerId: 'c-3001',
    pin: '970531',
    accounts: [{ accountId: 'a-3001-cur', type: 'current', currency: 'CNY', openingMinor: 30_000 }],
    cards: [{ cardNumber: '6222020000003001', accountId: 'a-3001-cur', pin: '970531' }],
  },
];

export const DEMO_DEPOSIT_RATES: DepositRate[] = [
  { termMonths: 0, annualPercent: 0.1 },
  { termMonths: 3, annualPercent: 0.8 },
  { termMonths: 6, annualPercent: 1.05 },
  { termMonths: 12, annualPercent: 1.25 },
  { termMonths: 36, annualPercent: 1.75 },
];

export const DEMO_FX_RATES: FxRate[] = [
  { currency: 'USD', buy: 716.2, sell: 719.1 },
  { currency: 'EUR', buy: 772.4, sell: 778.0 },
  { currency: 'HKD', buy: 91.6, sell: 92.0 },
  { currency: 'JPY', buy: 4.71, sell: 4.75 },
];
