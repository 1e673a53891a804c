import { test } from 'vitest';
import assert from 'node:assert/strict';
import { DomainError, isDomainError } from '../../shared/errors.js';
import { DEFAULT_REGISTRAR_LIMITS, DEFAULT_SIP_LIMITS, type SiteSipConfig } from '../config-sip.js';
import { parseCidr } from './cidr.js';
import { checkDialNumber, dialOutcome, dialRoute } from './sip-dial-out.js';

const SIP: SiteSipConfig = {
  listen: [{ transport: 'udp', host: '0.0.0.0', port: 5060 }],
  publicAddress: '198.51.100.20',
  rtpPorts: { from: 20000, to: 20999 },
  rtpLatching: 'sdp-host',
  realm: 'cq',
  digest: { secret: { env: 'X' }, nonceLifetimeMs: 300_000, algorithms: ['MD5'], nonceMemory: 100 },
  trunks: [
    {
      name: 'telecom',
      sources: [parseCidr('203.0.113.0/28', 's')],
      dnis: ['95588'],
      maxChannels: 40,
      outbound: { host: '203.0.113.5', port: 5070, transport: 'udp' },
    },
    { name: 'unicom', sources: [parseCidr('203.0.113.64/29', 's')], dnis: ['95588'], maxChannels: 20 },
  ],
  dialOut: { trunk: 'telecom', callerId: '95588' },
  phones: [],
  timers: { t1Ms: 500, sessionIntervalS: 1800, rtpInactivityMs: 30_000, ringTimeoutMs: 20_000 },
  registrar: DEFAULT_REGISTRAR_LIMITS,
  limits: DEFAULT_SIP_LIMITS,
};

function refusedNumber(n: string, message: RegExp): void {
  assert.throws(
    () => checkDialNumber(n),
    (e: unknown) => isDomainError(e, 'invalid-argument') && e.field === 'number' && message.test(e.message),
    n,
  );
}

test('a number to dial is 3-20 digits, optionally after +; anything else is refused naming the character', () => {
  for (const ok of ['13800000001', '+8613800000001', '95588', '023']) checkDialNumber(ok);
  refusedNumber('13800000001@evil.example', /holds "@" at position 12/);
  refusedNumber('138;transport=tcp', /holds ";" at position 4/);
  refusedNumber('138 0000 0001', /holds " " at position 4/);
  refusedNumber('1380000>\r\nVia: x', /holds ">" at position 8/);
  refusedNumber('++8613800000001', /holds "\+" at position 2/);
  refusedNumber('sip:13800000001', /holds "s" at position 1/);
  refusedNumber('', /has 0 digits/);
  refusedNumber('12', /has 2 digits/);
  refusedNumber('1'.repeat(21), /has 21 digits/);
});

test("the route: INVITE sip:<number>@<the trunk's proxy> From the configured caller id", () => {
  const r = dialRoute(SIP, '+8613800000001', '198.51.100.20');
  assert.equal(r.trunk, 'telecom');
  assert.equal(r.maxChannels, 40);
  assert.deepEqual(r.target, { host: '203.0.113.5', port: 5070, transport: 'udp' });
  assert.deepEqual(r.to, {
    requestUri: 'sip:+8613800000001@203.0.113.5:5070',
    toUri: 'sip:+8613800000001@203.0.113.5:5070',
    fromUri: 'sip:95588@198.51.100.20',
  });
  const v6: SiteSipConfig = {
    ...SIP,
    trunks: [{ ...SIP.trunks[0]!, outbound: { host: '2001:db8::5', port: 5060, transport: 'tcp' } }],
  };
  assert.equal(
    dialRoute(v6, '95588', '[2001:db8::20]').to.requestUri,
    'sip:95588@[2001:db8::5]:5060;transport=tcp',
  );
});

test('no dialOut configured: unavailable, naming sip.dialOut; a bad number: invalid-argument before any route', () => {
  const { dialOut: _none, ...without } = SIP;
  assert.throws(
    () => dialRoute(without, '13800000001', 'h'),
    (e: unknown) => isDomainError(e, 'unavailable') && /sip\.dialOut/.test(e.message),
  );
  assert.throws(
    () => dialRoute(SIP, '1380@x', 'h'),
    (e: unknown) => isDomainError(e, 'invalid-argument'),
  );
});

test('an unanswered leg: rang out, busy, declined or unavailable to take it is no-answer', () => {
  assert.equal(dialOutcome({ reason: 'no-answer' }, 't'), 'no-answer');
  assert.equal(dialOutcome({ reason: 'busy', status: 486 }, 't'), 'no-answer');
  assert.equal(dialOutcome({ reason: 'busy', status: 600 }, 't'), 'no-answer');
  assert.equal(dialOutcome({ reason: 'unavailable', status: 480 }, 't'), 'no-answer');
  assert.equal(dialOutcome({ reason: 'unavailable', status: 408 }, 't'), 'no-answer');
  assert.equal(dialOutcome({ reason: 'failed', status: 603 }, 't'), 'no-answer');
});

function unavailableNaming(o: 'no-answer' | DomainError, message: RegExp): void {
  assert.ok(o instanceof DomainError && o.kind === 'unavailable', String(o));
  assert.match(o.message, message);
}

test('a call that never reached the customer is unavailable, naming the trunk and why', () => {
  unavailableNaming(
    dialOutcome({ reason: 'unavailable', detail: "the INVITE's transaction: timeout" }, 'telecom'),
    /trunk telecom did not take the INVITE: the INVITE's transaction: timeout/,
  );
  unavailableNaming(
    dialOutcome({ reason: 'failed', status: 503 }, 'telecom'),
    /trunk telecom refused the call: 503/,
  );
  unavailableNaming(dialOutcome({ reason: 'failed', status: 500 }, 'telecom'), /refused the call: 500/);
  unavailableNaming(dialOutcome({ reason: 'unavailable', status: 404 }, 'telecom'), /refused the call: 404/);
  unavailableNaming(dialOutcome({ reason: 'failed', status: 403 }, 'telecom'), /refused the call: 403/);
  unavailableNaming(
    dialOutcome({ reason: 'failed', status: 488, detail: 'no G.711' }, 'telecom'),
    /answer on trunk telecom was unusable: no G\.711/,
  );
  unavailableNaming(dialOutcome({ reason: 'cancelled' }, 'telecom'), /the site hung up .* while it rang/);
});
