import { describe, expect, it } from 'vitest';
import type { SipRequest } from '../message.js';
import { parseSipMessage } from '../parse.js';
import { wire } from '../testing.js';
import { parseSipUri } from '../uri.js';
import { nextHop } from './next-hop.js';

const FLOW = { host: '192.0.2.10', port: 5060, transport: 'udp' } as const;

const bye = (routes: string[], toTag = ';tag=far'): SipRequest =>
  parseSipMessage(
    wire(
      [
        'BYE sip:1001@10.0.0.7:5062 SIP/2.0',
        'Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx',
        ...routes.map((r) => `Route: ${r}`),
        'From: <sip:site@127.0.0.1>;tag=near',
        `To: <sip:1001@127.0.0.1>${toTag}`,
        'Call-ID: c1',
        'CSeq: 2 BYE',
        'Max-Forwards: 70',
        'Content-Length: 0',
        '',
        '',
      ].join('\n'),
    ),
  ) as SipRequest;

describe('nextHop: where an in-dialog request goes', () => {
  it('goes back over the flow when the dialog has no route set (not to the Contact, which may be behind NAT)', () => {
    expect(nextHop(bye([]), FLOW)).toBe(FLOW);
  });

  it('follows the first Route of a proxy that Record-Routed the dialog, with its transport', () => {
    expect(nextHop(bye(['<sip:198.51.100.5:5070;lr;transport=tcp>', '<sip:198.51.100.9;lr>']), FLOW)).toEqual(
      {
        host: '198.51.100.5',
        port: 5070,
        transport: 'tcp',
      },
    );
    // Two routes in one header value, port and transport defaulted.
    expect(nextHop(bye(['<sip:198.51.100.6;lr>, <sip:198.51.100.9;lr>']), FLOW)).toEqual({
      host: '198.51.100.6',
      port: 5060,
      transport: 'udp',
    });
    expect(nextHop(bye(['<sip:[2001:db8::1]:5080;lr>']), FLOW)).toEqual({
      host: '2001:db8::1',
      port: 5080,
      transport: 'udp',
    });
  });

  it('keeps the flow when the first Route is the flow itself (its TCP connection stays in use)', () => {
    const tcp = { host: '192.0.2.10', port: 5060, transport: 'tcp' } as const;
    expect(nextHop(bye(['<sip:192.0.2.10;lr>']), tcp)).toBe(tcp);
  });

  it('falls back to the flow for a Route it cannot reach: a host name (no DNS), sips:, TLS', () => {
    expect(nextHop(bye(['<sip:proxy.carrier.example;lr>']), FLOW)).toBe(FLOW);
    expect(nextHop(bye(['<sips:198.51.100.5;lr>']), FLOW)).toBe(FLOW);
    expect(nextHop(bye(['<sip:198.51.100.5;lr;transport=tls>']), FLOW)).toBe(FLOW);
  });
});

describe('parseSipUri', () => {
  it('takes user, host, port and the parameters the site acts on', () => {
    expect(parseSipUri('sip:1001@PHONE.example:5062;transport=TCP;ob;rinstance=1?X=1')).toEqual({
      user: '1001',
      host: 'phone.example',
      port: 5062,
      transport: 'tcp',
      lr: false,
      ob: true,
    });
    expect(parseSipUri('sip:10.0.0.1;lr')?.lr).toBe(true);
  });

  it('refuses what the site cannot reach or is not a URI', () => {
    for (const bad of [
      'sips:a@b',
      'tel:+8623',
      'sip:@host',
      'sip:a@b:0',
      'sip:a@b:70000',
      'sip:a@b c',
      'sip:a@b;transport=ws',
    ])
      expect(parseSipUri(bad), bad).toBeUndefined();
  });
});
