/**
 * Attacks on the SIP stack's TCP transport, on real sockets (127.0.0.1): a slowloris that never
 * completes a message, a Content-Length promising more than is sent, pipelined requests with a
 * bad one in the middle, a peer that sends but never reads, and a flood of connections beyond
 * the cap. Connections must be released, buffers bounded, and the refusal lines bounded per
 * source (docs/sip.md "Under attack").
 */
import { afterEach, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import { waitFor } from '../support/wait.js';
import { SipStack } from '../../shared/sip/stack/sip-stack.js';
import { parseSipMessage } from '../../shared/sip/parse.js';
import { buildResponse } from '../../shared/sip/response.js';
import {
  capturingLogger,
  FAST_TIMERS,
  LOOPBACK,
  rawRequest,
  RecordingTu,
  wireText,
} from '../../shared/sip/stack/testing.js';
import type { TcpTransportOptions } from '../../shared/sip/transport/tcp-transport.js';
import type { Logger } from '../../shared/log.js';

const open: Array<{ close(): Promise<void> } | { destroy(): void }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if ('close' in o) await o.close();
    else o.destroy();
  }
});

async function stack(
  log: Logger,
  tcp: TcpTransportOptions = {},
  tu = new RecordingTu(200),
): Promise<SipStack> {
  const s = await SipStack.start({ tcp: { host: LOOPBACK, port: 0, ...tcp }, timers: FAST_TIMERS, log }, tu);
  open.push(s);
  return s;
}

interface Client {
  socket: Socket;
  data: () => string;
  closed: () => boolean;
}

async function client(port: number): Promise<Client> {
  const socket = connect({ host: LOOPBACK, port });
  open.push(socket);
  let data = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, data: () => data, closed: () => closed };
}

const options = (branch: string, port = 5060): Buffer =>
  wireText(rawRequest('OPTIONS', port, branch, { transport: 'TCP', callId: `c-${branch}` }));

test('slowloris: a message trickled a byte at a time, never whole, is cut off after messageMs', async () => {
  const { log, lines } = capturingLogger();
  // The idle timer alone never fires: a byte arrives well within each idleMs.
  const s = await stack(log, { idleMs: 2_000, messageMs: 300 });
  const c = await client(s.address('tcp').port);
  const msg = options('z9hG4bKslow');
  let i = 0;
  const drip = setInterval(() => {
    if (!c.closed() && i < msg.length - 10) c.socket.write(msg.subarray(i, ++i));
  }, 20);
  try {
    await waitFor('the connection closed', () => c.closed());
  } finally {
    clearInterval(drip);
  }
  expect(i).toBeLessThan(msg.length - 10);
  expect(s.counters().refused['slow-message']).toBe(1);
  expect(lines.filter((l) => String(l['msg']).includes('not whole in time'))).toHaveLength(1);
});

test('a connection that only pings, and one that completes its messages, are not cut off', async () => {
  const { log } = capturingLogger();
  const s = await stack(log, { idleMs: 5_000, messageMs: 200 });
  const c = await client(s.address('tcp').port);
  for (let n = 0; n < 6; n++) {
    c.socket.write('\r\n\r\n');
    c.socket.write(options(`z9hG4bKok${n}`));
    await waitFor('the 200', () => (c.data().match(/SIP\/2.0 200/g) ?? []).length === n + 1);
  }
  // Longer than messageMs has passed in all, with no message left half-sent: still open.
  await new Promise<void>((resolve) => c.socket.write('\r\n\r\n', () => resolve()));
  await waitFor('the pongs', () => c.data().endsWith('\r\n'));
  expect(c.closed()).toBe(false);
  expect(s.counters().refused).toEqual({});
});

test('a Content-Length larger than what is sent, then a close: nothing delivered, connection released', async () => {
  const { log } = capturingLogger();
  const tu = new RecordingTu(200);
  const s = await stack(log, {}, tu);
  const c = await client(s.address('tcp').port);
  const full = options('z9hG4bKshort');
  const text = full.toString('latin1').replace('Content-Length: 0', 'Content-Length: 5000');
  c.socket.end(Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('only a little')]));
  await waitFor('the connection gone', () => c.closed());
  expect(tu.requests).toHaveLength(0);
  // The stack still takes a fresh connection's request.
  const d = await client(s.address('tcp').port);
  d.socket.write(options('z9hG4bKafter'));
  await waitFor('the 200', () => d.data().includes('SIP/2.0 200'));
});

test('pipelined requests with a bad one in the middle: those before answered, the bad one 400, then closed', async () => {
  const { log } = capturingLogger();
  const tu = new RecordingTu(200);
  const s = await stack(log, {}, tu);
  const c = await client(s.address('tcp').port);
  const bad = rawRequest('OPTIONS', 5060, 'z9hG4bKbad', { transport: 'TCP', callId: 'bad' }).replace(
    /\n/g,
    '\r\n',
  );
  c.socket.write(
    Buffer.concat([options('z9hG4bKp1'), options('z9hG4bKp2'), Buffer.from(bad), options('z9hG4bKp3')]),
  );
  await waitFor('the close', () => c.closed());
  expect(tu.requests.map((r) => r.request.headers.find((h) => h.name === 'Call-ID')?.value)).toEqual([
    'c-z9hG4bKp1',
    'c-z9hG4bKp2',
  ]);
  const statuses = c.data().match(/^SIP\/2\.0 (\d+)/gm);
  expect(statuses).toEqual(['SIP/2.0 200', 'SIP/2.0 200', 'SIP/2.0 400']);
  expect(s.counters().refused).toEqual({ framing: 1 });
});

test('a peer that sends requests but never reads the answers: bounded buffering, then closed', async () => {
  const { log, lines } = capturingLogger();
  // Each answer is large (an OPTIONS 200 with a 30 KB body), so the kernel's buffers fill soon.
  const tu = new RecordingTu();
  tu.onRequest = (request, tx) =>
    tx.respond(buildResponse(request, 200, { toTag: 'big', body: Buffer.alloc(30_000, 0x61) }));
  const s = await stack(log, { maxPendingBytes: 256 * 1024 }, tu);
  const c = await client(s.address('tcp').port);
  c.socket.pause(); // never reads: the kernel's buffers fill, then ours would
  const batch = Buffer.concat(Array.from({ length: 200 }, (_, i) => options(`z9hG4bKnr${i}`)));
  let sent = 0;
  const gaveUp = (): boolean => (s.counters().refused['not-reading'] ?? 0) > 0;
  // Written until the stack gives up on us (or a generous cap, to fail rather than hang). The
  // paused client would not see the close itself: the stack's count says it.
  while (!gaveUp() && sent < 20_000_000) {
    await new Promise<void>((resolve) => c.socket.write(batch, () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
    sent += batch.length;
  }
  await waitFor('the stack gave up on the peer', gaveUp);
  expect(s.counters().refused['not-reading']).toBe(1);
  expect(lines.filter((l) => String(l['msg']).includes('not reading'))).toHaveLength(1);
  // Far fewer answered than sent: the rest died with the connection.
  expect(s.counters().sent.responses).toBeLessThan((sent / batch.length) * 200);
});

test('a flood of connections beyond the cap: refused at once, one line per source', async () => {
  const { log, lines } = capturingLogger();
  const s = await stack(log, { maxConnections: 2 });
  await client(s.address('tcp').port);
  await client(s.address('tcp').port);
  const extra = await Promise.all(Array.from({ length: 40 }, () => client(s.address('tcp').port)));
  await waitFor('all extra closed', () => extra.every((c) => c.closed()));
  expect(s.counters().refused['too-many-connections']).toBe(40);
  expect(lines.filter((l) => String(l['msg']).includes('too many open'))).toHaveLength(1);
});

test('framing refusals on many connections from one source: one line, each still answered', async () => {
  const { log, lines } = capturingLogger();
  const s = await stack(log);
  const noLength = rawRequest('OPTIONS', 5060, 'z9hG4bKnolen', { transport: 'TCP' }).replace(/\n/g, '\r\n');
  for (let i = 0; i < 20; i++) {
    const c = await client(s.address('tcp').port);
    c.socket.write(noLength);
    await waitFor('the close', () => c.closed());
    const res = parseSipMessage(Buffer.from(c.data(), 'latin1'), 'stream');
    expect(res).toMatchObject({ status: 400 });
  }
  expect(s.counters().refused['framing']).toBe(20);
  expect(lines.filter((l) => String(l['msg']).includes('stream refused'))).toHaveLength(1);
});

test('a peer that pings and never reads the pongs: bounded buffering, then closed', async () => {
  const { log, lines } = capturingLogger();
  const s = await stack(log, { maxPendingBytes: 64 * 1024 });
  const c = await client(s.address('tcp').port);
  c.socket.pause();
  const pings = Buffer.from('\r\n\r\n'.repeat(16_384));
  const gaveUp = (): boolean => (s.counters().refused['not-reading'] ?? 0) > 0;
  let sent = 0;
  while (!gaveUp() && sent < 50_000_000) {
    await new Promise<void>((resolve) => c.socket.write(pings, () => resolve()));
    await new Promise<void>((resolve) => setImmediate(resolve));
    sent += pings.length;
  }
  await waitFor('the stack gave up on the peer', gaveUp);
  expect(lines.filter((l) => String(l['msg']).includes('not reading'))).toHaveLength(1);
});
