/**
 * English readings of numbers as lists of building-block words (each one clip in the prompt
 * build, docs/sip.md "Prompts"). American style: no "and" (1001 "one thousand one"), tens and
 * units as separate words ("forty five") so twenty-eight words cover every number below a
 * trillion; decimals digit by digit after "point".
 */

const ONES = [
  'zero',
  'one',
  'two',
  'three',
  'four',
  'five',
  'six',
  'seven',
  'eight',
  'nine',
  'ten',
  'eleven',
  'twelve',
  'thirteen',
  'fourteen',
  'fifteen',
  'sixteen',
  'seventeen',
  'eighteen',
  'nineteen',
] as const;
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'] as const;
const SCALES = ['', 'thousand', 'million', 'billion'] as const;

/** Every word the readings below can produce, for the prompt build. */
export const EN_NUMBER_WORDS: readonly string[] = [
  ...ONES,
  ...TENS.filter(Boolean),
  'hundred',
  ...SCALES.filter(Boolean),
  'point',
  'minus',
];

/** 1..999 */
function readHundreds(n: number): string[] {
  const out: string[] = [];
  if (n >= 100) out.push(ONES[Math.floor(n / 100)]!, 'hundred');
  const rest = n % 100;
  if (rest >= 20) out.push(TENS[Math.floor(rest / 10)]!, ...(rest % 10 ? [ONES[rest % 10]!] : []));
  else if (rest > 0) out.push(ONES[rest]!);
  return out;
}

function readIntegerDigits(digits: string): string[] {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  if (trimmed === '0') return ['zero'];
  const groups: number[] = [];
  for (let end = trimmed.length; end > 0; end -= 3)
    groups.unshift(Number(trimmed.slice(Math.max(0, end - 3), end)));
  if (groups.length > SCALES.length) throw new RangeError(`number ${digits} is too large to read`);
  return groups.flatMap((g, i) => {
    const scale = SCALES[groups.length - 1 - i]!;
    return g === 0 ? [] : [...readHundreds(g), ...(scale ? [scale] : [])];
  });
}

/** A decimal number as written by the IVR (`12345.60`, `-3.5`, `0`). */
export function readNumberEn(text: string): string[] {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new RangeError(`${JSON.stringify(text)} is not a decimal number`);
  const [, sign, int, frac] = m;
  return [
    ...(sign ? ['minus'] : []),
    ...readIntegerDigits(int!),
    ...(frac ? ['point', ...[...frac].map((c) => ONES[Number(c)]!)] : []),
  ];
}

/** Digits one by one (card endings, keys, reference numbers). */
export function readDigitsEn(digits: string): string[] {
  return [...digits].map((c) => ONES[Number(c)]!);
}

const ORDINAL_ONES = [
  '',
  'first',
  'second',
  'third',
  'fourth',
  'fifth',
  'sixth',
  'seventh',
  'eighth',
  'ninth',
  'tenth',
  'eleventh',
  'twelfth',
  'thirteenth',
  'fourteenth',
  'fifteenth',
  'sixteenth',
  'seventeenth',
  'eighteenth',
  'nineteenth',
] as const;

export const EN_ORDINAL_WORDS: readonly string[] = [
  ...ORDINAL_ONES.filter(Boolean),
  'twentieth',
  'thirtieth',
];

/** A day of the month, 1..31: "second", "twenty first". */
export function readDayOrdinalEn(day: number): string[] {
  if (!Number.isInteger(day) || day < 1 || day > 31) throw new RangeError(`${day} is not a day of the month`);
  if (day < 20) return [ORDINAL_ONES[day]!];
  const tens = Math.floor(day / 10);
  if (day % 10 === 0) return [tens === 2 ? 'twentieth' : 'thirtieth'];
  return [TENS[tens]!, ORDINAL_ONES[day % 10]!];
}
