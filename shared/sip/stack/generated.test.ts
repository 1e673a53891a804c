import { expect, test } from 'vitest';
import { headerValue, headerValues, type SipRequest } from '../message.js';
import { parseSipMessage } from '../parse.js';
import { buildResponse } from '../response.js';
import { serializeSipMessage } from '../serialize.js';
import { buildAck, buildTrying } from './generated.js';

const invite: SipRequest = {
  kind: 'request',
  method: 'INVITE',
  uri: 'sip:bob@192.0.2.4',
  headers: [
    {
      name: 'Via',
      value: 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKtop;rport, SIP/2.0/UDP 10.0.0.2;branch=z9hG4bK2',
    },
    { name: 'Route', value: '<sip:proxy.example.com;lr>' },
    { name: 'Max-Forwards', value: '69' },
    { name: 'From', value: 'Alice <sip:alice@example.com>;tag=a1' },
    { name: 'To', value: '<sip:bob@example.com>' },
    { name: 'Call-ID', value: 'call-9' },
    { name: 'CSeq', value: '314 INVITE' },
    { name: 'Contact', value: '<sip:alice@10.0.0.1>' },
  ],
  body: Buffer.from('v=0\r\n'),
};

test('the ACK to a 3xx-6xx: the INVITE top Via, Route, From, Call-ID and CSeq number; the response To', () => {
  const busy = buildResponse(invite, 486, { toTag: 'b9' });
  const ack = buildAck(invite, busy);
  expect(ack).toMatchObject({ method: 'ACK', uri: invite.uri });
  expect(headerValues(ack, 'Via')).toEqual(['SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKtop;rport']);
  expect(headerValues(ack, 'Route')).toEqual(['<sip:proxy.example.com;lr>']);
  expect(headerValue(ack, 'To')).toBe('<sip:bob@example.com>;tag=b9');
  expect(headerValue(ack, 'From')).toBe(headerValue(invite, 'From'));
  expect(headerValue(ack, 'CSeq')).toBe('314 ACK');
  expect(headerValue(ack, 'Contact')).toBeUndefined();
  expect(ack.body.length).toBe(0);
  expect(parseSipMessage(serializeSipMessage(ack))).toMatchObject({ method: 'ACK' });
});

test('the 100 Trying copies the request and adds no To tag', () => {
  const trying = buildTrying(invite);
  expect(trying.status).toBe(100);
  expect(headerValue(trying, 'To')).toBe('<sip:bob@example.com>');
  expect(headerValues(trying, 'Via')).toEqual(headerValues(invite, 'Via'));
});
