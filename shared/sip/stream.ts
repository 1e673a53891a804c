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
  /**
   * The bytes not yet cut into items are store[start, end). The store grows by doubling and
   * the head is scanned from where the last push left off, so a peer trickling a big head a
   * few bytes at a time costs linear work, not a copy and a rescan of all of it per chunk.
   */
  private store: Buffer = Buffer.alloc(0);
  private start = 0;
  private end = 0;
  /** Where the search for the end of the head resumes: every LF before it is judged. */
  private scanFrom = 0;
  private closed: SipParseError | undefined;
  private refused: Buffer = Buffer.alloc(0);

  constructor(private readonly maxMessageBytes = DEFAULT_MAX_MESSAGE_BYTES) {}

  push(chunk: Buffer): SipStreamResult {
    if (this.closed) return { items: [], close: this.closed };
    this.append(chunk);
    const items: SipStreamItem[] = [];
    try {
      for (let item = this.next(); item; item = this.next()) items.push(item);
    } catch (e) {
      if (!(e instanceof SipParseError)) throw e;
      this.closed = e;
      this.refused = Buffer.from(this.buffered);
      this.store = Buffer.alloc(0);
      this.start = this.end = this.scanFrom = 0;
    }
    return { items, close: this.closed };
  }

  /** Bytes of a message begun and not yet whole (CRLFs between messages not counted). */
  get partialBytes(): number {
    let i = this.start;
    while (i < this.end && (this.store[i] === CR || this.store[i] === LF)) i++;
    return this.end - i;
  }

  /** Once closed: the bytes the refused message starts in (for an answer naming why). */
  get refusedBytes(): Buffer {
    return this.refused;
  }

  private get buffered(): Buffer {
    return this.store.subarray(this.start, this.end);
  }

  private append(chunk: Buffer): void {
    const live = this.end - this.start;
    if (this.end + chunk.length > this.store.length) {
      const grown = Buffer.allocUnsafe(Math.max(4096, 2 * (live + chunk.length)));
      this.store.copy(grown, 0, this.start, this.end);
      this.store = grown;
      this.start = 0;
      this.end = live;
    }
    chunk.copy(this.store, this.end);
    this.end += chunk.length;
  }

  private consume(n: number): void {
    this.start += n;
    this.scanFrom = 0;
    if (this.start === this.end) this.start = this.end = 0;
  }

  /** The next whole item at the front of the buffer, consumed; undefined until more bytes come. */
  private next(): SipStreamItem | undefined {
    for (;;) {
      const b = this.buffered;
      if (b.length >= 4 && PING.equals(b.subarray(0, 4))) {
        this.consume(4);
        return { kind: 'ping' };
      }
      if (b[0] !== CR && b[0] !== LF) break;
      // Too few bytes yet to tell a ping from a lone CRLF (a pong, or padding): wait.
      if (b.length < 4 && PING.subarray(0, b.length).equals(b)) return undefined;
      this.consume(1);
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
    this.consume(total);
    return { kind: 'message', bytes };
  }

  /** Where the head ends (the first empty line, CRLF CRLF or LF LF) and the body starts. */
  private headLength(): { end: number; bodyStart: number } | undefined {
    const b = this.buffered;
    let i = b.indexOf(LF, this.scanFrom);
    for (; i >= 0 && i < this.maxMessageBytes; i = b.indexOf(LF, i + 1)) {
      const end = b[i - 1] === CR ? i - 1 : i;
      if (b[i + 1] === LF) return { end, bodyStart: i + 2 };
      if (b[i + 1] === CR && b[i + 2] === LF) return { end, bodyStart: i + 3 };
      // The bytes that would tell are not here yet: judge this LF again on the next push.
      if (i + 1 >= b.length || (b[i + 1] === CR && i + 2 >= b.length)) break;
    }
    this.scanFrom = i >= 0 ? i : b.length;
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
