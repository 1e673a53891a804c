/**
 * The transaction layer on real sockets (127.0.0.1): two stacks talking over UDP and TCP,
 * and a raw UDP peer that sends hand-written messages, never answers, or answers twice.
 * Short timers (T1 = 20 ms) let retransmissions and timeouts happen within a test; every
 * wait is for a condition, never for a time.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { connect, createServer, type AddressInfo } from 'node:net';
import { waitFor } from '../../../test/support/wait.js';
import { headerValue, type SipRequest } from '../message.js';
import { vias } from '../headers.js';
import { buildResponse } from '../response.js';
import { silentLogger } from '../../log.js';
import { SipStack, UDP_REQUEST_LIMIT_BYTES } from './sip-stack.js';
import {
  capturingLogger,
  FAST_TIMERS,
  LOOPBACK,
  rawRequest,
  RawUdpPeer,
  RecordingClient,
  RecordingTu,
  tuRequest,
} from './testing.js';
import { buildAck } from './generated.js';
import { DomainError } from '../../errors.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

/** Fast timers by default; `slow` (RFC 3261's T1 = 500 ms) where a retransmission would race the answer. */
async function stack(tu = new RecordingTu(), log = silentLogger, slow = false): Promise<SipStack> {
  const timers = slow ? {} : FAST_TIMERS;
  const s = await SipStack.start(
    { udp: { host: LOOPBACK, port: 0 }, tcp: { host: LOOPBACK, port: 0 }, timers, log },
    tu,
  );
  open.push(s);
  return s;
}

async function peer(): Promise<RawUdpPeer> {
  const p = await RawUdpPeer.open();
  open.push(p);
  return p;
}

describe.each(['udp', 'tcp'] as const)('two stacks over %s', (transport) => {
  test('a request and its response both ways', async () => {
    const aTu = new RecordingTu(200);
    const bTu = new RecordingTu(200);
    const a = await stack(aTu, silentLogger, true);
    const b = await stack(bTu, silentLogger, true);
    const toB = new RecordingClient();
    const tx = a.request(tuRequest('OPTIONS'), { ...b.address(transport), transport }, toB);
    expect(tx.transport).toBe(transport);
    await waitFor('the 200 at a', () => toB.responses.length === 1);
    expect(toB.statuses()).toEqual([200]);
    // b saw our Via, stamped with where the request came from (RFC 3581: rport asked).
    const [via] = vias(bTu.requests[0]!.request);
    expect(via!.branch).toBe(tx.branch);
    expect(via!.received).toBe(LOOPBACK);
    expect(typeof via!.rport).toBe('number');

    const toA = new RecordingClient();
    b.request(tuRequest('MESSAGE'), { ...a.address(transport), transport }, toA);
    await waitFor('the 200 at b', () => toA.responses.length === 1);
    expect(aTu.requests.map((r) => r.request.method)).toEqual(['MESSAGE']);
    expect(a.counters().received).toEqual({ requests: 1, responses: 1 });
    expect(a.counters().sent).toEqual({ requests: 1, responses: 1 });
  });

  test('an INVITE rung, answered 200 and acknowledged; the ACK reaches the TU', async () => {
    const bTu = new RecordingTu();
    const a = await stack(undefined, silentLogger, true);
    const b = await stack(bTu, silentLogger, true);
    const events = new RecordingClient();
    a.request(tuRequest('INVITE'), { ...b.address(transport), transport }, events);
    await waitFor('the INVITE at b', () => bTu.requests.length === 1);
    const { request, tx } = bTu.requests[0]!;
    tx.respond(buildResponse(request, 180, { toTag: 'b1' }));
    tx.respond(buildResponse(request, 200, { toTag: 'b1' }));
    await waitFor('the 200 at a', () => events.statuses().includes(200));
    expect(events.statuses()).toEqual([100, 180, 200]);
    const ack = buildAck(request, events.responses[2]!);
    await a.sendAck(
      { ...ack, headers: ack.headers.filter((h) => h.name !== 'Via') },
      {
        ...b.address(transport),
        transport,
      },
    );
    await waitFor('the ACK at b', () => bTu.acks.length === 1);
    expect(bTu.acks[0]!.ack.method).toBe('ACK');
    expect(bTu.acks[0]!.origin.transport).toBe(transport);
  });
});

describe('over UDP against a raw peer', () => {
  test('a request nobody answers is resent until timer F, and the timeout reaches the TU', async () => {
    const a = await stack();
    const silent = await peer();
    const events = new RecordingClient();
    a.request(tuRequest('OPTIONS'), { host: LOOPBACK, port: silent.port }, events);
    await waitFor('the timeout', () => events.timeouts === 1);
    // E fires at 20, 60, 140, 220... ms until F at 64*T1 = 1280 ms: many copies, all alike.
    expect(silent.received.length).toBeGreaterThan(3);
    expect(new Set(silent.received.map((r) => r.bytes.toString())).size).toBe(1);
    expect(a.counters().retransmissions).toBe(silent.received.length - 1);
    expect(a.openTransactions.client).toBe(0);
  });

  test('an INVITE nobody answers ends on timer B', async () => {
    const a = await stack();
    const silent = await peer();
    const events = new RecordingClient();
    a.request(tuRequest('INVITE'), { host: LOOPBACK, port: silent.port }, events);
    await waitFor('the timeout', () => events.timeouts === 1);
    expect(silent.requests().every((r) => r.method === 'INVITE')).toBe(true);
    expect(silent.received.length).toBeGreaterThan(2);
  });

  test('a 3xx-6xx to an INVITE is acknowledged by the stack, the ACK matching the INVITE', async () => {
    const a = await stack();
    const uas = await peer();
    const events = new RecordingClient();
    const tx = a.request(tuRequest('INVITE'), { host: LOOPBACK, port: uas.port }, events);
    await waitFor('the INVITE', () => uas.requests().length > 0);
    const invite = uas.requests()[0]!;
    await uas.send(buildBusy(invite), a.address('udp'));
    await waitFor('the ACK', () => uas.requests().some((r) => r.method === 'ACK'));
    const ack = uas.requests().find((r) => r.method === 'ACK')!;
    expect(vias(ack)[0]!.branch).toBe(tx.branch);
    expect(headerValue(ack, 'CSeq')).toBe('1 ACK');
    expect(headerValue(ack, 'To')).toContain('tag=busy');
    expect(events.statuses()).toEqual([486]);
    // A resent 486 (our ACK was lost) is acknowledged again, not passed up again.
    await uas.send(buildBusy(invite), a.address('udp'));
    await waitFor('the second ACK', () => uas.requests().filter((r) => r.method === 'ACK').length === 2);
    expect(events.statuses()).toEqual([486]);
  });

  test('a resent request gets the same response again from the transaction, not the TU', async () => {
    const tu = new RecordingTu(200);
    const b = await stack(tu);
    const client = await peer();
    const options = rawRequest('OPTIONS', client.port, 'z9hG4bKresent1');
    await client.send(options, b.address('udp'));
    await waitFor('the 200', () => client.responses().length === 1);
    await client.send(options, b.address('udp'));
    await waitFor('the second 200', () => client.responses().length === 2);
    expect(client.received[0]!.bytes.equals(client.received[1]!.bytes)).toBe(true);
    expect(tu.requests).toHaveLength(1);
    expect(b.counters().retransmissions).toBe(1);
    // The response went to received/rport, and says so in its Via.
    const via = vias(client.responses()[0]!)[0]!;
    expect(via.received).toBe(LOOPBACK);
    expect(via.rport).toBe(client.port);
  });

  test('a malformed request is answered 400 naming the header, logged once, and the TU sees nothing', async () => {
    const tu = new RecordingTu(200);
    const { log, lines } = capturingLogger();
    const b = await stack(tu, log);
    const client = await peer();
    await client.send(
      rawRequest('INVITE', client.port, 'z9hG4bKbad1', { cseqMethod: 'BYE' }),
      b.address('udp'),
    );
    await waitFor('the 400', () => client.responses().length === 1);
    const res = client.responses()[0]!;
    expect(res.status).toBe(400);
    expect(res.reason).toContain('CSeq');
    expect(tu.requests).toHaveLength(0);
    expect(b.counters().refused).toEqual({ 'malformed-request': 1 });
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({
      level: 'warn',
      reason: 'malformed-request',
      source: expect.any(String),
    });
  });

  test('a request of another SIP version is answered 505', async () => {
    const tu = new RecordingTu(200);
    const b = await stack(tu);
    const client = await peer();
    const text = rawRequest('OPTIONS', client.port, 'z9hG4bKv3').replace('SIP/2.0\n', 'SIP/3.0\n');
    await client.send(text, b.address('udp'));
    await waitFor('the 505', () => client.responses().length === 1);
    expect(client.responses()[0]!.status).toBe(505);
    expect(tu.requests).toHaveLength(0);
  });

  test('a request without the RFC 3261 branch cookie is answered 400 naming Via', async () => {
    const tu = new RecordingTu(200);
    const b = await stack(tu);
    const client = await peer();
    await client.send(rawRequest('OPTIONS', client.port, 'old2543'), b.address('udp'));
    await waitFor('the 400', () => client.responses().length === 1);
    expect(client.responses()[0]!.reason).toContain('Via.branch');
    expect(tu.requests).toHaveLength(0);
    expect(b.counters().refused).toEqual({ 'bad-branch': 1 });
  });

  test('a malformed response and a stray one are dropped, each counted', async () => {
    const a = await stack();
    const p = await peer();
    await p.send('SIP/2.0 200 OK\nVia: SIP/2.0/UDP 127.0.0.1:1;branch=z9hG4bKx\n\n', a.address('udp'));
    await p.send(buildResponseText(404, 'OPTIONS', 'z9hG4bKnotours'), a.address('udp'));
    await waitFor('both refused', () => Object.keys(a.counters().refused).length === 2);
    expect(a.counters().refused).toEqual({ 'malformed-message': 1, 'stray-response': 1 });
    expect(p.received).toHaveLength(0);
  });

  test('a 2xx to an INVITE matching no transaction goes to the TU as a stray', async () => {
    const tu = new RecordingTu();
    const a = await stack(tu);
    const p = await peer();
    await p.send(buildResponseText(200, 'INVITE', 'z9hG4bKgone'), a.address('udp'));
    await waitFor('the stray', () => tu.strays.length === 1);
    expect(tu.strays[0]!.status).toBe(200);
  });

  test('CANCEL: 200 to the CANCEL, the TU told, its 487 sent, and the ACK absorbed', async () => {
    const tu = new RecordingTu();
    const b = await stack(tu);
    const caller = await peer();
    await caller.send(rawRequest('INVITE', caller.port, 'z9hG4bKinv1'), b.address('udp'));
    await waitFor('the 100', () => caller.responses().some((r) => r.status === 100));
    await waitFor('the INVITE at the TU', () => tu.requests.length === 1);
    await caller.send(rawRequest('CANCEL', caller.port, 'z9hG4bKinv1'), b.address('udp'));
    await waitFor('onCancel', () => tu.cancels.length === 1);
    const cancelOk = caller.responses().find((r) => headerValue(r, 'CSeq') === '1 CANCEL');
    expect(cancelOk?.status).toBe(200);
    const { invite, tx } = tu.cancels[0]!;
    expect(invite.method).toBe('INVITE');
    tx.respond(buildResponse(invite, 487, { toTag: 'b2' }));
    await waitFor('the 487', () => caller.responses().some((r) => r.status === 487));
    await caller.send(rawRequest('ACK', caller.port, 'z9hG4bKinv1', { toTag: 'b2' }), b.address('udp'));
    // Had the ACK not matched, timer H would have told the TU of a timeout.
    await waitFor('both transactions over', () => b.openTransactions.server === 0);
    expect(tu.failures).toHaveLength(0);
    expect(tu.acks).toHaveLength(0); // the ACK to a 487 belongs to the transaction
  });

  test('a CANCEL matching no INVITE is answered 481', async () => {
    const tu = new RecordingTu();
    const b = await stack(tu);
    const caller = await peer();
    await caller.send(rawRequest('CANCEL', caller.port, 'z9hG4bKnone'), b.address('udp'));
    await waitFor('the 481', () => caller.responses().length === 1);
    expect(caller.responses()[0]!.status).toBe(481);
    expect(tu.cancels).toHaveLength(0);
  });

  test('an ACK to a 2xx (its own branch) goes to onAck', async () => {
    const tu = new RecordingTu();
    const b = await stack(tu);
    const caller = await peer();
    await caller.send(rawRequest('ACK', caller.port, 'z9hG4bKack2xx', { toTag: 'x' }), b.address('udp'));
    await waitFor('onAck', () => tu.acks.length === 1);
    expect(tu.acks[0]!.origin.source.port).toBe(caller.port);
  });

  test('no ACK to our 3xx-6xx: timer H tells the TU', async () => {
    const tu = new RecordingTu(486);
    const b = await stack(tu);
    const caller = await peer();
    await caller.send(rawRequest('INVITE', caller.port, 'z9hG4bKnoack'), b.address('udp'));
    await waitFor('the failure', () => tu.failures.length === 1, 10_000);
    expect(tu.failures[0]!.reason).toBe('timeout');
    // G resent the 486 meanwhile.
    expect(caller.responses().filter((r) => r.status === 486).length).toBeGreaterThan(1);
  });
});

describe('edges', () => {
  test('a TU that throws is logged as an error and the stack goes on', async () => {
    const tu = new RecordingTu(200);
    const { log, lines } = capturingLogger();
    const b = await stack(tu, log);
    let calls = 0;
    tu.onRequest = (request, tx) => {
      if (calls++ === 0) throw new Error('TU bug');
      tx.respond(buildResponse(request, 200, { toTag: 't' }));
    };
    const client = await peer();
    await client.send(rawRequest('OPTIONS', client.port, 'z9hG4bKthrow1'), b.address('udp'));
    await waitFor('the error logged', () => lines.some((l) => l.level === 'error'));
    await client.send(rawRequest('OPTIONS', client.port, 'z9hG4bKthrow2'), b.address('udp'));
    await waitFor('the 200 to the second', () => client.responses().length === 1);
  });

  test('a response after the transaction is over is refused, naming it', async () => {
    const tu = new RecordingTu();
    const b = await stack(tu);
    const a = await stack();
    const events = new RecordingClient();
    a.request(tuRequest('OPTIONS'), { ...b.address('tcp'), transport: 'tcp' }, events);
    await waitFor('the request', () => tu.requests.length === 1);
    const { request, tx } = tu.requests[0]!;
    tx.respond(buildResponse(request, 200, { toTag: 'x' })); // TCP: J = 0, over at once
    expect(() => tx.respond(buildResponse(request, 200, { toTag: 'x' }))).toThrow(/is over/);
    await waitFor('the 200', () => events.responses.length === 1);
  });

  test('a second final from the TU is refused and nothing is sent', async () => {
    const tu = new RecordingTu();
    const b = await stack(tu);
    const client = await peer();
    await client.send(rawRequest('OPTIONS', client.port, 'z9hG4bKtwofinals'), b.address('udp'));
    await waitFor('the request', () => tu.requests.length === 1);
    const { request, tx } = tu.requests[0]!;
    tx.respond(buildResponse(request, 404, { toTag: 'x' }));
    expect(() => tx.respond(buildResponse(request, 200, { toTag: 'x' }))).toThrow(/cannot take/);
    await waitFor('the 404', () => client.responses().length === 1);
    expect(b.counters().sent.responses).toBe(1);
  });

  test('two requests with one branch: the second is refused', async () => {
    const a = await stack();
    const silent = await peer();
    const tx = a.request(tuRequest('OPTIONS'), { host: LOOPBACK, port: silent.port }, new RecordingClient());
    expect(() => a.request(tx.request, { host: LOOPBACK, port: silent.port }, new RecordingClient())).toThrow(
      /is running/,
    );
  });

  test('a keep-alive datagram is ignored', async () => {
    const tu = new RecordingTu(200);
    const b = await stack(tu);
    const client = await peer();
    await client.send(Buffer.from('\r\n\r\n'), b.address('udp'));
    await client.send(rawRequest('OPTIONS', client.port, 'z9hG4bKafterka'), b.address('udp'));
    await waitFor('the 200', () => client.responses().length === 1);
    expect(b.counters().received.requests).toBe(1);
    expect(b.counters().refused).toEqual({});
  });

  test('an ACK reusing the INVITE branch after a 2xx reaches the TU through the transaction', async () => {
    const tu = new RecordingTu(200);
    const b = await stack(tu, silentLogger, true);
    const caller = await peer();
    await caller.send(rawRequest('INVITE', caller.port, 'z9hG4bKsameack'), b.address('udp'));
    await waitFor('the 200', () => caller.responses().some((r) => r.status === 200));
    await caller.send(rawRequest('ACK', caller.port, 'z9hG4bKsameack', { toTag: 'uas1' }), b.address('udp'));
    await waitFor('onAck', () => tu.acks.length === 1);
    expect(b.openTransactions.server).toBe(1); // Accepted holds it for L
  });

  test('a TCP stream refused by the framer is counted by the stack', async () => {
    const b = await stack();
    const socket = connect(b.address('tcp'));
    open.push({ close: async () => void socket.destroy() });
    socket.on('error', () => {});
    socket.write('OPTIONS sip:x SIP/2.0\r\nVia: SIP/2.0/TCP 127.0.0.1;branch=z9hG4bKf\r\n\r\n');
    await waitFor('the refusal', () => b.counters().refused['framing'] === 1);
  });

  test('a port already taken fails the start, and what was bound is closed again', async () => {
    const a = await stack();
    const taken = a.address('tcp');
    const udp = { host: LOOPBACK, port: 0 };
    await expect(SipStack.start({ udp, tcp: taken, log: silentLogger }, new RecordingTu())).rejects.toThrow(
      /EADDRINUSE/,
    );
  });
});

describe('client side rules', () => {
  test('a UDP request over 1300 bytes goes over TCP', async () => {
    const tu = new RecordingTu(200);
    const a = await stack();
    const b = await stack(tu);
    const events = new RecordingClient();
    const big = tuRequest('MESSAGE', 'sip:peer@127.0.0.1', 'x'.repeat(UDP_REQUEST_LIMIT_BYTES));
    const tx = a.request(big, b.address('tcp'), events);
    expect(tx.transport).toBe('tcp');
    expect(vias(tx.request)[0]!.transport).toBe('TCP');
    await waitFor('the 200', () => events.responses.length === 1);
    expect(tu.requests[0]!.tx.origin.transport).toBe('tcp');
  });

  test('our Via names viaHost when given, with a z9hG4bK branch and rport', async () => {
    const a = await SipStack.start(
      { udp: { host: LOOPBACK, port: 0 }, viaHost: 'sip.site.example', log: silentLogger },
      new RecordingTu(),
    );
    open.push(a);
    const silent = await peer();
    const tx = a.request(tuRequest('OPTIONS'), { host: LOOPBACK, port: silent.port }, new RecordingClient());
    const via = vias(tx.request)[0]!;
    expect(via).toMatchObject({ transport: 'UDP', host: 'sip.site.example', port: a.address('udp').port });
    expect(via.branch).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(via.rport).toBe(true);
  });

  test('the URI chooses TCP with ;transport=tcp', async () => {
    const a = await stack();
    const b = await stack(new RecordingTu(200));
    const events = new RecordingClient();
    const tx = a.request(tuRequest('OPTIONS', 'sip:peer@127.0.0.1;transport=tcp'), b.address('tcp'), events);
    expect(tx.transport).toBe('tcp');
    await waitFor('the 200', () => events.responses.length === 1);
  });

  test('a CANCEL before any provisional is refused; after one it cancels the INVITE', async () => {
    const tu = new RecordingTu();
    const a = await stack();
    const b = await stack(tu);
    const events = new RecordingClient();
    const target = b.address('udp');
    const tx = a.request(tuRequest('INVITE'), target, events);
    const cancel: SipRequest = {
      ...tx.request,
      method: 'CANCEL',
      headers: tx.request.headers.map((h) => (h.name === 'CSeq' ? { name: 'CSeq', value: '1 CANCEL' } : h)),
    };
    await waitFor('the INVITE at b', () => tu.requests.length === 1);
    if (events.responses.length === 0) {
      expect(() => a.request(cancel, target, new RecordingClient())).toThrow(/provisional/);
    }
    await waitFor('the 100', () => events.responses.length >= 1);
    const cancelEvents = new RecordingClient();
    a.request(cancel, target, cancelEvents);
    await waitFor('the 200 to the CANCEL', () => cancelEvents.statuses().includes(200));
    const { invite, tx: serverTx } = tu.cancels[0]!;
    serverTx.respond(buildResponse(invite, 487, { toTag: 'b3' }));
    await waitFor('the 487', () => events.statuses().includes(487));
  });

  test('bad requests from the TU are refused, naming what is wrong', async () => {
    const a = await SipStack.start(
      { udp: { host: LOOPBACK, port: 0 }, log: silentLogger },
      new RecordingTu(),
    );
    open.push(a);
    expect(() => a.request(tuRequest('ACK'), a.address('udp'), new RecordingClient())).toThrow(/sendAck/);
    expect(() =>
      a.request(tuRequest('OPTIONS'), { ...a.address('udp'), transport: 'tcp' }, new RecordingClient()),
    ).toThrow(/no tcp transport/);
    expect(() => a.address('tcp')).toThrow(/no tcp transport/);
    const broken = tuRequest('OPTIONS');
    const withVia = {
      ...broken,
      headers: [
        { name: 'Via', value: 'SIP/2.0/UDP h;branch=z9hG4bKcr' },
        { name: 'Subject', value: 'a\r\nb' },
        ...broken.headers,
      ],
    };
    expect(() => a.request(withVia, a.address('udp'), new RecordingClient())).toThrow(/CR or LF/);
    expect(a.openTransactions.client).toBe(0);
    await expect(SipStack.start({ log: silentLogger }, new RecordingTu())).rejects.toThrow(DomainError);
  });

  test('a request to a closed TCP port is a transport error for its transaction', async () => {
    const a = await stack();
    const closed = await stack();
    const port = closed.address('tcp').port;
    await closed.close();
    const events = new RecordingClient();
    a.request(tuRequest('OPTIONS'), { host: LOOPBACK, port, transport: 'tcp' }, events);
    await waitFor('the transport error', () => events.transportErrors === 1);
    expect(a.openTransactions.client).toBe(0);
  });

  test('a TCP connection closed before the final is a transport error for the request on it', async () => {
    const a = await stack(undefined, silentLogger, true);
    const server = createServer((socket) => socket.once('data', () => socket.destroy()));
    await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
    open.push({ close: () => new Promise<void>((resolve) => server.close(() => resolve())) });
    const { port } = server.address() as AddressInfo;
    const events = new RecordingClient();
    a.request(tuRequest('INVITE'), { host: LOOPBACK, port, transport: 'tcp' }, events);
    // Timer B is 32 s away: only the close can end it within the test.
    await waitFor('the transport error', () => events.transportErrors === 1);
    expect(a.openTransactions.client).toBe(0);
  });

  test('after close, requests are refused and nothing is left running', async () => {
    const a = await stack();
    await a.close();
    expect(() => a.request(tuRequest('OPTIONS'), { host: LOOPBACK, port: 9 }, new RecordingClient())).toThrow(
      /closed/,
    );
  });
});

function buildBusy(invite: SipRequest): Buffer {
  const res = buildResponse(invite, 486, { toTag: 'busy' });
  const lines = [
    `SIP/2.0 486 Busy Here`,
    ...res.headers.map((h) => `${h.name}: ${h.value}`),
    'Content-Length: 0',
  ];
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
}

function buildResponseText(status: number, method: string, branch: string): string {
  return [
    `SIP/2.0 ${status} Whatever`,
    `Via: SIP/2.0/UDP 127.0.0.1:5060;branch=${branch}`,
    'From: <sip:a@127.0.0.1>;tag=1',
    'To: <sip:b@127.0.0.1>;tag=2',
    'Call-ID: stray@127.0.0.1',
    `CSeq: 1 ${method}`,
    '',
    '',
  ].join('\n');
}

test('a bound on server transactions that is not a whole number of at least 1 is refused, naming it', async () => {
  for (const bad of [0, 1.5, -3, Number.NaN]) {
    await expect(
      SipStack.start(
        { udp: { host: LOOPBACK, port: 0 }, maxServerTransactions: bad, log: silentLogger },
        new RecordingTu(),
      ),
    ).rejects.toThrow(/sip.maxServerTransactions/);
  }
});

test('a full table answers a new request 503 with Retry-After, and logs it once per source', async () => {
  const { log, lines } = capturingLogger();
  const tu = new RecordingTu();
  const s = await SipStack.start(
    { udp: { host: LOOPBACK, port: 0 }, timers: FAST_TIMERS, maxServerTransactions: 1, log },
    tu,
  );
  open.push(s);
  const p = await peer();
  await p.send(rawRequest('OPTIONS', p.port, 'z9hG4bKfull1', { callId: 'f1' }), s.address('udp'));
  await waitFor('the first taken', () => tu.requests.length === 1);
  await p.send(rawRequest('OPTIONS', p.port, 'z9hG4bKfull2', { callId: 'f2' }), s.address('udp'));
  await p.send(rawRequest('OPTIONS', p.port, 'z9hG4bKfull3', { callId: 'f3' }), s.address('udp'));
  await waitFor('two 503s', () => p.responses().filter((r) => r.status === 503).length === 2);
  expect(headerValue(p.responses()[0]!, 'Retry-After')).toBe('5');
  expect(s.counters().refused).toEqual({ overloaded: 2 });
  expect(lines.filter((l) => l['msg'] === 'SIP message refused')).toHaveLength(1);
});
