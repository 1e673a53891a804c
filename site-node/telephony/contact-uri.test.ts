import { test } from 'vitest';
import assert from 'node:assert/strict';
import { normalizeContact, phoneTarget, type SipTarget } from './contact-uri.js';

test('contacts are stored with scheme and host lower-cased and only transport and ob kept', () => {
  const cases: Array<[string, string | undefined]> = [
    ['sip:1001@192.0.2.10', 'sip:1001@192.0.2.10'],
    [
      'SIP:1001@Phone.Example:5062;Transport=TCP;rinstance=ab12;ob',
      'sip:1001@phone.example:5062;transport=tcp;ob',
    ],
    ['sip:Alice@[2001:DB8::1]:5060;line=3', 'sip:Alice@[2001:db8::1]:5060'],
    ['sip:192.0.2.10:5060?Subject=x', 'sip:192.0.2.10:5060'],
    ['sips:1001@192.0.2.10', undefined],
    ['sip:1001@192.0.2.10;transport=tls', undefined],
    ['sip:1001@192.0.2.10;transport=ws', undefined],
    ['tel:+8623630000', undefined],
    ['sip:@192.0.2.10', undefined],
    ['sip:1001@192.0.2.10:70000', undefined],
    ['sip:1001@192.0.2.10:0', undefined],
    ['sip:1001@bad host', undefined],
  ];
  for (const [uri, stored] of cases) assert.equal(normalizeContact(uri), stored, uri);
});

test('a phone is reached at its Contact, or where it registered from when behind a NAT or on a flow', () => {
  const from: SipTarget = { transport: 'udp', host: '198.51.100.7', port: 40123 };
  // The Contact names a public address: reach it there, on the Contact's transport and port.
  assert.deepEqual(phoneTarget('sip:1001@203.0.113.9:5062;transport=tcp', from), {
    transport: 'tcp',
    host: '203.0.113.9',
    port: 5062,
  });
  assert.deepEqual(phoneTarget('sip:1001@phone.example', from), {
    transport: 'udp',
    host: 'phone.example',
    port: 5060,
  });
  // A private Contact that is not the source: the phone wrote its inside address.
  assert.deepEqual(phoneTarget('sip:1001@192.168.1.20:5060', from), from);
  assert.deepEqual(phoneTarget('sip:1001@[fd00::20]', from), from);
  // A private Contact that is the source: the phone is on the site's own network.
  const lan: SipTarget = { transport: 'udp', host: '10.0.0.20', port: 5060 };
  assert.deepEqual(phoneTarget('sip:1001@10.0.0.20:5060', lan), lan);
  // ob: reuse the flow (RFC 5626), whatever the Contact says.
  assert.deepEqual(phoneTarget('sip:1001@203.0.113.9;ob', from), from);
});
