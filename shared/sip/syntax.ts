/**
 * The small pieces of RFC 3261 §25 grammar the header readers share: tokens, quoted strings,
 * comma-separated lists, `;name=value` parameters and URIs. Each refuses with a SipParseError
 * naming the header it was reading. Everything here is a single left-to-right scan or an
 * anchored regex without nested repetition, so a huge or hostile value costs linear time.
 */
import { SipParseError } from './parse-error.js';

const TOKEN_CHARS = "-.!%*_+`'~";
const isTokenChar = (c: string): boolean =>
  (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || TOKEN_CHARS.includes(c);
/** A parameter value: a token, or a host (IPv6 with ':' and brackets: `received=2001:db8::9`). */
const isValueChar = (c: string): boolean => isTokenChar(c) || c === ':' || c === '[' || c === ']';

export const TOKEN = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
export const isToken = (s: string): boolean => TOKEN.test(s);

/** At most 60 characters of a value, for error messages (a peer's huge value stays out of logs). */
export const clip = (s: string): string => JSON.stringify(s.length > 60 ? `${s.slice(0, 57)}...` : s);

export const fail = (header: string, problem: string): SipParseError => new SipParseError(header, problem);

const isWs = (c: string | undefined): boolean => c === ' ' || c === '\t';

/** The index just past the quoted string that starts at `s[start]` (a `"`). */
export function quotedEnd(s: string, start: number, header: string): number {
  for (let i = start + 1; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '"') return i + 1;
  }
  throw fail(header, `a quoted string is not closed: ${clip(s.slice(start))}`);
}

/** The text of a quoted string, quotes removed and `\x` pairs read as `x`. */
export const unquote = (q: string): string => q.slice(1, -1).replace(/\\(.)/gs, '$1');

/** Split on the commas that are outside quoted strings and `<...>`; elements are trimmed. */
export function splitList(value: string, header: string): string[] {
  const out: string[] = [];
  let start = 0;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '"') i = quotedEnd(value, i, header) - 1;
    else if (c === '<') inAngle = true;
    else if (c === '>') inAngle = false;
    else if (c === ',' && !inAngle) {
      out.push(value.slice(start, i).trim());
      start = i + 1;
    }
  }
  out.push(value.slice(start).trim());
  if (out.some((e) => e === '')) throw fail(header, `an empty element in the list ${clip(value)}`);
  return out;
}

/** Parameter names lower-cased; a value is as written (a quoted one keeps its quotes), null when bare. */
export type SipParams = ReadonlyMap<string, string | null>;

/** `*( SWS ";" SWS name [ SWS "=" SWS value ] )`, the whole of `s` (empty gives no parameters). */
export function parseParams(s: string, header: string): SipParams {
  const params = new Map<string, string | null>();
  let i = 0;
  const skipWs = (): void => {
    while (isWs(s[i])) i++;
  };
  skipWs();
  while (i < s.length) {
    if (s[i] !== ';') throw fail(header, `expected ";" before ${clip(s.slice(i))}`);
    i++;
    skipWs();
    const nameStart = i;
    while (i < s.length && isTokenChar(s[i]!)) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    if (name === '') throw fail(header, `a parameter without a name at ${clip(s.slice(nameStart))}`);
    skipWs();
    let value: string | null = null;
    if (s[i] === '=') {
      i++;
      skipWs();
      const valueStart = i;
      if (s[i] === '"') i = quotedEnd(s, i, header);
      else while (i < s.length && isValueChar(s[i]!)) i++;
      value = s.slice(valueStart, i);
      if (value === '') throw fail(header, `parameter ${name} has "=" but no value`);
      skipWs();
    }
    if (params.has(name)) throw fail(header, `parameter ${name} appears twice`);
    params.set(name, value);
  }
  return params;
}

const URI = /^[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"]+$/;

/** An absolute URI (`sip:`, `sips:`, `tel:`, or any other scheme: the UA decides on 416). */
export function checkUri(uri: string, header: string): string {
  if (URI.test(uri)) return uri;
  if (/\s/.test(uri)) throw fail(header, `the URI ${clip(uri)} contains whitespace`);
  throw fail(header, `${clip(uri)} is not a URI (scheme:rest, without <, > or ")`);
}

/** A non-negative integer written in digits, at most `max` (leading zeros allowed: `0068`). */
export function parseDigits(s: string, max: number, header: string, what: string): number {
  if (!/^\d+$/.test(s)) throw fail(header, `${what} ${clip(s)} is not a number`);
  const digits = s.replace(/^0+(?=\d)/, '');
  const n = digits.length > 16 ? Infinity : Number(digits);
  if (n > max) throw fail(header, `${what} ${clip(s)} is more than ${max}`);
  return n;
}
