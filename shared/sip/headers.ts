/**
 * Typed readers of the headers the SIP stack acts on (RFC 3261 §20, RFC 4028 for
 * Session-Expires). Each reads the message's raw header list and throws a SipParseError
 * naming the header when a value is malformed; parse.ts runs every one of them on the way
 * in, so on a message that came out of the parser they do not throw.
 * Authorization and WWW-Authenticate are returned raw: digest.ts reads them.
 */
import { headerValues, type SipMessage } from './message.js';
import {
  checkUri,
  clip,
  fail,
  isToken,
  parseDigits,
  parseParams,
  quotedEnd,
  splitList,
  unquote,
} from './syntax.js';
import type { SipParams } from './syntax.js';

type Headers = Pick<SipMessage, 'headers'>;

const MAX_UINT32 = 4294967295;
/** RFC 3261 §8.1.1.5: a CSeq number is less than 2^31. */
const MAX_CSEQ = 2147483647;

export interface SipVia {
  /** `UDP`, `TCP`, `TLS`, `WS`... upper-cased. */
  readonly transport: string;
  readonly host: string;
  readonly port: number | undefined;
  /** host[:port] as written, IPv6 with its brackets. */
  readonly sentBy: string;
  readonly branch: string | undefined;
  readonly received: string | undefined;
  /** RFC 3581: a number once filled in; `true` when the client asked (`;rport`) with no value. */
  readonly rport: number | true | undefined;
  readonly params: SipParams;
}

/** From, To, Contact, Route, Record-Route: `"Name" <uri>;params` or `uri;params`. */
export interface SipNameAddr {
  readonly displayName: string | undefined;
  readonly uri: string;
  readonly params: SipParams;
  readonly tag: string | undefined;
}

export interface SipCSeq {
  readonly seq: number;
  readonly method: string;
}

export interface SipContact extends SipNameAddr {
  /** The contact's `expires` parameter, in seconds, when it has one. */
  readonly expires: number | undefined;
}

export interface SipContentType {
  /** `application/sdp`, lower-cased. */
  readonly mediaType: string;
  readonly params: SipParams;
}

export interface SipSessionExpires {
  readonly deltaSeconds: number;
  readonly refresher: 'uac' | 'uas' | undefined;
  readonly params: SipParams;
}

const VIA = /^([^\s/]+)[ \t]*\/[ \t]*([^\s/]+)[ \t]*\/[ \t]*([^\s/;]+)[ \t]+(.*)$/s;
const SENT_BY = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?:[ \t]*:[ \t]*(\d+))?(.*)$/s;

/** A Via element's protocol, transport and sent-by, its parameters left unread in `rest`. */
export function parseViaSentBy(value: string): {
  protocol: string;
  transport: string;
  host: string;
  port: number | undefined;
  rest: string;
} {
  const m = VIA.exec(value);
  if (!m) throw fail('Via', `${clip(value)} is not "SIP/2.0/transport host[:port]"`);
  const [, name, version, transport, afterProtocol] = m as unknown as [
    string,
    string,
    string,
    string,
    string,
  ];
  if (!isToken(transport)) throw fail('Via', `transport ${clip(transport)} is not a token`);
  const s = SENT_BY.exec(afterProtocol.trimStart());
  if (!s) throw fail('Via', `sent-by ${clip(afterProtocol)} is not host[:port]`);
  const [, host, portText, rest] = s as unknown as [string, string, string | undefined, string];
  const port = portText === undefined ? undefined : parseDigits(portText, 65535, 'Via', 'port');
  return {
    protocol: `${name.toUpperCase()}/${version}`,
    transport: transport.toUpperCase(),
    host,
    port,
    rest,
  };
}

/** One Via element (a Via header may hold several, comma-separated). */
export function parseVia(value: string): SipVia {
  const { protocol, transport, host, port, rest } = parseViaSentBy(value);
  if (protocol !== 'SIP/2.0') throw fail('Via', `protocol ${clip(protocol)} is not SIP/2.0`);
  const params = parseParams(rest, 'Via');
  const rportText = params.get('rport');
  return {
    transport,
    host,
    port,
    sentBy: port === undefined ? host : `${host}:${port}`,
    branch: params.get('branch') ?? undefined,
    received: params.get('received') ?? undefined,
    rport:
      rportText === undefined
        ? undefined
        : rportText === null
          ? true
          : parseDigits(rportText, 65535, 'Via', 'rport'),
    params,
  };
}

const DISPLAY_TOKENS = /^[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*$/;

/**
 * `[display-name] <uri> *(;param)` or `uri *(;param)` (RFC 3261 §20.10). A bare URI may not
 * hold `,` or `?` (those need the brackets), and its `;` starts the header's parameters.
 */
export function parseNameAddr(
  value: string,
  header: string,
  opts: { requireBrackets?: boolean } = {},
): SipNameAddr {
  const s = value.trim();
  let displayName: string | undefined;
  let open: number;
  if (s.startsWith('"')) {
    const end = quotedEnd(s, 0, header);
    displayName = unquote(s.slice(0, end));
    open = end;
    while (s[open] === ' ' || s[open] === '\t') open++;
    if (s[open] !== '<') throw fail(header, `the quoted display name is not followed by <URI>`);
  } else {
    open = s.indexOf('<');
    const before = open < 0 ? '' : s.slice(0, open);
    if (open < 0 || before.includes(';')) {
      if (opts.requireBrackets) throw fail(header, `the URI in ${clip(s)} must be in <>`);
      const semi = s.indexOf(';');
      const uri = checkUri((semi < 0 ? s : s.slice(0, semi)).trim(), header);
      if (/[,?]/.test(uri)) throw fail(header, `the URI ${clip(uri)} holds "," or "?" so it must be in <>`);
      const params = parseParams(semi < 0 ? '' : s.slice(semi), header);
      return { displayName: undefined, uri, params, tag: tagOf(params) };
    }
    const name = before.trim();
    if (name !== '' && !DISPLAY_TOKENS.test(name)) {
      throw fail(header, `display name ${clip(name)} must be tokens or a quoted string`);
    }
    displayName = name === '' ? undefined : name;
  }
  const close = s.indexOf('>', open);
  if (close < 0) throw fail(header, `"<" is not closed by ">"`);
  const uri = checkUri(s.slice(open + 1, close), header);
  const params = parseParams(s.slice(close + 1), header);
  return { displayName, uri, params, tag: tagOf(params) };
}

const tagOf = (params: SipParams): string | undefined => params.get('tag') ?? undefined;

/** The one value of a header that must appear exactly once. */
function single(msg: Headers, name: string): string {
  const values = headerValues(msg, name);
  if (values.length === 0) throw fail(name, 'missing');
  if (values.length > 1) throw fail(name, `appears ${values.length} times`);
  return values[0]!;
}

/** The value of a header that may appear at most once (repeats with the same value are tolerated). */
function optionalSingle(msg: Headers, name: string): string | undefined {
  const values = headerValues(msg, name);
  if (values.some((v) => v !== values[0]))
    throw fail(name, `appears ${values.length} times with different values`);
  return values[0];
}

/** Every Via element, top first, across all Via headers. */
export const vias = (msg: Headers): SipVia[] =>
  headerValues(msg, 'Via').flatMap((v) => splitList(v, 'Via').map(parseVia));

export const fromHeader = (msg: Headers): SipNameAddr => parseNameAddr(single(msg, 'From'), 'From');
export const toHeader = (msg: Headers): SipNameAddr => parseNameAddr(single(msg, 'To'), 'To');

export function callId(msg: Headers): string {
  const v = single(msg, 'Call-ID');
  if (!/^\S+$/.test(v)) throw fail('Call-ID', v === '' ? 'empty' : `${clip(v)} contains whitespace`);
  return v;
}

export function parseCSeq(value: string): SipCSeq {
  const m = /^(\d+)[ \t]+(\S+)$/.exec(value);
  if (!m || !isToken(m[2]!)) throw fail('CSeq', `${clip(value)} is not "number METHOD"`);
  return { seq: parseDigits(m[1]!, MAX_CSEQ, 'CSeq', 'sequence number'), method: m[2]! };
}

export const cseq = (msg: Headers): SipCSeq => parseCSeq(single(msg, 'CSeq'));

/** Optional here: old (RFC 2543) peers leave it out, and a missing one is treated as 70. */
export function maxForwards(msg: Headers): number | undefined {
  const v = optionalSingle(msg, 'Max-Forwards');
  return v === undefined ? undefined : parseDigits(v, 255, 'Max-Forwards', 'value');
}

export function contentLength(msg: Headers): number | undefined {
  const v = optionalSingle(msg, 'Content-Length');
  return v === undefined ? undefined : parseDigits(v, MAX_UINT32, 'Content-Length', 'value');
}

const CONTENT_TYPE = /^([^\s/;]+)[ \t]*\/[ \t]*([^\s/;]+)(.*)$/s;

export function contentType(msg: Headers): SipContentType | undefined {
  const v = optionalSingle(msg, 'Content-Type');
  if (v === undefined) return undefined;
  const m = CONTENT_TYPE.exec(v);
  if (!m || !isToken(m[1]!) || !isToken(m[2]!)) throw fail('Content-Type', `${clip(v)} is not type/subtype`);
  return { mediaType: `${m[1]}/${m[2]}`.toLowerCase(), params: parseParams(m[3]!, 'Content-Type') };
}

/** Seconds (RFC 3261 §20.19: delta-seconds only; the old date form is refused). */
export function expires(msg: Headers): number | undefined {
  const v = optionalSingle(msg, 'Expires');
  return v === undefined ? undefined : parseDigits(v, MAX_UINT32, 'Expires', 'value');
}

/** `*` (REGISTER removing every binding), or each contact across all Contact headers. */
export function contacts(msg: Headers): '*' | SipContact[] {
  const values = headerValues(msg, 'Contact');
  if (values.some((v) => v === '*')) {
    if (values.length > 1) throw fail('Contact', '"*" must be the only contact');
    return '*';
  }
  return values.flatMap((v) =>
    splitList(v, 'Contact').map((e): SipContact => {
      if (e === '*') throw fail('Contact', '"*" must be the only contact');
      const na = parseNameAddr(e, 'Contact');
      const exp = na.params.get('expires');
      return {
        ...na,
        expires:
          exp === undefined || exp === null ? undefined : parseDigits(exp, MAX_UINT32, 'Contact', 'expires'),
      };
    }),
  );
}

const routeList = (msg: Headers, name: string): SipNameAddr[] =>
  headerValues(msg, name).flatMap((v) =>
    splitList(v, name).map((e) => parseNameAddr(e, name, { requireBrackets: true })),
  );

export const routes = (msg: Headers): SipNameAddr[] => routeList(msg, 'Route');
export const recordRoutes = (msg: Headers): SipNameAddr[] => routeList(msg, 'Record-Route');

/** Option tags across all Supported headers (an empty Supported header is allowed). */
export function supported(msg: Headers): string[] {
  return headerValues(msg, 'Supported').flatMap((v) => {
    if (v === '') return [];
    return splitList(v, 'Supported').map((t) => {
      if (!isToken(t)) throw fail('Supported', `option tag ${clip(t)} is not a token`);
      return t;
    });
  });
}

/** RFC 4028 §4: `delta-seconds *(;param)`, refresher `uac` or `uas`. */
export function sessionExpires(msg: Headers): SipSessionExpires | undefined {
  const v = optionalSingle(msg, 'Session-Expires');
  if (v === undefined) return undefined;
  const m = /^(\d+)(.*)$/s.exec(v);
  if (!m) throw fail('Session-Expires', `${clip(v)} does not start with a number of seconds`);
  const params = parseParams(m[2]!, 'Session-Expires');
  const refresher = params.get('refresher');
  if (refresher !== undefined && refresher !== 'uac' && refresher !== 'uas') {
    throw fail('Session-Expires', `refresher ${clip(String(refresher))} is neither uac nor uas`);
  }
  return {
    deltaSeconds: parseDigits(m[1]!, MAX_UINT32, 'Session-Expires', 'value'),
    refresher: refresher ?? undefined,
    params,
  };
}

/** Raw: the digest layer (digest.ts) parses these. */
export const authorization = (msg: Headers): string | undefined => headerValues(msg, 'Authorization')[0];
export const proxyAuthorization = (msg: Headers): string | undefined =>
  headerValues(msg, 'Proxy-Authorization')[0];
export const wwwAuthenticate = (msg: Headers): string[] => headerValues(msg, 'WWW-Authenticate');
