/**
 * Cuts a TCP (or TLS) byte stream into single SIP messages (RFC 3261 §18.3): the head ends
 * at the first empty line and Content-Length, required on a stream, says where the body
 * ends. CRLFs between messages are skipped; a double CRLF there is an RFC 5626 keep-alive
 * ping, which the connection answers with one CRLF (the pong).
 *
 * Bad framing (no Content-Length, an unreadable or contradictory one, a message over the
 * size bound) cannot be recovered from: where the next message starts is unknown, so the
 * framer reports `close` and the connection is closed. Messages framed before that are
 * still returned. Each framed message is then read with parseSipMessage(bytes, 'stream').
 */
import { SipParseError } from './parse-error.js';

export type SipStreamItem = { readonly kind: 'message'; readonly bytes: Buffer } | { readonly kind: 'ping' };

export interface SipStreamResult {
  readonly items: SipStreamItem[];
  /** Set when the stream can no longer be framed: close the connection (and log this once). */
  readonly close: SipParseError | undefined;
}

/** Large enough for an INVITE with a big SDP offer; a peer sending more is broken or hostile. */
export const DEFAULT_MAX_MESSAGE_BYTES = 65_536;

const CR = 0x0d;
const LF = 0x0a;
const PING = Buffer.from('\r\n\r\n');
const CONTENT_LENGTH = /^(?:content-length|l)[ \t]*:[ \t]*(.*?)[ \t]*$/i;

export class SipStreamFramer {
  private buffered: Buffer = Buffer.alloc(0);
  private closed: SipParseError | undefined;

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  push(chunk: Buffer): SipStreamResult {
    if (this.closed) return { items: [], close: this.closed };
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    const items: SipStreamItem[] = [];
    try {
      for (let item = this.next(); item; item = this.next()) items.push(item);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      this.closed = e;
      this.buffered = Buffer.alloc(0);
    }
    return { items, close: this.closed };
  }

  /** The next whole item at the front of the buffer, consumed; undefined until more bytes come. */
  private next(): SipStreamItem | undefined {
    for (;;) {
      const b = this.buffered;
      if (b.length >= 4 && PING.equals(b.subarray(0, 4))) {
        this.buffered = b.subarray(4);
        return { kind: 'ping' };
      }
      if (b[0] !== CR && b[0] !== LF) break;
      // Too few bytes yet to tell a ping from a lone CRLF (a pong, or padding): wait.
      if (b.length < 4 && PING.subarray(0, b.length).equals(b)) return undefined;
      this.buffered = b.subarray(1);
    }
    const head = this.headLength();
    if (head === undefined) {
      if (this.buffered.length > this.maxMessageBytes) {
        throw new SipParseError('stream', `no end of headers within ${this.maxMessageBytes} bytes`);
      }
      return undefined;
    }
    const total = head.bodyStart + this.contentLength(head.end);
    if (total > this.maxMessageBytes) {
      throw new SipParseError(
        'stream',
        `a message of ${total} bytes is more than the ${this.maxMessageBytes} allowed`,
      );
    }
    if (this.buffered.length < total) return undefined;
    const bytes = Buffer.from(this.buffered.subarray(0, total));
    this.buffered = this.buffered.subarray(total);
    return { kind: 'message', bytes };
  }

  /** Where the head ends (the first empty line, CRLF CRLF or LF LF) and the body starts. */
  private headLength(): { end: number; bodyStart: number } | undefined {
    const b = this.buffered;
    for (let i = b.indexOf(LF); i >= 0 && i < this.maxMessageBytes; i = b.indexOf(LF, i + 1)) {
      const end = b[i - 1] === CR ? i - 1 : i;
      if (b[i + 1] === LF) return { end, bodyStart: i + 2 };
      if (b[i + 1] === CR && b[i + 2] === LF) return { end, bodyStart: i + 3 };
    }
    return undefined;
  }

  private contentLength(headEnd: number): number {
    // Unfolded first: a Content-Length split over two lines is still one.
    const lines = this.buffered
      .toString('latin1', 0, headEnd)
      .replace(/\r?\n[ \t]+/g, ' ')
      .split(/\r?\n/);
    const values = new Set<string>();
    for (const line of lines) {
      const m = CONTENT_LENGTH.exec(line);
      if (m) values.add(m[1]!);
    }
    if (values.size === 0) throw new SipParseError('Content-Length', 'missing (required over a stream)');
    if (values.size > 1)
      throw new SipParseError('Content-Length', `different values ${[...values].join(', ')}`);
    const [text] = values as unknown as [string];
    if (!/^\d{1,9}$/.test(text))
      throw new SipParseError('Content-Length', `${JSON.stringify(text.slice(0, 20))} is not a length`);
    return Number(text);
  }
}
