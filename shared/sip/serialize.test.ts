import { describe, expect, test } from 'vitest';
import { serializeSipMessage } from './serialize.js';
import { KEEP_ALIVE, parseSipMessage } from './parse.js';
import { headerValues } from './message.js';
import type { SipMessage, SipRequest } from './message.js';
import { corpusMessage, corpusNames } from './testing.js';
import { isDomainError } from '../errors.js';

const parsed = (bytes: Buffer): SipMessage => {
  const m = parseSipMessage(bytes);
  if (m === KEEP_ALIVE) throw new Error('keep-alive');
  return m;
};

/** A message without its Content-Length headers, which the serializer rewrites. */
const withoutLength = (m: SipMessage): SipMessage => ({
  ...m,
  headers: m.headers.filter((h) => h.name !== 'Content-Length'),
});

const request = (headers: SipRequest['headers'], body = ''): SipRequest => ({
  kind: 'request',
  method: 'MESSAGE',
  uri: 'sip:a@10.0.0.1',
  headers,
  body: Buffer.from(body),
});

describe('serializeSipMessage', () => {
  const valid = corpusNames().filter((n) => {
    try {
      return parseSipMessage(corpusMessage(n)) !== KEEP_ALIVE;
    } catch {
      return false;
    }
  });

  test('every valid corpus message parses back to itself', () => {
    expect(valid.length).toBeGreaterThan(15);
    for (const name of valid) {
      const m = parsed(corpusMessage(name));
      const again = parsed(serializeSipMessage(m));
      expect(withoutLength(again), name).toEqual(withoutLength(m));
      expect(headerValues(again, 'Content-Length'), name).toEqual([String(m.body.length)]);
    }
  });

  test('writes the start line, the headers in order, and CRLF line ends', () => {
    const bytes = serializeSipMessage(
      request([
        { name: 'Via', value: 'SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx' },
        { name: 'X-B', value: '2' },
        { name: 'X-A', value: '1' },
      ]),
    );
    expect(bytes.toString()).toBe(
      'MESSAGE sip:a@10.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKx\r\nX-B: 2\r\nX-A: 1\r\nContent-Length: 0\r\n\r\n',
    );
    const ok = serializeSipMessage({
      kind: 'response',
      status: 200,
      reason: 'OK',
      headers: [],
      body: Buffer.alloc(0),
    });
    expect(ok.toString()).toBe('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n');
  });

  test('Content-Length is always the true length: added when absent, corrected in place, written once', () => {
    expect(serializeSipMessage(request([], 'hello')).toString()).toBe(
      'MESSAGE sip:a@10.0.0.1 SIP/2.0\r\nContent-Length: 5\r\n\r\nhello',
    );
    const fixed = serializeSipMessage(
      request(
        [
          { name: 'l', value: '99' },
          { name: 'X', value: 'y' },
          { name: 'Content-Length', value: '1' },
        ],
        'hello',
      ),
    );
    expect(fixed.toString()).toBe('MESSAGE sip:a@10.0.0.1 SIP/2.0\r\nContent-Length: 5\r\nX: y\r\n\r\nhello');
  });

  test('refuses a CR or LF in a value, a name that is not a token, and a status out of range', () => {
    const refused = (m: SipMessage): string => {
      try {
        serializeSipMessage(m);
      } catch (e) {
        if (isDomainError(e, 'invalid-argument')) return e.message;
        throw e;
      }
      return 'serialized';
    };
    expect(refused(request([{ name: 'Subject', value: 'a\r\nVia: forged' }]))).toBe(
      'Subject: contains CR or LF',
    );
    expect(refused(request([{ name: 'Bad Name', value: 'x' }]))).toBe(
      'headers: header name "Bad Name" is not a token',
    );
    expect(refused({ kind: 'response', status: 99, reason: 'x', headers: [], body: Buffer.alloc(0) })).toBe(
      'status: 99 is not 100-699',
    );
  });
});
