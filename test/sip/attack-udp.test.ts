/**
 * Attacks on the site's SIP stack over UDP, on real sockets (127.0.0.1): random bytes,
 * truncated and oversized datagrams, a flood of distinct malformed requests, and a flood of
 * INVITEs the transaction user never answers. The stack must not crash, must keep answering a
 * good request, must keep its transaction table bounded, and a scanner must not be able to
 * fill the disk with refusal lines (docs/sip.md "Under attack").
 */
import { afterEach, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { waitFor } from '../support/wait.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import {
  capturingLogger,
  FAST_TIMERS,
  LOOPBACK,
  rawRequest,
  RawUdpPeer,
  RecordingTu,
  wireText,
} from '../../shared/sip/stack/testing.js';
import type { TransactionUser } from '../../shared/sip/stack/transaction-user.js';
import type { Logger } from '../../shared/log.js';
import { buildResponse } from '../../shared/sip/response.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((o) => o.close()));
});

async function stack(tu: TransactionUser, log: Logger, extra = {}): Promise<SipStack> {
  const s = await SipStack.start(
    { udp: { host: LOOPBACK, port: 0 }, timers: FAST_TIMERS, log, ...extra },
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

const refusedTotal = (s: SipStack): number => Object.values(s.counters().refused).reduce((a, b) => a + b, 0);

/** Send an OPTIONS and wait for its 200: the stack still works. */
async function stillAnswers(s: SipStack, p: RawUdpPeer, branch: string): Promise<void> {
  await p.send(rawRequest('OPTIONS', p.port, branch, { callId: `alive-${branch}` }), s.address('udp'));
  await waitFor('the 200 to a good OPTIONS', () =>
    p.responses().some((r) => r.status === 200 && r.headers.some((h) => h.value.includes(branch))),
  );
}

test('random bytes, truncations and a 65 KB datagram: refused, counted, and the stack still answers', async () => {
  const { log } = capturingLogger();
  const s = await stack(new RecordingTu(200), log);
  const p = await peer();
  const good = wireText(rawRequest('OPTIONS', p.port, 'z9hG4bKgood', { callId: 'trunc' }));
  const sent: Buffer[] = [];
  for (let i = 0; i < 50; i++) sent.push(randomBytes(1 + ((i * 37) % 1400)));
  for (let cut = 1; cut < good.length - 4; cut += 9) sent.push(good.subarray(0, cut));
  sent.push(
    Buffer.concat([
      good.subarray(0, good.length - 4),
      Buffer.from(`\r\nX-Big: ${'a'.repeat(65_000)}\r\n\r\n`),
    ]),
  );
  for (const b of sent) await p.send(b, s.address('udp'));
  await stillAnswers(s, p, 'z9hG4bKafter');
  // Every datagram was either refused or (a truncation that still reads) taken: none is lost unseen.
  await waitFor('each datagram seen', () => refusedTotal(s) + s.counters().received.requests >= sent.length);
});

test('a flood of distinct malformed requests from one source is answered, but logged a bounded number of times', async () => {
  const { log, lines } = capturingLogger();
  const s = await stack(new RecordingTu(200), log);
  const p = await peer();
  const flood = 300;
  for (let i = 0; i < flood; i++) {
    // Each one different (branch, Call-ID) and each one wrong (a CSeq method that is not the request's).
    await p.send(
      rawRequest('OPTIONS', p.port, `z9hG4bKf${i}`, { callId: `flood-${i}`, cseqMethod: 'BYE' }),
      s.address('udp'),
    );
    // Paced in batches: loopback UDP drops what overflows the socket's buffer, and this test
    // is about the log, not about loss.
    if (i % 25 === 24) await waitFor('the batch answered', () => p.responses().length === i + 1);
  }
  await waitFor(
    'every one answered 400',
    () => p.responses().filter((r) => r.status === 400).length === flood,
  );
  expect(s.counters().refused['malformed-request']).toBe(flood);
  const refusalLines = lines.filter((l) => l['msg'] === 'SIP message refused');
  expect(refusalLines).toHaveLength(1);
  expect(refusalLines[0]).toMatchObject({
    reason: 'malformed-request',
    source: expect.stringContaining('127.0.0.1'),
  });
  // The rest are summed up when the stack stops: none is lost from the log's count.
  await s.close();
  const summary = lines.find((l) => l['msg'] === 'more sip message refusals');
  expect(summary).toMatchObject({ source: '127.0.0.1', count: flood - 1 });
});

test('a flood of stray responses and bad branches is logged once per source', async () => {
  const { log, lines } = capturingLogger();
  const s = await stack(new RecordingTu(200), log);
  const p = await peer();
  for (let i = 0; i < 100; i++) {
    await p.send(
      `SIP/2.0 200 OK\nVia: SIP/2.0/UDP ${LOOPBACK}:${s.address('udp').port};branch=z9hG4bKforged${i}\nFrom: <sip:a@h>;tag=1\nTo: <sip:b@h>;tag=2\nCall-ID: stray${i}\nCSeq: 1 OPTIONS\n\n`,
      s.address('udp'),
    );
    await p.send(rawRequest('OPTIONS', p.port, `oldbranch${i}`, { callId: `old-${i}` }), s.address('udp'));
    if (i % 10 === 9) await waitFor('the batch counted', () => refusedTotal(s) === 2 * (i + 1));
  }
  await waitFor('all counted', () => refusedTotal(s) === 200);
  expect(lines.filter((l) => l['msg'] === 'SIP message refused')).toHaveLength(1);
});

test('a flood of INVITEs the transaction user never answers stays bounded: the rest get 503', async () => {
  const { log, lines } = capturingLogger();
  const tu = new RecordingTu(); // never answers
  const s = await stack(tu, log, { maxServerTransactions: 50 });
  const p = await peer();
  for (let i = 0; i < 120; i++) {
    await p.send(rawRequest('INVITE', p.port, `z9hG4bKinv${i}`, { callId: `inv-${i}` }), s.address('udp'));
    if (i % 20 === 19) await waitFor('the batch answered', () => p.responses().length === i + 1);
  }
  await waitFor('the 503s', () => p.responses().filter((r) => r.status === 503).length === 70);
  expect(s.openTransactions.server).toBe(50);
  expect(tu.requests).toHaveLength(50);
  expect(p.responses().find((r) => r.status === 503)?.headers).toContainEqual({
    name: 'Retry-After',
    value: expect.any(String),
  });
  expect(s.counters().refused['overloaded']).toBe(70);
  expect(lines.filter((l) => l['msg'] === 'SIP message refused')).toHaveLength(1);
  // A retransmission of one already in the table still reaches its transaction (its 100 again).
  const trying = p.responses().filter((r) => r.status === 100).length;
  await p.send(rawRequest('INVITE', p.port, 'z9hG4bKinv0', { callId: 'inv-0' }), s.address('udp'));
  await waitFor('the 100 again', () => p.responses().filter((r) => r.status === 100).length === trying + 1);
  // Once the TU answers, room frees up and new INVITEs are taken again.
  for (const { request, tx } of tu.requests) tx.respond(buildResponse(request, 486, { toTag: 'busy' }));
  await waitFor('the table drained', () => s.openTransactions.server < 50);
});

test('requests whose answers cannot go out over UDP (too large with their Vias copied) are logged a bounded number of times', async () => {
  const { log, lines } = capturingLogger();
  const tu = new RecordingTu();
  // Like the registrar's 401: a few hundred bytes of challenge on top of the copied Vias.
  tu.onRequest = (request, tx) =>
    tx.respond(
      buildResponse(request, 401, {
        toTag: 'chal',
        headers: [{ name: 'WWW-Authenticate', value: `Digest realm="x", nonce="${'n'.repeat(600)}"` }],
      }),
    );
  const s = await stack(tu, log);
  const p = await peer();
  const vias = Array.from(
    { length: 1040 },
    (_, i) => `Via: SIP/2.0/UDP 198.51.100.${i % 250}:5060;branch=z9hG4bKpadding${i}`,
  ).join('\n');
  for (let i = 0; i < 10; i++) {
    const req = rawRequest('OPTIONS', p.port, `z9hG4bKvias${i}`, { callId: `vias-${i}` }).replace(
      /\nMax-Forwards/,
      `\n${vias}\nMax-Forwards`,
    );
    const bytes = wireText(req);
    expect(bytes.length).toBeGreaterThan(64_000);
    expect(bytes.length).toBeLessThan(65_500);
    await p.send(bytes, s.address('udp'));
    await waitFor('the answer tried', () => tu.failures.length === i + 1);
  }
  expect(lines.filter((l) => l['msg'] === 'SIP send failed')).toHaveLength(1);
  // A request of ordinary size still gets its answer.
  await p.send(rawRequest('OPTIONS', p.port, 'z9hG4bKsmall', { callId: 'small' }), s.address('udp'));
  await waitFor('the 401', () => p.responses().some((r) => r.status === 401));
});
