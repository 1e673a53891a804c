/**
 * Responses built from a request (RFC 3261 §8.2.6): the Via headers copied in order, From,
 * To (with the UAS's tag added when it has none and the caller gives one), Call-ID and CSeq
 * copied, values as received so the client matches them byte for byte. Also the one place a
 * SipParseError becomes a response: the 400 (or 505) to a malformed but answerable request.
 */
import { invalidArgument } from '../errors.js';
import { headerValues } from './message.js';
import type { SipHeader, SipRequest, SipResponse } from './message.js';
import type { SipParseError } from './parse-error.js';
import { isToken } from './syntax.js';

/** RFC 3261 §21 and the extensions this stack uses (RFC 4028's 422). */
const REASONS: Readonly<Record<number, string>> = {
  100: 'Trying',
  180: 'Ringing',
  181: 'Call Is Being Forwarded',
  182: 'Queued',
  183: 'Session Progress',
  200: 'OK',
  202: 'Accepted',
  300: 'Multiple Choices',
  301: 'Moved Permanently',
  302: 'Moved Temporarily',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  413: 'Request Entity Too Large',
  415: 'Unsupported Media Type',
  416: 'Unsupported URI Scheme',
  420: 'Bad Extension',
  421: 'Extension Required',
  422: 'Session Interval Too Small',
  423: 'Interval Too Brief',
  480: 'Temporarily Unavailable',
  481: 'Call/Transaction Does Not Exist',
  482: 'Loop Detected',
  483: 'Too Many Hops',
  484: 'Address Incomplete',
  486: 'Busy Here',
  487: 'Request Terminated',
  488: 'Not Acceptable Here',
  491: 'Request Pending',
  500: 'Server Internal Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Server Time-out',
  505: 'Version Not Supported',
  513: 'Message Too Large',
  600: 'Busy Everywhere',
  603: 'Decline',
  604: 'Does Not Exist Anywhere',
  606: 'Not Acceptable',
};

export const reasonPhrase = (status: number): string =>
  REASONS[status] ?? REASONS[Math.floor(status / 100) * 100] ?? 'Unknown';

export interface ResponseOptions {
  reason?: string;
  /** The UAS's To tag, added when the request's To has none (every response but 100, §8.2.6.2). */
  toTag?: string;
  /** Further headers (Contact, Record-Route, WWW-Authenticate...), after the copied ones. */
  headers?: readonly SipHeader[];
  body?: Buffer;
}

export function buildResponse(req: SipRequest, status: number, opts: ResponseOptions = {}): SipResponse {
  if (!Number.isInteger(status) || status < 100 || status > 699) {
    throw invalidArgument('status', `${status} is not 100-699`);
  }
  if (opts.toTag !== undefined && !isToken(opts.toTag)) {
    throw invalidArgument('toTag', `${JSON.stringify(opts.toTag)} is not a token`);
  }
  const copied: SipHeader[] = [];
  for (const name of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
    for (const value of headerValues(req, name)) {
      const tagged = name === 'To' && status > 100 && opts.toTag !== undefined && !hasTag(value);
      copied.push({ name, value: tagged ? `${value};tag=${opts.toTag}` : value });
    }
  }
  return {
    kind: 'response',
    status,
    reason: opts.reason ?? reasonPhrase(status),
    headers: [...copied, ...(opts.headers ?? [])],
    body: opts.body ?? Buffer.alloc(0),
  };
}

/** Read off the raw text, so a To too broken to parse (the 400's own cause) still gets its tag right. */
const hasTag = (to: string): boolean => /;[ \t]*tag[ \t]*=/i.test(to.slice(to.lastIndexOf('>') + 1));

/**
 * The response to a request the parser refused, or undefined when it must be dropped. The
 * reason phrase names the problem (RFC 3261 §21.4.1: "Missing Call-ID Header"), cut short and
 * stripped of control characters, since it echoes the peer's own text.
 */
export function responseToParseError(
  err: SipParseError,
  opts: { toTag?: string } = {},
): SipResponse | undefined {
  if (err.disposition !== 'answer' || !err.request) return undefined;
  const detail = [...err.message].map((c) => (c < ' ' || c === '\x7f' ? ' ' : c)).join('');
  const reason = `${reasonPhrase(err.status)} (${detail.length > 100 ? `${detail.slice(0, 97)}...` : detail})`;
  return buildResponse(err.request, err.status, { reason, ...opts });
}
