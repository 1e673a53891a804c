/**
 * The TCP transport on real sockets (127.0.0.1): framing across writes, pings, connection
 * reuse, responses on the request's connection, the idle close, the connection bound, and
 * a stream refused with a 400/413 before the close.
 */
import { afterEach, expect, test } from 'vitest';
import { connect, type Socket } from 'node:net';
import { waitFor } from '../../../test/support/wait.js';
import { silentLogger } from '../../log.js';
import { parseSipMessage } from '../parse.js';
import type { SipResponse } from '../message.js';
import { capturingLogger, rawRequest, wireText } from '../stack/testing.js';
import { TcpTransport } from './tcp-transport.js';
import type { SipInbound, SipTransportSink } from './types.js';

const open: Array<{ close(): Promise<void> } | { destroy(): void }> = [];
afterEach(async () => {
  for (const o of open.splice(0)) {
    if ('close' in o) await o.close();
    else o.destroy();
  }
});

class Sink implements SipTransportSink {
  readonly messages: SipInbound[] = [];
  readonly refused: string[] = [];
  onMessage(m: SipInbound): void {
    this.messages.push(m);
  }
  readonly closed: string[] = [];
  onRefused(reason: string): void {
    this.refused.push(reason);
  }
  onConnectionClosed(connection: string): void {
    this.closed.push(connection);
  }
}

async function listen(sink = new Sink(), opts = {}, log = silentLogger): Promise<TcpTransport> {
  const t = await TcpTransport.listen({ host: '127.0.0.1', port: 0 }, sink, log, opts);
  open.push(t);
  return t;
}

/** A raw client connection that keeps what it receives. */
async function client(port: number): Promise<{ socket: Socket; data: () => string; closed: () => boolean }> {
  const socket = connect({ host: '127.0.0.1', port });
  open.push(socket);
  let data = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (data += d.toString('latin1')));
  socket.on('close', () => (closed = true));
  socket.on('error', () => {});
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, data: () => data, closed: () => closed };
}

const options = (branch: string): Buffer =>
  wireText(rawRequest('OPTIONS', 5060, branch, { transport: 'TCP' }));

test('a message split across many writes is one message; two in one write are two', async () => {
  const sink = new Sink();
  const t = await listen(sink);
  const c = await client(t.local.port);
  const one = options('z9hG4bKsplit');
  for (let i = 0; i < one.length; i += 7) {
    c.socket.write(one.subarray(i, i + 7));
    await new Promise((r) => setImmediate(r));
  }
  await waitFor('the split message', () => sink.messages.length === 1);
  expect(sink.messages[0]!.bytes.equals(one)).toBe(true);
  c.socket.write(Buffer.concat([options('z9hG4bKtwo1'), options('z9hG4bKtwo2')]));
  await waitFor('both messages', () => sink.messages.length === 3);
  expect(sink.messages.map((m) => m.connection)).toEqual(Array(3).fill(sink.messages[0]!.connection));
  expect(sink.messages[0]!.transport).toBe('tcp');
});

test('a CRLFCRLF ping is answered with one CRLF', async () => {
  const sink = new Sink();
  const t = await listen(sink);
  const c = await client(t.local.port);
  c.socket.write('\r\n\r\n');
  await waitFor('the pong', () => c.data() === '\r\n');
  expect(sink.messages).toHaveLength(0);
  // Many pings keep the connection's pending bytes empty; a message after them still frames.
  for (let i = 0; i < 50; i++) c.socket.write('\r\n\r\n');
  c.socket.write(options('z9hG4bKafterpings'));
  await waitFor('the message', () => sink.messages.length === 1);
});

test('responses ride the connection the request came on; requests reuse one connection per peer', async () => {
  const serverSink = new Sink();
  const server = await listen(serverSink);
  const clientSink = new Sink();
  const other = await listen(clientSink);
  await other.send(options('z9hG4bKreuse1'), server.local);
  await other.send(options('z9hG4bKreuse2'), server.local);
  await waitFor('both requests', () => serverSink.messages.length === 2);
  expect(other.openConnections).toBe(1);
  expect(await other.send(options('z9hG4bKreuse3'), server.local)).toMatch(/^tcp-/);
  const [first] = serverSink.messages;
  // Answered on the request's connection, whatever address is given.
  await server.send(
    Buffer.from('SIP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n'),
    { host: '127.0.0.1', port: 1 },
    first!.connection,
  );
  await waitFor('the response', () => clientSink.messages.length === 1);
  expect(server.openConnections).toBe(1);
});

test('a connection idle for idleMs is closed, and the close reported', async () => {
  const sink = new Sink();
  const t = await listen(sink, { idleMs: 50 });
  const c = await client(t.local.port);
  await waitFor('the close', () => c.closed());
  await waitFor('forgotten', () => t.openConnections === 0);
  await waitFor('reported', () => sink.closed.length === 1);
});

test('one connection over maxConnections is closed at once, and a send needing one fails', async () => {
  const sink = new Sink();
  const { log, lines } = capturingLogger();
  const t = await listen(sink, { maxConnections: 1 }, log);
  await client(t.local.port);
  await waitFor('the first accepted', () => t.openConnections === 1);
  const second = await client(t.local.port);
  await waitFor('the second closed', () => second.closed());
  expect(sink.refused).toEqual(['too-many-connections']);
  expect(lines).toHaveLength(1);
  await expect(t.send(options('z9hG4bKfull'), { host: '127.0.0.1', port: 9 })).rejects.toThrow(/1 are open/);
});

test('a message over the size limit is answered 413 and the connection closed, logged once', async () => {
  const sink = new Sink();
  const { log, lines } = capturingLogger();
  const t = await listen(sink, { maxMessageBytes: 600 }, log);
  const c = await client(t.local.port);
  const big = wireText(rawRequest('MESSAGE', 5060, 'z9hG4bKbig', { transport: 'TCP' }) + 'x'.repeat(700));
  c.socket.write(Buffer.concat([options('z9hG4bKbefore'), big]));
  await waitFor('the close', () => c.closed());
  const res = parseSipMessage(Buffer.from(c.data(), 'latin1'), 'stream') as SipResponse;
  expect(res.status).toBe(413);
  expect(res.reason).toContain('stream');
  expect(sink.messages).toHaveLength(1); // the message before still arrived
  expect(sink.refused).toEqual(['framing']);
  expect(lines).toHaveLength(1);
});

test('a frame without Content-Length is answered 400 naming it; a broken head gets no answer', async () => {
  const t = await listen();
  const c = await client(t.local.port);
  const noLength = rawRequest('OPTIONS', 5060, 'z9hG4bKnolen', { transport: 'TCP' }).replace(/\n/g, '\r\n');
  c.socket.write(noLength);
  await waitFor('the close', () => c.closed());
  const res = parseSipMessage(Buffer.from(c.data(), 'latin1'), 'stream') as SipResponse;
  expect(res.status).toBe(400);
  expect(res.reason).toContain('Content-Length');

  const d = await client(t.local.port);
  d.socket.write('GARBAGE\r\nContent-Length: x\r\n\r\n');
  await waitFor('the close', () => d.closed());
  expect(d.data()).toBe('');
});

test('a send to a port nobody listens on rejects; after close, sends reject', async () => {
  const t = await listen();
  const gone = await listen();
  const port = gone.local.port;
  await gone.close();
  await expect(t.send(options('z9hG4bKrefused'), { host: '127.0.0.1', port })).rejects.toThrow();
  await t.close();
  await expect(t.send(options('z9hG4bKclosed'), { host: '127.0.0.1', port })).rejects.toThrow(/closed/);
});

test('bad options are refused, naming the field', async () => {
  await expect(
    TcpTransport.listen({ host: '127.0.0.1', port: 0 }, new Sink(), silentLogger, { idleMs: 0 }),
  ).rejects.toThrow(/tcp.idleMs/);
});

test('a connection still opening when the transport closes is closed too', async () => {
  const t = await listen();
  const peerSink = new Sink();
  const peer = await listen(peerSink);
  const sending = t.send(options('z9hG4bKracing'), peer.local);
  await t.close();
  await expect(sending).rejects.toThrow(/closed/);
  expect(t.openConnections).toBe(0);
  expect(peerSink.messages).toHaveLength(0);
});

test('connections still opening count against maxConnections: concurrent sends to many peers cannot pass it', async () => {
  const t = await listen(new Sink(), { maxConnections: 2 });
  const peers = await Promise.all(Array.from({ length: 5 }, () => listen()));
  const sends = await Promise.allSettled(peers.map((p, i) => t.send(options(`z9hG4bKmany${i}`), p.local)));
  expect(sends.filter((s) => s.status === 'fulfilled')).toHaveLength(2);
  expect(t.openConnections).toBe(2);
});
