import { expect, test } from 'vitest';
import { SipParseError } from '../parse-error.js';
import { wire } from '../testing.js';
import { framingRefusal } from './framing-refusal.js';

const head = (method: string, extra = '') =>
  wire(
    `${method} sip:a@h SIP/2.0\nVia: SIP/2.0/TCP 10.0.0.1;branch=z9hG4bK1\nFrom: <sip:b@h>;tag=1\nTo: <sip:a@h>\nCall-ID: c\nCSeq: 1 ${method}\n${extra}\n`,
  );
const tooBig = new SipParseError('stream', 'a message of 99999 bytes is more than the 65536 allowed');
const noLength = new SipParseError('Content-Length', 'missing (required over a stream)');

test('a request too large is answered 413, naming the limit', () => {
  const res = framingRefusal(head('INVITE', 'Content-Length: 99000\n'), tooBig);
  expect(res?.status).toBe(413);
  expect(res?.reason).toContain('65536');
});

test('a request with a Content-Length problem is answered 400 naming it, even with its head cut short', () => {
  expect(framingRefusal(head('OPTIONS'), noLength)).toMatchObject({ status: 400 });
  const cut = head('OPTIONS').subarray(0, head('OPTIONS').length - 4);
  expect(framingRefusal(cut, noLength)?.reason).toContain('Content-Length');
});

test('a request whose head has a bad header but a good Via, From, To, Call-ID and CSeq is still answered', () => {
  expect(framingRefusal(head('OPTIONS', 'Max-Forwards: lots\n'), noLength)?.status).toBe(400);
});

test('an ACK, a response, a keep-alive or garbage gets no answer', () => {
  expect(framingRefusal(head('ACK'), noLength)).toBeUndefined();
  expect(framingRefusal(wire('SIP/2.0 200 OK\nContent-Length: x\n\n'), noLength)).toBeUndefined();
  expect(framingRefusal(Buffer.from('\r\n\r\n'), noLength)).toBeUndefined();
  expect(framingRefusal(Buffer.from('GARBAGE\r\n\r\n'), noLength)).toBeUndefined();
});
