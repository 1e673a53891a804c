/**
 * Phone numbers in one canonical form, so a caller is recognised by ANI whatever shape the
 * carrier delivers the number in ("+86 139-1234-5678", "008613912345678", "013912345678" all
 * identify the customer stored as "13912345678"). Pure: no I/O, no locale, no clock.
 *
 * The canonical form is China's national significant form, as the directory stores numbers:
 *
 *   mobile ............ 11 digits starting 1[3-9]           13912345678
 *   landline .......... trunk 0 + area code + subscriber    02363881234
 *   400/800 ........... their 10 digits                     4008205555
 *   service ........... their digits (1xx..., 95..., 96...) 95588, 10086
 *   other countries ... "+" + country code + number (E.164) +14155550123
 *   local subscriber .. 7-8 digits; with the caller's area code when one is known
 *
 * Why a local number is only qualified when an area code is given: a bare "63881234" means a
 * different line in every city. A site knows its city (site.areaCode) and dials it locally;
 * the hub does not, so it leaves such a number as it is rather than guess, and the directory
 * refuses to store one (parseStoredPhone): a profile's numbers must be whole.
 *
 * Digit strings that fit none of the shapes above (a trunk's odd test number, a 13-digit IoT
 * SIM) are kept as their digits: refusing them would lose data that was valid before, and an
 * unknown shape can still match itself exactly.
 */
import { invalidArgument } from '../errors.js';

export interface PhoneContext {
  /** The caller's area code with its trunk 0, e.g. '023' (Chongqing) or '010' (Beijing). */
  areaCode?: string | undefined;
}

export type PhoneParse = { ok: true; phone: string } | { ok: false; problem: string };

export const MAX_PHONE_DIGITS = 20;
const MIN_PHONE_DIGITS = 3;

/** 0 + a 2-3 digit area code (the first area digit is never 0). */
export const AREA_CODE_RE = /^0[1-9]\d{1,2}$/;
export const AREA_CODE_RULE = 'must be 0 followed by 2 or 3 digits (e.g. 023)';

const MOBILE = /^1[3-9]\d{9}$/;
/**
 * A landline without its trunk 0: a 2-digit area (10 Beijing, 2x the big cities) or a
 * 3-digit one (3xx-9xx), then a 7-8 digit subscriber number. The split between area and
 * subscriber may be ambiguous ("2312345678"), but the canonical string is the same either
 * way, so it is never needed. The subscriber's first digit is not checked: the directory
 * holds numbers that only the shape, not the numbering plan, can vouch for.
 */
const LANDLINE_NSN = /^(?:10|2\d|[3-9]\d{2})\d{7,8}$/;
const TOLL_FREE = /^[48]00\d{7}$/;
/** Carrier and public service numbers (110, 10086, 12345) and the 95/96 bank-style numbers. */
const SERVICE = /^(?:1\d{2,5}|9[56]\d{3,6})$/;
const LOCAL = /^[2-9]\d{6,7}$/;
/** What may appear between digits: spaces, dashes, dots, parentheses. */
const SEPARATORS = /[\s\-.()]/g;

/** Throws invalid-argument on a malformed area code: that is the caller's config, not input. */
export function assertAreaCode(areaCode: string | undefined, field = 'areaCode'): void {
  if (areaCode === undefined) return;
  if (typeof areaCode !== 'string' || !AREA_CODE_RE.test(areaCode)) {
    throw invalidArgument(field, `${AREA_CODE_RULE} (got ${JSON.stringify(areaCode)})`);
  }
}

/**
 * The national number after a +86/0086 prefix, or undefined when what follows is not a
 * Chinese number. Service numbers count only when `loose` (after "+" or "00", which say a
 * country code follows): after a bare "86" they would swallow local numbers ("8695588").
 */
function afterCountryCode86(rest: string, loose: boolean): string | undefined {
  // Before the landline rule: "4008205555" would also pass as area 400 + subscriber.
  if (MOBILE.test(rest) || TOLL_FREE.test(rest)) return rest;
  if (LANDLINE_NSN.test(rest)) return `0${rest}`;
  // People write "+86 (0)23 ..." and some switches keep the trunk 0 after the country code.
  if (rest.startsWith('0') && LANDLINE_NSN.test(rest.slice(1))) return rest;
  if (loose && SERVICE.test(rest)) return rest;
  return undefined;
}

/** Canonical form of a number written without any international prefix. */
function national(d: string, ctx: PhoneContext): string {
  if (MOBILE.test(d)) return d;
  // How trunks deliver a long-distance mobile caller: a trunk 0 before the mobile number.
  if (d.startsWith('0') && MOBILE.test(d.slice(1))) return d.slice(1);
  if (d.startsWith('0') && LANDLINE_NSN.test(d.slice(1))) return d;
  // "86" without + or 00: only when the rest is a whole mobile or landline number, so a
  // local number that happens to start with 86 ("86123456") is left alone.
  if (d.startsWith('86')) {
    const n = afterCountryCode86(d.slice(2), false);
    if (n !== undefined) return n;
  }
  if (TOLL_FREE.test(d) || SERVICE.test(d)) return d;
  if (LOCAL.test(d) && ctx.areaCode !== undefined) return ctx.areaCode + d;
  return d;
}

/**
 * Normalise without throwing on bad input: `{ ok: false, problem }` says what is wrong with
 * `raw` (the problem text does not name a field; the caller knows which field it parsed).
 * A malformed `ctx.areaCode` still throws: it is configuration, validated once at start.
 */
export function parsePhone(raw: unknown, ctx: PhoneContext = {}): PhoneParse {
  assertAreaCode(ctx.areaCode, 'areaCode');
  if (typeof raw !== 'string') return { ok: false, problem: 'must be a string' };
  const s = raw.trim();
  if (s === '') return { ok: false, problem: 'must not be empty' };
  const bad = /[^\d\s\-.()+]/.exec(s);
  if (bad) {
    return {
      ok: false,
      problem: `${JSON.stringify(raw)} is not a phone number: ${JSON.stringify(bad[0])} is not a digit or separator`,
    };
  }
  const compact = s.replace(SEPARATORS, '');
  const plus = compact.startsWith('+');
  const d = plus ? compact.slice(1) : compact;
  if (d.includes('+')) {
    return { ok: false, problem: `${JSON.stringify(raw)}: "+" may only come before the country code` };
  }
  if (d === '') return { ok: false, problem: `${JSON.stringify(raw)} has no digits` };
  if (d.length > MAX_PHONE_DIGITS) {
    return {
      ok: false,
      problem: `${JSON.stringify(raw)} has ${d.length} digits; at most ${MAX_PHONE_DIGITS}`,
    };
  }

  const intl = plus ? d : d.startsWith('00') ? d.slice(2) : undefined;
  if (intl !== undefined) {
    if (intl === '' || intl.startsWith('0')) {
      return { ok: false, problem: `${JSON.stringify(raw)}: a country code cannot start with 0` };
    }
    if (intl.length < MIN_PHONE_DIGITS + 1) {
      return { ok: false, problem: `${JSON.stringify(raw)} is too short for an international number` };
    }
    if (!intl.startsWith('86')) return { ok: true, phone: `+${intl}` };
    const n = afterCountryCode86(intl.slice(2), true);
    return n === undefined
      ? {
          ok: false,
          problem: `${JSON.stringify(raw)}: after +86 expected a mobile, landline, 400/800 or service number`,
        }
      : { ok: true, phone: n };
  }
  if (d.length < MIN_PHONE_DIGITS) {
    return { ok: false, problem: `${JSON.stringify(raw)} is too short: at least ${MIN_PHONE_DIGITS} digits` };
  }
  return { ok: true, phone: national(d, ctx) };
}

/**
 * `parsePhone` for a number the directory stores (the system of record): a bare local number
 * is refused, because the directory serves every city and "63881234" is a different line in
 * each of them; a site's local caller number reaches the hub already qualified with that
 * site's area code, and must meet the stored number there.
 */
export function parseStoredPhone(raw: unknown): PhoneParse {
  const r = parsePhone(raw);
  if (r.ok && LOCAL.test(r.phone)) {
    return {
      ok: false,
      problem: `${JSON.stringify(raw)} is a local number: store it with its area code (e.g. 023${r.phone})`,
    };
  }
  return r;
}

/**
 * The canonical form of `raw` (see the module comment). Throws DomainError('invalid-argument')
 * naming `field` when `raw` is not a phone number (letters, empty, more than 20 digits...).
 */
export function normalizePhone(raw: string, ctx: PhoneContext = {}, field = 'phone'): string {
  const r = parsePhone(raw, ctx);
  if (!r.ok) throw invalidArgument(field, r.problem);
  return r.phone;
}

/**
 * The canonical form, or undefined when `raw` is not a phone number: for ANIs, where
 * "anonymous", "unknown" or an empty caller id simply mean the caller is not recognised.
 */
export function tryNormalizePhone(raw: string, ctx: PhoneContext = {}): string | undefined {
  const r = parsePhone(raw, ctx);
  return r.ok ? r.phone : undefined;
}
