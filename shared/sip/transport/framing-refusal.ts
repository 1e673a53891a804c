/**
 * The last word on a TCP connection whose stream can no longer be framed (stream.ts: no
 * Content-Length, a conflicting one, a message over the size bound). The connection is
 * closed, but when the refused message's head reads as a request, the peer first gets an
 * answer saying why: 413 for a message too large, 400 naming the header otherwise. A
 * response, or a head too broken to copy Via, From, To, Call-ID and CSeq from, gets none.
 */
import { buildResponse, reasonPhrase } from '../response.js';
import type { SipResponse } from '../message.js';
import { KEEP_ALIVE, parseSipMessage } from '../parse.js';
import { isSipParseError, type SipParseError } from '../parse-error.js';

const HEAD_END = Buffer.from('\r\n\r\n');

/**
 * `unframed` holds the bytes the framer had not yet cut into a message when it gave up
 * (the refused message starts in them); `why` is the framer's error.
 */
export function framingRefusal(unframed: Buffer, why: SipParseError): SipResponse | undefined {
  const end = unframed.indexOf(HEAD_END);
  // Only the head is read: its Content-Length may promise a body that never comes.
  const head = Buffer.concat([end < 0 ? unframed : unframed.subarray(0, end), HEAD_END]);
  const withoutLength = Buffer.from(
    head.toString('latin1').replace(/\r\n(?:content-length|l)[ \t]*:[^\r\n]*/gi, ''),
    'latin1',
  );
  let request;
  try {
    const msg = parseSipMessage(withoutLength, 'datagram');
    if (msg === KEEP_ALIVE || msg.kind !== 'request') return undefined;
    request = msg;
  } catch (e) {
    if (!isSipParseError(e) || e.disposition !== 'answer' || !e.request) return undefined;
    request = e.request;
  }
  if (request.method === 'ACK') return undefined; // never answered (RFC 3261 §17)
  // The framer's `stream` errors are all about size; the rest name a Content-Length problem.
  const status = why.header === 'stream' ? 413 : 400;
  const detail = why.message.length > 100 ? `${why.message.slice(0, 97)}...` : why.message;
  return buildResponse(request, status, { reason: `${reasonPhrase(status)} (${detail})` });
}
