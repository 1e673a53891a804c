/**
 * Which clips to play for a prompt, and which clips the prompt build must make (docs/sip.md
 * "Prompts"). Pure: no files, no audio.
 *
 * A prompt without `{vars}` is one clip of its whole text. A prompt with vars is cut at each
 * placeholder: the fixed stretches between them are clips of their own (`prompt:<id>#<i>`), and
 * each var's value is read as a list of building-block words (`word:<w>`: digits, number
 * words, months, currencies...), so any amount or position plays from a fixed set of clips
 * made once at build time. How a var is read depends on its name (VAR_KINDS): an amount is a
 * decimal number, a position a count, a card ending digit by digit.
 */
import { invalidArgument, notFound } from '../../shared/errors.js';
import type { PromptCatalogue } from '../ivr/flow.js';
import { EN_NUMBER_WORDS, EN_ORDINAL_WORDS, readDayOrdinalEn, readNumberEn } from './spoken-number-en.js';
import { ZH_NUMBER_WORDS, readNumberZh } from './spoken-number-zh.js';
import {
  ACCOUNT_TYPE_WORDS,
  CURRENCY_WORDS,
  EN_MONTHS,
  LETTERS,
  PAYEE_WORDS,
  type PromptLanguage,
  TXN_KIND_WORDS,
  ZH_DATE_WORDS,
} from './prompt-words.js';

export type { PromptLanguage } from './prompt-words.js';
export const PROMPT_LANGUAGES: readonly PromptLanguage[] = ['zh', 'en'];

/** One clip: what it says, in which language, under which name. */
export interface Clip {
  lang: PromptLanguage;
  name: string;
  text: string;
}

export const clipKey = (c: Pick<Clip, 'lang' | 'name'>): string => `${c.lang}/${c.name}`;

type VarKind = 'decimal' | 'count' | 'digits' | 'date' | 'currency' | 'account-type' | 'txn-kind' | 'payee';

/** How each placeholder name in prompts.yaml is read; a new placeholder needs a line here. */
export const VAR_KINDS: Readonly<Record<string, VarKind>> = {
  amount: 'decimal',
  balance: 'decimal',
  rate: 'decimal',
  buy: 'decimal',
  sell: 'decimal',
  months: 'count',
  minutes: 'count',
  position: 'count',
  last4: 'digits',
  from: 'digits',
  to: 'digits',
  key: 'digits',
  ref: 'digits',
  date: 'date',
  currency: 'currency',
  type: 'account-type',
  kind: 'txn-kind',
  payee: 'payee',
};

type Part = { text: string } | { var: string };

function splitTemplate(template: string): Part[] {
  return template
    .split(/(\{\w+\})/)
    .map((s) => (/^\{\w+\}$/.test(s) ? { var: s.slice(1, -1) } : { text: s }));
}

/** Punctuation-only stretches (`。`, `, `) between placeholders make no clip. */
const spoken = (text: string): boolean => /[\p{L}\p{N}]/u.test(text);

const ZH_DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];
const EN_DIGITS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

function spell(value: string, lang: PromptLanguage): string[] {
  const digits = lang === 'zh' ? ZH_DIGITS : EN_DIGITS;
  return [...value.toUpperCase()].flatMap((c) =>
    /\d/.test(c) ? [digits[Number(c)]!] : LETTERS.includes(c) ? [c] : [],
  );
}

function lookup(
  table: Readonly<Record<string, Record<PromptLanguage, string>>>,
  value: string,
  lang: PromptLanguage,
): string[] {
  const word = Object.hasOwn(table, value) ? table[value]![lang] : undefined;
  if (word === undefined)
    throw new RangeError(`${JSON.stringify(value)} is not one of ${Object.keys(table).join(', ')}`);
  return [word];
}

function readDate(value: string, lang: PromptLanguage): string[] {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(value);
  const [year, month, day] = m ? [m[1]!, Number(m[2]), Number(m[3])] : ['', 0, 0];
  if (!m || month < 1 || month > 12 || day < 1 || day > 31)
    throw new RangeError(`${JSON.stringify(value)} is not a date (YYYY-MM-DD)`);
  return lang === 'zh'
    ? [...spell(year, 'zh'), '年', ...readNumberZh(String(month)), '月', ...readNumberZh(String(day)), '日']
    : [EN_MONTHS[month - 1]!, ...readDayOrdinalEn(day), ...readNumberEn(year)];
}

function readVar(kind: VarKind, value: string, lang: PromptLanguage): string[] {
  switch (kind) {
    case 'decimal':
      return lang === 'zh' ? readNumberZh(value) : readNumberEn(value);
    case 'count':
      if (!/^\d+$/.test(value)) throw new RangeError(`${JSON.stringify(value)} is not a whole number`);
      return lang === 'zh' ? readNumberZh(value, { count: true }) : readNumberEn(value);
    case 'digits': {
      const words = spell(value, lang);
      if (words.length === 0)
        throw new RangeError(`${JSON.stringify(value)} has no digits or letters to read`);
      return words;
    }
    case 'date':
      return readDate(value, lang);
    case 'currency':
      if (Object.hasOwn(CURRENCY_WORDS, value)) return [CURRENCY_WORDS[value]![lang]];
      if (!/^[A-Z]{3}$/.test(value)) throw new RangeError(`${JSON.stringify(value)} is not a currency code`);
      return spell(value, lang);
    case 'account-type':
      return lookup(ACCOUNT_TYPE_WORDS, value, lang);
    case 'txn-kind':
      return lookup(TXN_KIND_WORDS, value, lang);
    case 'payee':
      return lookup(PAYEE_WORDS, value, lang);
  }
}

const word = (lang: PromptLanguage, w: string): Clip => ({ lang, name: `word:${w}`, text: w });

/**
 * The clips to play, in order, for a prompt with its vars. Throws `not-found` for a prompt the
 * catalogue lacks and `invalid-argument` naming the var for a var missing or unreadable.
 */
export function planPrompt(
  cat: PromptCatalogue,
  promptId: string,
  vars: Readonly<Record<string, string>>,
  lang: PromptLanguage,
): Clip[] {
  const prompt = cat.get(promptId);
  if (!prompt) throw notFound('prompt', promptId);
  const parts = splitTemplate(prompt[lang]);
  if (parts.length === 1) return [{ lang, name: `prompt:${promptId}`, text: prompt[lang].trim() }];
  return parts.flatMap((part, i): Clip[] => {
    if ('text' in part)
      return spoken(part.text) ? [{ lang, name: `prompt:${promptId}#${i}`, text: part.text.trim() }] : [];
    const field = `${promptId}.vars.${part.var}`;
    const kind = Object.hasOwn(VAR_KINDS, part.var) ? VAR_KINDS[part.var] : undefined;
    if (!kind) throw invalidArgument(field, 'no reading is defined for this placeholder (VAR_KINDS)');
    const value = Object.hasOwn(vars, part.var) ? vars[part.var] : undefined;
    if (value === undefined) throw invalidArgument(field, 'missing');
    try {
      return readVar(kind, value, lang).map((w) => word(lang, w));
    } catch (e) {
      if (e instanceof RangeError) throw invalidArgument(field, e.message);
      throw e;
    }
  });
}

function wordsOf(lang: PromptLanguage): string[] {
  const tables = [ACCOUNT_TYPE_WORDS, TXN_KIND_WORDS, PAYEE_WORDS, CURRENCY_WORDS].flatMap((t) =>
    Object.values(t).map((w) => w[lang]),
  );
  const numbers =
    lang === 'zh'
      ? [...ZH_NUMBER_WORDS, ...ZH_DATE_WORDS]
      : [...EN_NUMBER_WORDS, ...EN_ORDINAL_WORDS, ...EN_MONTHS];
  return [...numbers, ...LETTERS, ...tables];
}

/**
 * Every clip the catalogue can need, each once: the fixed stretches of every prompt in both
 * languages and every building-block word. Throws `invalid-argument` for a placeholder with no
 * reading, so a prompt added without one fails the build, not a call.
 */
export function clipsToBuild(cat: PromptCatalogue): Clip[] {
  const out = new Map<string, Clip>();
  const add = (c: Clip) => out.set(clipKey(c), c);
  for (const [id, prompt] of cat) {
    for (const lang of PROMPT_LANGUAGES) {
      const parts = splitTemplate(prompt[lang]);
      if (parts.length === 1) add({ lang, name: `prompt:${id}`, text: prompt[lang].trim() });
      parts.forEach((part, i) => {
        if (parts.length > 1 && 'text' in part && spoken(part.text))
          add({ lang, name: `prompt:${id}#${i}`, text: part.text.trim() });
        if ('var' in part && !Object.hasOwn(VAR_KINDS, part.var))
          throw invalidArgument(`${id}.${lang}`, `placeholder {${part.var}} has no reading (VAR_KINDS)`);
      });
    }
  }
  for (const lang of PROMPT_LANGUAGES) for (const w of wordsOf(lang)) add(word(lang, w));
  return [...out.values()];
}
