/**
 * Mandarin readings of numbers as lists of building-block words (each one clip in the prompt
 * build, docs/sip.md "Prompts"). Pure: the prompt planner (prompt-pieces.ts) strings them together.
 *
 * Rules, as taught for reading numbers aloud:
 * - four-digit groups carry 万 and 亿; a group's trailing zeros are silent (10001000 一千万一千),
 *   zeros at the start or inside a group, or a whole zero group, read as one 零 (1001 一千零一,
 *   100001000 一亿零一千);
 * - a number starting with 1 in the tens place drops the 一 (10 十, 100000 十万), but not in the
 *   middle (110 一百一十);
 * - 2 before 百/千 or alone before 万/亿 is 两 (两千, 一万两千, 两万; but 二十二万), and a count of exactly 2 is 两 (两位, 两个月);
 *   elsewhere it is 二 (十二, 二十);
 * - decimals read digit by digit after 点, negatives start with 负.
 */

const DIGITS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'] as const;
const PLACES = ['千', '百', '十', ''] as const;
const GROUP_UNITS = ['', '万', '亿', '万亿'] as const;

/** Every word the readings below can produce, for the prompt build. */
export const ZH_NUMBER_WORDS: readonly string[] = [...DIGITS, '两', '十', '百', '千', '万', '亿', '点', '负'];

/** An integer given as its decimal digits (no sign, no separators). */
function readIntegerDigits(digits: string, count: boolean): string[] {
  const trimmed = digits.replace(/^0+(?=\d)/, '');
  if (trimmed === '0') return ['零'];
  if (count && trimmed === '2') return ['两'];
  const groups: string[] = [];
  for (let end = trimmed.length; end > 0; end -= 4) groups.unshift(trimmed.slice(Math.max(0, end - 4), end));
  if (groups.length > GROUP_UNITS.length) throw new RangeError(`number ${digits} is too large to read`);
  const out: string[] = [];
  let zeroPending = false;
  groups.forEach((group, gi) => {
    const unit = GROUP_UNITS[groups.length - 1 - gi]!;
    const padded = group.padStart(4, '0');
    let said = false;
    for (let i = 0; i < 4; i++) {
      const d = Number(padded[i]);
      const place = PLACES[i]!;
      if (d === 0) {
        if (out.length > 0) zeroPending = true;
        continue;
      }
      if (zeroPending) out.push('零');
      zeroPending = false;
      const atStart = out.length === 0;
      const twoBeforeBig =
        d === 2 && (place === '百' || place === '千' || (place === '' && unit !== '' && Number(group) === 2));
      if (!(atStart && d === 1 && place === '十')) out.push(twoBeforeBig ? '两' : DIGITS[d]!);
      if (place) out.push(place);
      said = true;
    }
    if (said) {
      if (unit) out.push(unit);
      zeroPending = false; // a group's trailing zeros are silent
    }
  });
  return out;
}

/**
 * A decimal number as written by the IVR (`12345.60`, `-3.5`, `0`): integer part by the rules
 * above, then 点 and each decimal digit. `count` reads an exact 2 as 两 (positions, minutes).
 */
export function readNumberZh(text: string, opts: { count?: boolean } = {}): string[] {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(text);
  if (!m) throw new RangeError(`${JSON.stringify(text)} is not a decimal number`);
  const [, sign, int, frac] = m;
  return [
    ...(sign ? ['负'] : []),
    ...readIntegerDigits(int!, opts.count === true && !frac),
    ...(frac ? ['点', ...[...frac].map((c) => DIGITS[Number(c)]!)] : []),
  ];
}

/** Digits one by one (card endings, keys, reference numbers). */
export function readDigitsZh(digits: string): string[] {
  return [...digits].map((c) => DIGITS[Number(c)]!);
}
