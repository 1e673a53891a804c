import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { vias } from '../headers.js';
import type { SipRequest } from '../message.js';
import { parseSipMessage } from '../parse.js';
import { serializeSipMessage } from '../serialize.js';
import { ourVia, responseDestination, stampVia, topVia, uriTransport, withTopVia } from './via.js';

const request = (...viaValues: string[]): SipRequest => ({
  kind: 'request',
  method: 'OPTIONS',
  uri: 'sip:a@example.com',
  headers: [
    ...viaValues.map((value) => ({ name: 'Via', value })),
    { name: 'From', value: '<sip:b@example.com>;tag=1' },
    { name: 'To', value: '<sip:a@example.com>' },
    { name: 'Call-ID', value: 'c1' },
    { name: 'CSeq', value: '1 OPTIONS' },
  ],
  body: Buffer.alloc(0),
});

describe('stampVia (RFC 3261 §18.2.1, RFC 3581)', () => {
  test('the same address and no rport: unchanged', () => {
    const req = request('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1');
    expect(stampVia(req, { host: '10.0.0.1', port: 5060 })).toBe(req);
  });

  test('another source address: received added', () => {
    const req = request('SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK1');
    const via = topVia(stampVia(req, { host: '192.0.2.7', port: 5070 }));
    expect(via.received).toBe('192.0.2.7');
    expect(via.rport).toBeUndefined();
  });

  test('rport asked: filled with the source port, received added even for the same host', () => {
    const req = request(
      'SIP/2.0/UDP 10.0.0.1:5060;rport;branch=z9hG4bK1, SIP/2.0/UDP 10.0.0.9;branch=z9hG4bK0',
    );
    const stamped = stampVia(req, { host: '10.0.0.1', port: 40000 });
    const [top, second] = vias(stamped);
    expect(top).toMatchObject({ received: '10.0.0.1', rport: 40000, branch: 'z9hG4bK1' });
    expect(second!.sentBy).toBe('10.0.0.9');
  });

  test('a received or rport the client put there is replaced, not repeated', () => {
    const req = request('SIP/2.0/UDP h.example.com;received=1.2.3.4;rport=1;branch=z9hG4bK1');
    const via = topVia(stampVia(req, { host: '192.0.2.7', port: 5070 }));
    expect(via).toMatchObject({ received: '192.0.2.7', rport: 5070 });
  });

  test('IPv6: a bracketed sent-by equals the bare source address', () => {
    const req = request('SIP/2.0/UDP [::1]:5060;branch=z9hG4bK1');
    expect(stampVia(req, { host: '::1', port: 5060 })).toBe(req);
  });

  test('property: the stamped request still parses and only its top Via changed', () => {
    fc.assert(
      fc.property(
        fc.ipV4(),
        fc.integer({ min: 1, max: 65535 }),
        fc.boolean(),
        fc.ipV4(),
        (sentBy, port, rport, source) => {
          const req = request(
            `SIP/2.0/UDP ${sentBy};branch=z9hG4bKp${rport ? ';rport' : ''}`,
            'SIP/2.0/TCP 10.9.9.9',
          );
          const stamped = stampVia(req, { host: source, port });
          const reparsed = parseSipMessage(serializeSipMessage(stamped)) as SipRequest;
          const [top, second] = vias(reparsed);
          expect(second!.sentBy).toBe('10.9.9.9');
          expect(top!.branch).toBe('z9hG4bKp');
          if (rport) expect(top).toMatchObject({ received: source, rport: port });
          else expect(top!.received).toBe(sentBy === source ? undefined : source);
        },
      ),
    );
  });
});

describe('responseDestination (RFC 3261 §18.2.2)', () => {
  const response = (via: string) => ({ headers: [{ name: 'Via', value: via }] });
  test('UDP: received and rport when the client asked', () => {
    expect(
      responseDestination(response('SIP/2.0/UDP h;received=1.2.3.4;rport=4000;branch=z9hG4bK1'), 'udp'),
    ).toEqual({
      host: '1.2.3.4',
      port: 4000,
    });
  });
  test('UDP without rport: received (or the host) at the sent-by port, 5060 by default', () => {
    expect(responseDestination(response('SIP/2.0/UDP h:5070;received=1.2.3.4'), 'udp')).toEqual({
      host: '1.2.3.4',
      port: 5070,
    });
    expect(responseDestination(response('SIP/2.0/UDP [2001:db8::1]'), 'udp')).toEqual({
      host: '2001:db8::1',
      port: 5060,
    });
  });
  test('TCP: the sent-by port, never rport (the client port is no listener)', () => {
    expect(responseDestination(response('SIP/2.0/TCP h:5070;received=1.2.3.4;rport=4000'), 'tcp')).toEqual({
      host: '1.2.3.4',
      port: 5070,
    });
  });
  test('no Via: refused, naming it', () => {
    expect(() => responseDestination({ headers: [] }, 'udp')).toThrow(/Via: missing/);
    expect(() => stampVia({ ...request(), headers: [] }, { host: '1.1.1.1', port: 1 })).toThrow(/Via/);
  });
});

test('ourVia and withTopVia: our sent-by, the branch and rport, on top', () => {
  const via = ourVia('tcp', { host: '::1', port: 5061 }, 'z9hG4bKabc');
  expect(via).toBe('SIP/2.0/TCP [::1]:5061;branch=z9hG4bKabc;rport');
  const req = withTopVia(request('SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK1'), via);
  expect(vias(req).map((v) => v.branch)).toEqual(['z9hG4bKabc', 'z9hG4bK1']);
});

test('uriTransport reads ;transport= from a SIP URI', () => {
  expect(uriTransport('sip:a@h;transport=TCP')).toBe('tcp');
  expect(uriTransport('sip:a@h;transport=udp;lr')).toBe('udp');
  expect(uriTransport('sip:a@h;transport=sctp')).toBeUndefined();
  expect(uriTransport('sip:a@h?x=;transport=tcp')).toBeUndefined();
  expect(uriTransport('sip:a@h')).toBeUndefined();
});
