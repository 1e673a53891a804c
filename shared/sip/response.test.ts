import { describe, expect, test } from 'vitest';
import { buildResponse, reasonPhrase, responseToParseError } from './response.js';
import { KEEP_ALIVE, parseSipMessage } from './parse.js';
import { SipParseError } from './parse-error.js';
import { serializeSipMessage } from './serialize.js';
import { headerValues } from './message.js';
import type { SipMessage, SipRequest } from './message.js';
import { toHeader } from './headers.js';
import { corpusMessage, wire } from './testing.js';

const withoutLength = (m: SipMessage): SipMessage => ({
  ...m,
  headers: m.headers.filter((h) => h.name !== 'Content-Length'),
});
const parsed = (bytes: Buffer): SipMessage => {
  const m = parseSipMessage(bytes);
  if (m === KEEP_ALIVE) throw new Error('keep-alive');
  return m;
};
const refusal = (bytes: Buffer): SipParseError => {
  try {
    parseSipMessage(bytes);
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new Error('parsed');
};

const invite = parsed(corpusMessage('carrier-invite-session-timer.sip')) as SipRequest;

describe('buildResponse', () => {
  test('copies every Via in order, From, To, Call-ID and CSeq, and adds the To tag', () => {
    const r = buildResponse(invite, 180, { toTag: 'uas1' });
    expect(r).toMatchObject({ kind: 'response', status: 180, reason: 'Ringing' });
    expect(r.headers.map((h) => h.name)).toEqual(['Via', 'Via', 'From', 'To', 'Call-ID', 'CSeq']);
    expect(headerValues(r, 'Via')).toEqual(headerValues(invite, 'Via'));
    expect(headerValues(r, 'From')).toEqual(headerValues(invite, 'From'));
    expect(toHeader(r).tag).toBe('uas1');
    expect(headerValues(r, 'CSeq')).toEqual(['1 INVITE']);
    // What goes on the wire reads back the same.
    expect(withoutLength(parsed(serializeSipMessage(r)))).toEqual(r);
  });

  test('keeps a To tag already there, adds none to a 100, and appends extra headers and a body', () => {
    const ok = parsed(corpusMessage('rfc3261-ok-f9.sip'));
    const bye = { ...invite, headers: ok.headers } as SipRequest;
    expect(toHeader(buildResponse(bye, 200, { toTag: 'other' })).tag).toBe('a6c85cf');
    expect(toHeader(buildResponse(invite, 100, { toTag: 'uas1' })).tag).toBeUndefined();
    const r = buildResponse(invite, 200, {
      toTag: 't',
      headers: [{ name: 'Contact', value: '<sip:site@10.20.0.5>' }],
      body: Buffer.from('v=0\r\n'),
    });
    expect(r.headers.at(-1)).toEqual({ name: 'Contact', value: '<sip:site@10.20.0.5>' });
    expect(r.body.toString()).toBe('v=0\r\n');
  });

  test('reason phrases: known, by class, or given', () => {
    expect(reasonPhrase(486)).toBe('Busy Here');
    expect(reasonPhrase(499)).toBe('Bad Request');
    expect(buildResponse(invite, 603, { reason: 'Not Now' }).reason).toBe('Not Now');
  });

  test('refuses a status out of range and a tag that is not a token', () => {
    expect(() => buildResponse(invite, 700)).toThrow('status: 700 is not 100-699');
    expect(() => buildResponse(invite, 200, { toTag: 'a b' })).toThrow('toTag: "a b" is not a token');
  });
});

describe('responseToParseError', () => {
  test('a 400 whose reason names the header and the problem, copying what the client matches on', () => {
    const e = refusal(corpusMessage('rfc4475-mismatch01.sip'));
    const r = responseToParseError(e, { toTag: 'x1' })!;
    expect(r.status).toBe(400);
    expect(r.reason).toBe('Bad Request (CSeq: method INVITE does not match the request method OPTIONS)');
    expect(headerValues(r, 'Call-ID')).toEqual(['mismatch01.dj0234sxdfl3']);
    expect(headerValues(r, 'CSeq')).toEqual(['8 INVITE']);
    expect(toHeader(r).tag).toBe('x1');
    expect(withoutLength(parsed(serializeSipMessage(r)))).toEqual(r);
  });

  test('a 505 for another SIP version', () => {
    const r = responseToParseError(refusal(corpusMessage('rfc4475-badvers.sip')))!;
    expect([r.status, r.reason]).toEqual([
      505,
      'Version Not Supported (start-line: version SIP/7.0 is not SIP/2.0)',
    ]);
  });

  test('a To too broken to parse still gets its tag, and control characters stay out of the reason', () => {
    const e = refusal(corpusMessage('rfc4475-quotbal.sip'));
    const r = responseToParseError(e, { toTag: 'q' })!;
    expect(headerValues(r, 'To')).toEqual(['"Mr. J. User <sip:j.user@example.com>;tag=q']);
    const ctl = refusal(
      wire(
        'OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h\nFrom: <sip:x@y>;tag=1\nTo: <sip:a@b>\nCall-ID: z\nCSeq: 1 OPTIONS\nX\x7f: 1\n\n',
      ),
    );
    const reason = responseToParseError(ctl)!.reason;
    expect(reason).toContain('X : 1');
    expect([...reason].every((c) => c >= ' ' && c !== '\x7f')).toBe(true);
    expect(() => serializeSipMessage(responseToParseError(ctl)!)).not.toThrow();
  });

  test('nothing for a message that must be dropped', () => {
    expect(responseToParseError(refusal(corpusMessage('rfc4475-insuf.sip')))).toBeUndefined();
    expect(responseToParseError(refusal(corpusMessage('rfc4475-bigcode.sip')))).toBeUndefined();
  });
});
