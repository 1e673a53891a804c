/**
 * Bytes -> SIP message (RFC 3261 §7, §18.3, §25), accepting what carriers and phones send:
 * compact and odd-case header names, obsolete line folding, LWS around colons, several Via
 * elements in one header or several headers, bare LF line ends, leading CRLFs (RFC 3261
 * §7.5; a datagram of nothing else is an RFC 5626 keep-alive). Every header the stack reads
 * (headers.ts) is checked here, so the message returned is well-formed for all of them.
 *
 * Anything else is refused with one SipParseError naming the first problem found, and saying
 * whether a response can be built (parse-error.ts): a request whose top Via, From, To,
 * Call-ID and CSeq are there to copy is answered (400, or 505 for another SIP version); a
 * response, or a request without those, is dropped.
 *
 * Framing (§18.3): over a datagram, Content-Length says how much of the rest is the body
 * (extra bytes are discarded; fewer is an error); without it the rest is the body. Over a
 * stream Content-Length is required; stream.ts cuts the stream into single messages first.
 */
import { headerValues, canonicalHeaderName, SIP_VERSION } from './message.js';
import type { SipHeader, SipMessage, SipRequest } from './message.js';
import { SipParseError } from './parse-error.js';
import {
  callId,
  contacts,
  contentLength,
  contentType,
  cseq,
  expires,
  fromHeader,
  maxForwards,
  parseViaSentBy,
  recordRoutes,
  routes,
  sessionExpires,
  supported,
  toHeader,
  vias,
} from './headers.js';
import { checkUri, clip, isToken } from './syntax.js';

export type SipTransportKind = 'datagram' | 'stream';

/** What a datagram or stream frame of only CRLFs is: a keep-alive, to ignore (or answer, stream.ts). */
export const KEEP_ALIVE = 'keep-alive';

const CR = 0x0d;
const LF = 0x0a;

interface Problem {
  readonly header: string;
  readonly problem: string;
  readonly status?: 505;
}

/** The start line read as far as it goes; `problem` set when it is a request answerable with an error. */
type StartLine =
  | { kind: 'request'; method: string; uri: string; problem?: Problem }
  | { kind: 'response'; status: number; reason: string };

const problemOf = (e: unknown): Problem => {
  if (e instanceof SipParseError) return { header: e.header, problem: e.problem };
  throw e;
};

/**
 * One SIP message, or KEEP_ALIVE. Throws SipParseError (and nothing else) for anything that
 * is not a well-formed message.
 */
export function parseSipMessage(
  bytes: Buffer,
  transport: SipTransportKind = 'datagram',
): SipMessage | typeof KEEP_ALIVE {
  let start = 0;
  while (start < bytes.length && (bytes[start] === CR || bytes[start] === LF)) start++;
  if (start === bytes.length) return KEEP_ALIVE;

  // The head ends at the first empty line (CRLF CRLF, or LF LF from a sloppy peer).
  let headEnd = bytes.length;
  let bodyStart = -1;
  for (let i = bytes.indexOf(LF, start); i >= 0; i = bytes.indexOf(LF, i + 1)) {
    if (bytes[i + 1] === LF || (bytes[i + 1] === CR && bytes[i + 2] === LF)) {
      headEnd = bytes[i - 1] === CR ? i - 1 : i;
      bodyStart = bytes[i + 1] === LF ? i + 2 : i + 3;
      break;
    }
  }
  const lines = unfold(bytes.toString('utf8', start, headEnd).split(/\r?\n/));
  const startLine = parseStartLine(lines[0]!);

  const problems: Problem[] = [];
  if (startLine.kind === 'request' && startLine.problem) problems.push(startLine.problem);
  const headers: SipHeader[] = [];
  for (const line of lines.slice(1)) {
    const h = parseHeaderLine(line);
    if ('problem' in h) problems.push(h);
    else headers.push(h);
  }
  const message: SipMessage =
    startLine.kind === 'request'
      ? { kind: 'request', method: startLine.method, uri: startLine.uri, headers, body: Buffer.alloc(0) }
      : {
          kind: 'response',
          status: startLine.status,
          reason: startLine.reason,
          headers,
          body: Buffer.alloc(0),
        };

  if (problems.length === 0) {
    try {
      checkHeaders(message);
    } catch (e) {
      problems.push(problemOf(e));
    }
  }
  let body: Buffer = Buffer.alloc(0);
  if (problems.length === 0) {
    const framed = frameBody(bytes, bodyStart, contentLength(message), transport);
    if ('problem' in framed) problems.push(framed);
    else body = framed.body;
  }
  const first = problems[0];
  if (first) throw refusal(first, message);
  return { ...message, body };
}

/**
 * RFC 3261 §7.3.1: a line starting with SP or HTAB continues the one before, read as one SP.
 * Pieces are joined once per header, so thousands of folds cost linear time.
 */
function unfold(raw: string[]): string[] {
  const pieces: string[][] = [];
  for (const line of raw) {
    const last = pieces[pieces.length - 1];
    if ((line.startsWith(' ') || line.startsWith('\t')) && last) last.push(line.trim());
    else pieces.push([line]);
  }
  return pieces.map((p) =>
    p.length === 1 ? p[0]! : [p[0]!.trimEnd(), ...p.slice(1)].filter((x) => x).join(' '),
  );
}

const STATUS_LINE = /^SIP\/(\d+\.\d+) (\d{3})(?: ([^\r\n]*))?$/i;
const VERSION = /^SIP\/\d+\.\d+$/i;

function parseStartLine(line: string): StartLine {
  if (/^SIP\//i.test(line)) {
    const m = STATUS_LINE.exec(line);
    if (!m) throw new SipParseError('start-line', `${clip(line)} is not "SIP/2.0 code reason"`);
    if (m[1] !== '2.0') throw new SipParseError('start-line', `version SIP/${m[1]} is not SIP/2.0`);
    const status = Number(m[2]);
    if (status < 100) throw new SipParseError('start-line', `status ${status} is not 100-699`);
    return { kind: 'response', status, reason: m[3] ?? '' };
  }
  const first = line.indexOf(' ');
  const last = line.lastIndexOf(' ');
  const method = line.slice(0, first);
  // Only a line that says it is SIP is worth an answer; anything else (HTTP, noise) is dropped.
  if (first < 0 || !isToken(method) || !/ SIP\/\d/i.test(line)) {
    throw new SipParseError('start-line', `${clip(line)} is neither a request line nor a status line`);
  }
  const uri = line.slice(first + 1, last);
  const version = line.slice(last + 1);
  const request = { kind: 'request' as const, method, uri };
  if (!VERSION.test(version)) {
    return { ...request, problem: { header: 'start-line', problem: `${clip(line)} must end with SIP/2.0` } };
  }
  if (version.toUpperCase() !== SIP_VERSION) {
    return {
      ...request,
      problem: { header: 'start-line', problem: `version ${version} is not SIP/2.0`, status: 505 },
    };
  }
  try {
    checkUri(uri, 'start-line');
  } catch (e) {
    return { ...request, problem: problemOf(e) };
  }
  return request;
}

function parseHeaderLine(line: string): SipHeader | Problem {
  const colon = line.indexOf(':');
  if (colon < 0) return { header: 'header line', problem: `${clip(line)} has no colon` };
  const name = line.slice(0, colon).trimEnd();
  if (!isToken(name))
    return { header: 'header line', problem: `${clip(line)} does not start with a header name` };
  const value = line.slice(colon + 1).trim();
  const canonical = canonicalHeaderName(name);
  // A CR left inside a line would let a re-sent value split into two headers.
  if (value.includes('\r')) return { header: canonical, problem: 'contains a CR that does not end a line' };
  return { name: canonical, value };
}

/** Every header the stack reads, in the order a reader would trip on them. */
function checkHeaders(m: SipMessage): void {
  if (vias(m).length === 0) throw new SipParseError('Via', 'missing');
  fromHeader(m);
  toHeader(m);
  callId(m);
  const c = cseq(m);
  if (m.kind === 'request' && c.method !== m.method) {
    throw new SipParseError('CSeq', `method ${c.method} does not match the request method ${m.method}`);
  }
  maxForwards(m);
  contentLength(m);
  contentType(m);
  contacts(m);
  expires(m);
  routes(m);
  recordRoutes(m);
  supported(m);
  sessionExpires(m);
}

function frameBody(
  bytes: Buffer,
  bodyStart: number,
  length: number | undefined,
  transport: SipTransportKind,
): { body: Buffer } | Problem {
  if (bodyStart < 0) return { header: 'body', problem: 'no empty line ends the headers' };
  const available = bytes.length - bodyStart;
  if (length === undefined) {
    if (transport === 'stream')
      return { header: 'Content-Length', problem: 'missing (required over a stream)' };
    return { body: Buffer.from(bytes.subarray(bodyStart)) };
  }
  if (available < length) {
    return {
      header: 'Content-Length',
      problem: `${length} is more than the ${available} bytes that follow the headers`,
    };
  }
  return { body: Buffer.from(bytes.subarray(bodyStart, bodyStart + length)) };
}

/**
 * The error for the first problem, answerable when the message is a request whose top Via,
 * From, To, Call-ID and CSeq can be copied into a response (RFC 3261 §8.2.6).
 */
function refusal(p: Problem, m: SipMessage): SipParseError {
  if (m.kind === 'response' || !canAnswer(m)) return new SipParseError(p.header, p.problem);
  return new SipParseError(p.header, p.problem, {
    disposition: 'answer',
    status: p.status ?? 400,
    request: m,
  });
}

function canAnswer(m: SipRequest): boolean {
  try {
    // The top Via's address is where the answer goes; its parameters, or a version other
    // than 2.0 (answered 505), need not be right.
    const topVia = headerValues(m, 'Via')[0];
    if (topVia === undefined) return false;
    const comma = topVia.indexOf(',');
    parseViaSentBy(comma < 0 ? topVia : topVia.slice(0, comma));
    for (const name of ['From', 'To', 'Call-ID']) {
      const v = headerValues(m, name);
      if (v.length !== 1 || v[0] === '') return false;
    }
    const c = headerValues(m, 'CSeq');
    // The number may be out of range (that can be the very problem): the client matches on the text.
    return c.length === 1 && /^\d+[ \t]+\S+$/.test(c[0]!);
  } catch (e) {
    if (e instanceof SipParseError) return false;
    throw e;
  }
}
