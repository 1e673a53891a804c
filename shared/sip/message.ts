/**
 * The SIP message model (RFC 3261 §7): a request or a response, its headers as the ordered
 * list they arrived in, and the body as bytes. Header order matters (Via and Route are read
 * top-down, and a proxy must keep the order of the ones it passes on), so headers are a list,
 * not a map; lookups are case-insensitive and know the compact forms (`v` is `Via`).
 *
 * The typed readers of single header values (Via, From/To, CSeq...) are in headers.ts.
 */

export interface SipHeader {
  /** As received, except that compact and odd-case names of known headers are spelled out. */
  readonly name: string;
  /** Unfolded and trimmed; a comma-separated list stays one value (headers.ts splits it). */
  readonly value: string;
}

interface SipMessageBase {
  readonly headers: readonly SipHeader[];
  readonly body: Buffer;
}

export interface SipRequest extends SipMessageBase {
  readonly kind: 'request';
  readonly method: string;
  readonly uri: string;
}

export interface SipResponse extends SipMessageBase {
  readonly kind: 'response';
  readonly status: number;
  readonly reason: string;
}

export type SipMessage = SipRequest | SipResponse;

export const SIP_VERSION = 'SIP/2.0';

/** RFC 3261 §7.3.3 and the registries since: compact form -> full name. */
const COMPACT: Readonly<Record<string, string>> = {
  a: 'Accept-Contact',
  b: 'Referred-By',
  c: 'Content-Type',
  d: 'Request-Disposition',
  e: 'Content-Encoding',
  f: 'From',
  i: 'Call-ID',
  j: 'Reject-Contact',
  k: 'Supported',
  l: 'Content-Length',
  m: 'Contact',
  o: 'Event',
  r: 'Refer-To',
  s: 'Subject',
  t: 'To',
  u: 'Allow-Events',
  v: 'Via',
  x: 'Session-Expires',
  y: 'Identity',
};

/** Headers whose usual spelling is not plain Title-Case of their words. */
const KNOWN = [
  'Accept',
  'Accept-Encoding',
  'Accept-Language',
  'Alert-Info',
  'Allow',
  'Authentication-Info',
  'Authorization',
  'Call-ID',
  'Call-Info',
  'Contact',
  'Content-Disposition',
  'Content-Encoding',
  'Content-Language',
  'Content-Length',
  'Content-Type',
  'CSeq',
  'Date',
  'Error-Info',
  'Expires',
  'From',
  'In-Reply-To',
  'Max-Forwards',
  'Min-Expires',
  'Min-SE',
  'MIME-Version',
  'Organization',
  'Priority',
  'Proxy-Authenticate',
  'Proxy-Authorization',
  'Proxy-Require',
  'Record-Route',
  'Reply-To',
  'Require',
  'Retry-After',
  'Route',
  'RSeq',
  'RAck',
  'Server',
  'Session-Expires',
  'Subject',
  'Supported',
  'Timestamp',
  'To',
  'Unsupported',
  'User-Agent',
  'Via',
  'Warning',
  'WWW-Authenticate',
  ...Object.values(COMPACT),
];
const CANONICAL = new Map<string, string>(KNOWN.map((n) => [n.toLowerCase(), n]));
for (const [short, full] of Object.entries(COMPACT)) CANONICAL.set(short, full);

/** The full, usually spelled name of a header (`v` and `VIA` -> `Via`); unknown names as given. */
export const canonicalHeaderName = (name: string): string => CANONICAL.get(name.toLowerCase()) ?? name;

const sameHeader = (a: string, b: string): boolean =>
  a === b || canonicalHeaderName(a).toLowerCase() === canonicalHeaderName(b).toLowerCase();

/** Every value of a header, in order (each header line is one value, lists unsplit). */
export const headerValues = (msg: Pick<SipMessage, 'headers'>, name: string): string[] =>
  msg.headers.filter((h) => sameHeader(h.name, name)).map((h) => h.value);

/** The first value of a header, or undefined when absent. */
export const headerValue = (msg: Pick<SipMessage, 'headers'>, name: string): string | undefined =>
  msg.headers.find((h) => sameHeader(h.name, name))?.value;
