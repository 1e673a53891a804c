import { describe, expect, test } from 'vitest';
import { KEEP_ALIVE, parseSipMessage } from './parse.js';
import type { SipTransportKind } from './parse.js';
import { SipParseError } from './parse-error.js';
import { headerValue, headerValues } from './message.js';
import type { SipMessage, SipRequest, SipResponse } from './message.js';
import {
  authorization,
  callId,
  contacts,
  contentType,
  cseq,
  expires,
  fromHeader,
  maxForwards,
  proxyAuthorization,
  recordRoutes,
  routes,
  sessionExpires,
  supported,
  toHeader,
  vias,
  wwwAuthenticate,
} from './headers.js';
import { corpusMessage, corpusNames, wire } from './testing.js';

const parse = (bytes: Buffer, transport?: SipTransportKind): SipMessage => {
  const m = parseSipMessage(bytes, transport);
  if (m === KEEP_ALIVE) throw new Error('keep-alive');
  return m;
};
const parseRequest = (text: string, transport?: SipTransportKind): SipRequest => {
  const m = parse(wire(text), transport);
  if (m.kind !== 'request') throw new Error('not a request');
  return m;
};
const refusal = (bytes: Buffer, transport?: SipTransportKind): SipParseError => {
  try {
    parseSipMessage(bytes, transport);
  } catch (e) {
    if (e instanceof SipParseError) return e;
    throw e;
  }
  throw new Error('parsed');
};

type Expected =
  | { result: 'message' }
  | { result: 'answer'; header: string; status?: 400 | 505 }
  | { result: 'drop'; header: string };

/** What each corpus message must give; RFC 4475 §3.1.2 says what each torture test expects. */
const EXPECTED: Record<string, Expected> = {
  'baresip-register.sip': { result: 'message' },
  'carrier-invite-session-timer.sip': { result: 'message' },
  'phone-register-401.sip': { result: 'message' },
  'phone-register-auth.sip': { result: 'message' },
  'rfc3261-bye-compact.sip': { result: 'message' },
  'rfc3261-invite-f1.sip': { result: 'message' },
  'rfc3261-ok-f9.sip': { result: 'message' },
  'rfc3261-register.sip': { result: 'message' },
  'rfc4475-dblreq.sip': { result: 'message' },
  'rfc4475-esc01.sip': { result: 'message' },
  'rfc4475-esc02.sip': { result: 'message' },
  'rfc4475-escnull.sip': { result: 'message' },
  'rfc4475-mpart01.sip': { result: 'message' },
  'rfc4475-novelsc.sip': { result: 'message' },
  'rfc4475-regaut01.sip': { result: 'message' },
  'rfc4475-zeromf.sip': { result: 'message' },
  'rfc4475-intmeth.sip': { result: 'message' },
  'rfc4475-inv2543.sip': { result: 'message' },
  'rfc4475-lwsdisp.sip': { result: 'message' },
  'rfc4475-noreason.sip': { result: 'message' },
  'rfc4475-semiuri.sip': { result: 'message' },
  'rfc4475-transports.sip': { result: 'message' },
  'rfc4475-unreason.sip': { result: 'message' },
  'rfc4475-wsinv.sip': { result: 'message' },
  'sipp-uac-invite.sip': { result: 'message' },
  'rfc4475-badaspec.sip': { result: 'answer', header: 'To' },
  'rfc4475-baddn.sip': { result: 'answer', header: 'From' },
  // Its top Via's address is readable (the answer's destination), the rest of it is not.
  'rfc4475-badinv01.sip': { result: 'answer', header: 'Via' },
  'rfc4475-badvers.sip': { result: 'answer', header: 'start-line', status: 505 },
  'rfc4475-clerr.sip': { result: 'answer', header: 'Content-Length' },
  'rfc4475-ltgtruri.sip': { result: 'answer', header: 'start-line' },
  'rfc4475-lwsruri.sip': { result: 'answer', header: 'start-line' },
  'rfc4475-lwsstart.sip': { result: 'answer', header: 'start-line' },
  'rfc4475-mcl01.sip': { result: 'answer', header: 'Content-Length' },
  'rfc4475-mismatch01.sip': { result: 'answer', header: 'CSeq' },
  'rfc4475-mismatch02.sip': { result: 'answer', header: 'CSeq' },
  'rfc4475-ncl.sip': { result: 'answer', header: 'Content-Length' },
  'rfc4475-quotbal.sip': { result: 'answer', header: 'To' },
  'rfc4475-regbadct.sip': { result: 'answer', header: 'Contact' },
  'rfc4475-scalar02.sip': { result: 'answer', header: 'CSeq' },
  'rfc4475-trws.sip': { result: 'answer', header: 'start-line' },
  // A response is never answered; RFC 4475 says discard these.
  'rfc4475-bigcode.sip': { result: 'drop', header: 'start-line' },
  'rfc4475-scalarlg.sip': { result: 'drop', header: 'CSeq' },
  // RFC 4475 would answer these 400, but there is no single From/To/Call-ID to copy into one.
  'rfc4475-insuf.sip': { result: 'drop', header: 'From' },
  'rfc4475-multi01.sip': { result: 'drop', header: 'From' },
};

describe('the corpus', () => {
  test('every corpus file has an expectation, and every expectation a file', () => {
    expect(corpusNames()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [name, want] of Object.entries(EXPECTED)) {
    test(`${name}: ${want.result}${'header' in want ? ` (${want.header})` : ''}`, () => {
      const bytes = corpusMessage(name);
      if (want.result === 'message') {
        expect(parseSipMessage(bytes)).not.toBe(KEEP_ALIVE);
        return;
      }
      const e = refusal(bytes);
      expect({ header: e.header, disposition: e.disposition }).toEqual({
        header: want.header,
        disposition: want.result,
      });
      expect(e.message).toBe(`${want.header}: ${e.problem}`);
      if (want.result === 'answer') {
        expect(e.status).toBe(want.status ?? 400);
        expect(e.request?.kind).toBe('request');
      } else expect(e.request).toBeUndefined();
    });
  }

  test('wsinv: folding, odd case, LWS around colons and = , compact names, two Via elements in one header', () => {
    const m = parse(corpusMessage('rfc4475-wsinv.sip')) as SipRequest;
    expect(m.method).toBe('INVITE');
    expect(m.uri).toBe('sip:vivekg@chair-dnrc.example.com;unknownparam');
    expect(toHeader(m)).toMatchObject({ uri: 'sip:vivekg@chair-dnrc.example.com', tag: '1918181833n' });
    expect(fromHeader(m)).toMatchObject({
      displayName: 'J Rosenberg \\"',
      uri: 'sip:jdrosen@example.com',
      tag: '98asjd8',
    });
    expect(maxForwards(m)).toBe(68);
    expect(cseq(m)).toEqual({ seq: 9, method: 'INVITE' });
    expect(vias(m).map((v) => [v.transport, v.sentBy, v.branch])).toEqual([
      ['UDP', '192.0.2.2', '390skdjuw'],
      ['TCP', 'spindle.example.com', 'z9hG4bK9ikj8'],
      ['UDP', '192.168.255.111', 'z9hG4bK30239'],
    ]);
    expect(headerValue(m, 'Subject')).toBe('');
    expect(headerValue(m, 'NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(routes(m).map((r) => r.uri)).toEqual([
      'sip:services.example.com;lr;unknownwith=value;unknown-no-value',
    ]);
    const c = contacts(m);
    expect(c).not.toBe('*');
    expect((c as Exclude<typeof c, '*'>)[0]).toMatchObject({ displayName: 'Quoted string ""' });
    expect([...(c as Exclude<typeof c, '*'>)[0]!.params]).toEqual([
      ['newparam', 'newvalue'],
      ['secondparam', null],
      ['q', '0.33'],
    ]);
    expect(contentType(m)?.mediaType).toBe('application/sdp');
    expect(m.body.toString()).toMatch(/^v=0\r\n[^]*a=rtpmap:31 LPC\r\n$/);
  });

  test('header names: compact and odd-case known names are spelled out, unknown ones kept, order kept', () => {
    const m = parse(corpusMessage('rfc3261-bye-compact.sip'));
    expect(m.headers.map((h) => h.name)).toEqual([
      'Via',
      'Max-Forwards',
      'From',
      'To',
      'Call-ID',
      'CSeq',
      'Content-Length',
    ]);
    expect(headerValue(m, 'v')).toBe(headerValue(m, 'VIA'));
    expect(parse(corpusMessage('rfc4475-esc02.sip')).headers.map((h) => h.name)).toContain('C%6Fntact');
  });

  test('dblreq: bytes past Content-Length in a datagram are discarded', () => {
    const m = parse(corpusMessage('rfc4475-dblreq.sip'));
    expect(m.body.length).toBe(0);
    expect(callId(m)).toBe('dblreq.0ha0isndaksdj99sdfafnl3lk233412');
  });

  test('inv2543: an RFC 2543 peer (no branch, no Max-Forwards, no Content-Length over UDP)', () => {
    const m = parse(corpusMessage('rfc4475-inv2543.sip'));
    expect(vias(m)[0]!.branch).toBeUndefined();
    expect(maxForwards(m)).toBeUndefined();
    expect(m.body.toString()).toMatch(/^v=0\r\n[^]*RTP\/AVP 0\r\n$/);
  });

  test('intmeth: every token character in a method, and control bytes inside a quoted display name', () => {
    const m = parse(corpusMessage('rfc4475-intmeth.sip')) as SipRequest;
    expect(m.method).toBe("!interesting-Method0123456789_*+`.%indeed'~");
    expect(cseq(m).method).toBe(m.method);
    expect(toHeader(m).displayName).toBe('BEL:\x07 NUL:\x00 DEL:\x7f');
    expect(fromHeader(m).displayName).toBe("token1~` token2'+_ token3*%!.-");
  });

  test('mpart01, escnull, regaut01, zeromf: a multipart body, "L:0", an unknown auth scheme, Max-Forwards 0', () => {
    const mpart = parse(corpusMessage('rfc4475-mpart01.sip'));
    expect(contentType(mpart)).toMatchObject({ mediaType: 'multipart/mixed' });
    expect(contentType(mpart)!.params.get('boundary')).toBe('7a9cbec02ceef655');
    expect(mpart.body.toString()).toMatch(/^--7a9cbec02ceef655\r\n[^]*--7a9cbec02ceef655--\r\n$/);
    const escnull = parse(corpusMessage('rfc4475-escnull.sip'));
    expect(escnull.headers.at(-1)).toEqual({ name: 'Content-Length', value: '0' });
    expect(contacts(escnull)).toHaveLength(2);
    expect(headerValue(parse(corpusMessage('rfc4475-regaut01.sip')), 'Authorization')).toBe(
      'NoOneKnowsThisScheme opaque-data=here',
    );
    expect(maxForwards(parse(corpusMessage('rfc4475-zeromf.sip')))).toBe(0);
  });

  test('noreason and unreason: an empty and a UTF-8 reason phrase', () => {
    expect((parse(corpusMessage('rfc4475-noreason.sip')) as SipResponse).reason).toBe('');
    expect((parse(corpusMessage('rfc4475-unreason.sip')) as SipResponse).reason).toMatch(
      /^= 2\*\*3 \* 5\*\*2 но/,
    );
  });

  test('real peers: SIPp, baresip, a desk phone with digest, a carrier with session timers', () => {
    const sipp = parse(corpusMessage('sipp-uac-invite.sip'));
    expect(contacts(sipp)).toMatchObject([{ uri: 'sip:sipp@127.0.1.1:5061', expires: undefined }]);

    const baresip = parse(corpusMessage('baresip-register.sip'));
    expect(vias(baresip)[0]!.rport).toBe(true);
    expect(contacts(baresip)).toMatchObject([{ expires: 3600 }]);
    const [contact] = contacts(baresip) as Exclude<ReturnType<typeof contacts>, '*'>;
    expect(contact!.params.get('+sip.instance')).toBe('"<urn:uuid:0b5b4a8e-6a5e-4c9e-9d3f-3f5d3c1e2b7a>"');
    expect(supported(baresip)).toEqual(['replaces', 'norefersub', 'gruu', 'outbound']);

    const challenge = parse(corpusMessage('phone-register-401.sip'));
    expect(vias(challenge)[0]).toMatchObject({ rport: 5060, received: '10.0.0.15' });
    expect(headerValue(challenge, 'www-authenticate')).toMatch(/^Digest realm="pbx.example.com"/);
    const retry = parse(corpusMessage('phone-register-auth.sip'));
    expect(headerValue(retry, 'Authorization')).toMatch(/^Digest username="1001", .* nc=00000001$/);
    expect(expires(retry)).toBe(600);

    const carrier = parse(corpusMessage('carrier-invite-session-timer.sip'));
    expect(sessionExpires(carrier)).toMatchObject({ deltaSeconds: 1800, refresher: 'uac' });
    expect(supported(carrier)).toEqual(['100rel', 'timer']);
    expect(recordRoutes(carrier).map((r) => r.uri)).toEqual(['sip:10.10.1.2;lr']);
    expect(vias(carrier).map((v) => v.port)).toEqual([5060, 5060]);
  });
});

const OPTIONS = `OPTIONS sip:site@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa1
From: <sip:probe@10.0.0.2>;tag=1
To: <sip:site@10.0.0.1>
Call-ID: c1@10.0.0.2
CSeq: 7 OPTIONS
Max-Forwards: 70
`;
const withHeaders = (extra: string, body = ''): string => `${OPTIONS}${extra}\n${body}`;

describe('framing', () => {
  test('CRLF keep-alives are no message; CRLFs before a start line are skipped', () => {
    expect(parseSipMessage(Buffer.from('\r\n\r\n'))).toBe(KEEP_ALIVE);
    expect(parseSipMessage(Buffer.from('\r\n'))).toBe(KEEP_ALIVE);
    expect(parseSipMessage(Buffer.alloc(0))).toBe(KEEP_ALIVE);
    expect(parse(wire(`\n\n${withHeaders('Content-Length: 0\n')}`)).kind).toBe('request');
  });

  test('bare LF line ends are read like CRLF', () => {
    const m = parse(Buffer.from(withHeaders('Content-Length: 2\n', 'hi')));
    expect(callId(m)).toBe('c1@10.0.0.2');
    expect(m.body.toString()).toBe('hi');
  });

  test('over a datagram without Content-Length the rest is the body; with it, extra bytes are discarded', () => {
    expect(parse(wire(withHeaders('', 'v=0\n'))).body.toString()).toBe('v=0\r\n');
    expect(parse(wire(withHeaders('Content-Length: 3\n', 'v=0\nextra'))).body.toString()).toBe('v=0');
  });

  test('a body shorter than Content-Length: 400 for a request, dropped for a response', () => {
    const e = refusal(wire(withHeaders('Content-Length: 10\n', 'v=0\n')));
    expect(e.message).toBe('Content-Length: 10 is more than the 5 bytes that follow the headers');
    expect(e.disposition).toBe('answer');
    const response = wire(
      withHeaders('Content-Length: 10\n', 'v=0\n').replace(
        'OPTIONS sip:site@10.0.0.1 SIP/2.0',
        'SIP/2.0 200 OK',
      ),
    );
    expect(refusal(response).disposition).toBe('drop');
  });

  test('over a stream Content-Length is required', () => {
    expect(refusal(wire(withHeaders('')), 'stream').message).toBe(
      'Content-Length: missing (required over a stream)',
    );
    expect(parse(wire(withHeaders('Content-Length: 0\n')), 'stream').kind).toBe('request');
  });

  test('headers not ended by an empty line', () => {
    const e = refusal(wire(OPTIONS.trimEnd()));
    expect(e.message).toBe('body: no empty line ends the headers');
    expect(e.disposition).toBe('answer');
  });

  test('several Content-Length headers: the same value is tolerated, different ones refused', () => {
    expect(parse(wire(withHeaders('Content-Length: 0\nl: 0\n'))).body.length).toBe(0);
    expect(refusal(wire(withHeaders('Content-Length: 0\nl: 1\n', 'x'))).message).toBe(
      'Content-Length: appears 2 times with different values',
    );
  });
});

describe('refusals name the header and the problem', () => {
  const bye = (cseqLine: string): string => `BYE sip:a@10.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKb
From: <sip:b@10.0.0.2>;tag=1
To: <sip:a@10.0.0.1>;tag=2
Call-ID: c2
${cseqLine}
Content-Length: 0

`;
  test('the CSeq method must be the request method', () => {
    const e = refusal(wire(bye('CSeq: 2 INVITE')));
    expect(e.message).toBe('CSeq: method INVITE does not match the request method BYE');
    expect(e).toMatchObject({ disposition: 'answer', status: 400, header: 'CSeq', field: 'CSeq' });
    expect(e.kind).toBe('invalid-argument');
  });

  const cases: Array<[string, string, string, 'answer' | 'drop']> = [
    [
      'no Call-ID',
      withHeaders('Content-Length: 0\n').replace('Call-ID: c1@10.0.0.2\n', ''),
      'Call-ID: missing',
      'drop',
    ],
    ['no Via', withHeaders('Content-Length: 0\n').replace(/Via: .*\n/, ''), 'Via: missing', 'drop'],
    ['two Tos', withHeaders('To: <sip:x@y>\n'), 'To: appears 2 times', 'drop'],
    ['a broken top Via', withHeaders('').replace('SIP/2.0/UDP 10.0.0.2:5060', 'SIP/2.0/UDP'), 'Via', 'drop'],
    [
      'Max-Forwards over 255',
      withHeaders('').replace('Max-Forwards: 70', 'Max-Forwards: 256'),
      'Max-Forwards: value "256" is more than 255',
      'answer',
    ],
    [
      'two different Max-Forwards',
      withHeaders('Max-Forwards: 69\n'),
      'Max-Forwards: appears 2 times',
      'answer',
    ],
    [
      'Max-Forwards not a number',
      withHeaders('').replace('Max-Forwards: 70', 'Max-Forwards: ten'),
      'Max-Forwards: value "ten" is not a number',
      'answer',
    ],
    [
      'a header line without a colon',
      withHeaders('Just some text\n'),
      'header line: "Just some text" has no colon',
      'answer',
    ],
    [
      'a date in Expires',
      withHeaders('Expires: Thu, 01 Dec 1994 16:00:00 GMT\n'),
      'Expires: value "Thu, 01 Dec 1994 16:00:00 GMT" is not a number',
      'answer',
    ],
    [
      'a contact * with others',
      withHeaders('Contact: *\nContact: <sip:a@b>\n'),
      'Contact: "*" must be the only contact',
      'answer',
    ],
    [
      'a Route without brackets',
      withHeaders('Route: sip:p@10.0.0.9;lr\n'),
      'Route: the URI in "sip:p@10.0.0.9;lr" must be in <>',
      'answer',
    ],
    [
      'a bad refresher',
      withHeaders('Session-Expires: 90;refresher=me\n'),
      'Session-Expires: refresher "me" is neither uac nor uas',
      'answer',
    ],
    [
      'a Content-Type without a subtype',
      withHeaders('Content-Type: sdp\n'),
      'Content-Type: "sdp" is not type/subtype',
      'answer',
    ],
    [
      'a Supported tag that is not a token',
      withHeaders('Supported: time r\n'),
      'Supported: option tag "time r" is not a token',
      'answer',
    ],
    [
      'a bare CR inside a line',
      withHeaders('Subject: a\rb\n'),
      'Subject: contains a CR that does not end a line',
      'answer',
    ],
    [
      'a port over 65535',
      withHeaders('').replace('10.0.0.2:5060', '10.0.0.2:65536'),
      'Via: port "65536" is more than 65535',
      'drop',
    ],
    [
      'an HTTP request',
      'GET / HTTP/1.1\nHost: x\n\n',
      'start-line: "GET / HTTP/1.1" is neither a request line nor a status line',
      'drop',
    ],
  ];
  for (const [what, text, message, disposition] of cases) {
    test(`${what}: ${disposition}`, () => {
      const e = refusal(wire(text));
      expect(e.message.startsWith(message)).toBe(true);
      expect(e.disposition).toBe(disposition);
    });
  }
});

describe('header readers', () => {
  test('Via: IPv6 sent-by, received, rport number, LWS around the port colon', () => {
    const m = parseRequest(
      withHeaders('Content-Length: 0\n').replace(
        'Via: SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKa1',
        'Via: SIP/2.0/tcp [2001:db8::9] : 5070;branch=z9hG4bKv6;received=2001:db8::9;rport=5070, SIP/2.0/UDP 10.0.0.3',
      ),
    );
    expect(vias(m)).toMatchObject([
      {
        transport: 'TCP',
        host: '[2001:db8::9]',
        port: 5070,
        sentBy: '[2001:db8::9]:5070',
        branch: 'z9hG4bKv6',
      },
      { transport: 'UDP', sentBy: '10.0.0.3', branch: undefined, rport: undefined },
    ]);
    expect(vias(m)[0]).toMatchObject({ received: '2001:db8::9', rport: 5070 });
  });

  test('Contact: * and per-contact expires, across several headers', () => {
    const star = parseRequest(withHeaders('Contact: *\nExpires: 0\nContent-Length: 0\n'));
    expect(contacts(star)).toBe('*');
    expect(expires(star)).toBe(0);
    const two = parseRequest(
      withHeaders(
        'Contact: <sip:a@10.0.0.5>;expires=60, "B" <sip:b@10.0.0.6>\nm: sip:c@10.0.0.7;expires=0\n',
      ),
    );
    expect(contacts(two)).toMatchObject([
      { uri: 'sip:a@10.0.0.5', expires: 60 },
      { uri: 'sip:b@10.0.0.6', displayName: 'B', expires: undefined },
      { uri: 'sip:c@10.0.0.7', expires: 0 },
    ]);
    expect(contacts(parseRequest(withHeaders('')))).toEqual([]);
  });

  test('Authorization, Proxy-Authorization and WWW-Authenticate come back raw, for the digest code', () => {
    const retry = parse(corpusMessage('phone-register-auth.sip'));
    expect(authorization(retry)).toMatch(/^Digest username="1001", realm="pbx.example.com", /);
    expect(proxyAuthorization(retry)).toBeUndefined();
    const proxied = parseRequest(withHeaders('Proxy-Authorization: Digest username="a", qop=auth\n'));
    expect(proxyAuthorization(proxied)).toBe('Digest username="a", qop=auth');
    expect(wwwAuthenticate(parse(corpusMessage('phone-register-401.sip')))).toEqual([
      'Digest realm="pbx.example.com", nonce="MTcwMTAwMDAwMDo5ZjNkYWM2Yjg1", algorithm=MD5, qop="auth"',
    ]);
  });

  test('lookups are case-insensitive and compact-aware; headerValues keeps every line in order', () => {
    const m = parseRequest(
      withHeaders('Record-Route: <sip:p1;lr>\nrecord-route: <sip:p2;lr>, <sip:p3;lr>\n'),
    );
    expect(headerValues(m, 'RECORD-ROUTE')).toEqual(['<sip:p1;lr>', '<sip:p2;lr>, <sip:p3;lr>']);
    expect(recordRoutes(m).map((r) => r.uri)).toEqual(['sip:p1;lr', 'sip:p2;lr', 'sip:p3;lr']);
    expect(headerValue(m, 'i')).toBe('c1@10.0.0.2');
  });
});
