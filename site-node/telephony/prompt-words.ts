/**
 * The words a prompt variable's value can be read as, beside numbers (spoken-number-*.ts):
 * account types, transaction kinds, payees and currencies as the bank host names them
 * (shared/bank-host/port.ts), plus letters and months. Each is one clip per language in the
 * prompt build; a currency not listed is spelt letter by letter, so these lists only make
 * common values sound natural.
 */
export type PromptLanguage = 'zh' | 'en';

export const ACCOUNT_TYPE_WORDS: Readonly<Record<string, Record<PromptLanguage, string>>> = {
  current: { zh: '活期', en: 'current' },
  deposit: { zh: '定期', en: 'deposit' },
};

export const TXN_KIND_WORDS: Readonly<Record<string, Record<PromptLanguage, string>>> = {
  opening: { zh: '开户存入', en: 'opening deposit' },
  transfer: { zh: '转账', en: 'transfer' },
  bill: { zh: '缴费', en: 'bill payment' },
  reversal: { zh: '冲正', en: 'reversal' },
};

export const PAYEE_WORDS: Readonly<Record<string, Record<PromptLanguage, string>>> = {
  'utility-water': { zh: '水费', en: 'water' },
  'utility-power': { zh: '电费', en: 'electricity' },
  'utility-gas': { zh: '燃气费', en: 'gas' },
  phone: { zh: '电话费', en: 'phone' },
  'cable-tv': { zh: '有线电视费', en: 'cable TV' },
};

export const CURRENCY_WORDS: Readonly<Record<string, Record<PromptLanguage, string>>> = {
  CNY: { zh: '元', en: 'yuan' },
  USD: { zh: '美元', en: 'US dollars' },
  EUR: { zh: '欧元', en: 'euros' },
  HKD: { zh: '港元', en: 'Hong Kong dollars' },
  JPY: { zh: '日元', en: 'yen' },
  GBP: { zh: '英镑', en: 'pounds sterling' },
};

/** Reference numbers may hold letters; both voices read them as English letter names. */
export const LETTERS: readonly string[] = [...'ABCDEFGHIJKLMNOPQRSTUVWXYZ'];

export const EN_MONTHS: readonly string[] = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];

/** Date parts in Mandarin (二零二六年十二月二日). */
export const ZH_DATE_WORDS: readonly string[] = ['年', '月', '日'];
