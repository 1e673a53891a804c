/**
 * SIP over TCP (RFC 3261 §18): a listening socket and the connections, both accepted and
 * opened by us. Each connection cuts its byte stream into messages with SipStreamFramer and
 * answers an RFC 5626 ping (CRLF CRLF) with one CRLF.
 *
 * - Requests we send reuse the open connection to their peer (`host:port`), one per peer;
 *   an accepted connection is also found by the address it came from.
 * - Responses go back on the connection their request came on (RFC 3261 §18.2.2); the
 *   transaction layer passes that connection, and the address to open a new one to if it
 *   has closed meanwhile.
 * - A connection with no traffic for `idleMs` is closed: a phone keeps its own open with
 *   pings, and a dead peer must not hold a slot forever.
 * - At most `maxConnections` are open at once; one more accepted is closed at once, and a
 *   send that would need one more fails (a transport error to its transaction).
 * - A stream that can no longer be framed is answered 400/413 where the head allows
 *   (framing-refusal.ts) and closed, logged once.
 * - Under attack (docs/sip.md "Under attack"): a message begun must be whole within
 *   `messageMs` (a byte now and then must not hold a slot for ever), and a peer that does not
 *   read has at most `maxPendingBytes` waiting for it; either closes the connection. Refusals
 *   are logged the first per source address and window, the rest counted into one line.
 */
import { createConnection, createServer, isIPv6, type Server, type Socket } from 'node:net';
import { DomainError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { serializeSipMessage } from '../serialize.js';
import { DEFAULT_MAX_MESSAGE_BYTES, SipStreamFramer } from '../stream.js';
import { WindowedLog } from '../../grpc/windowed-log.js';
import { framingRefusal } from './framing-refusal.js';
import { addressText, type SipAddress, type SipTransport, type SipTransportSink } from './types.js';

export interface TcpTransportOptions {
  /** Close a connection after this long without a byte either way. Default 5 minutes. */
  readonly idleMs?: number;
  /** Open connections at most, accepted and ours together. Default 1024. */
  readonly maxConnections?: number;
  /** The framer's bound on one message. Default 64 KiB. */
  readonly maxMessageBytes?: number;
  /**
   * A message begun must be whole within this long, else the connection is closed. Default
   * 32 s (64*T1). The idle timer alone would let a peer that sends a byte now and then hold a
   * connection (and its slot) for ever without completing a message.
   */
  readonly messageMs?: number;
  /**
   * Bytes written to a connection that the peer has not yet taken, at most. Default 1 MiB.
   * A peer that sends requests but never reads their responses would otherwise have us
   * buffer without bound; past this the connection is closed and the send fails.
   */
  readonly maxPendingBytes?: number;
  /** The refusal log's window per source address. Default 60 s. */
  readonly refusalLogWindowMs?: number;
}

const PONG = '\r\n';

interface Connection {
  readonly id: string;
  readonly socket: Socket;
  readonly peer: SipAddress;
  readonly framer: SipStreamFramer;
  /** The stream was refused: what still arrives before the close is ignored. */
  refused: boolean;
  /** Running while a message has begun and is not yet whole (messageMs). */
  messageTimer: NodeJS.Timeout | undefined;
}

export class TcpTransport implements SipTransport {
  readonly name = 'tcp';
  private readonly connections = new Map<string, Connection>();
  /** `host:port` of a peer -> its connection, for reuse. */
  private readonly byPeer = new Map<string, Connection>();
  /** Connections being opened, so two sends to one peer share one connection. */
  private readonly opening = new Map<string, Promise<Connection>>();
  private nextId = 1;
  private closed = false;
  private readonly idleMs: number;
  private readonly maxConnections: number;
  private readonly maxMessageBytes: number;
  private readonly messageMs: number;
  private readonly maxPendingBytes: number;
  /** Refusals, the first per source address and window written, the rest counted. */
  private readonly refusals: WindowedLog;

  private constructor(
    private readonly server: Server,
    readonly local: SipAddress,
    private readonly sink: SipTransportSink,
    private readonly log: Logger,
    opts: TcpTransportOptions,
  ) {
    this.idleMs = opts.idleMs ?? 300_000;
    this.maxConnections = opts.maxConnections ?? 1024;
    this.maxMessageBytes = opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.messageMs = opts.messageMs ?? 32_000;
    this.maxPendingBytes = opts.maxPendingBytes ?? 1_048_576;
    this.refusals = new WindowedLog(log, {
      summary: 'more sip tcp refusals',
      keyFields: (source) => ({ source }),
      windowMs: opts.refusalLogWindowMs ?? 60_000,
    });
  }

  /** Listen on `host:port` (port 0: any free port; read it from `local`). */
  static async listen(
    bind: SipAddress,
    sink: SipTransportSink,
    log: Logger,
    opts: TcpTransportOptions = {},
  ): Promise<TcpTransport> {
    for (const [field, v] of [
      ['idleMs', opts.idleMs],
      ['maxConnections', opts.maxConnections],
      ['maxMessageBytes', opts.maxMessageBytes],
      ['messageMs', opts.messageMs],
      ['maxPendingBytes', opts.maxPendingBytes],
      ['refusalLogWindowMs', opts.refusalLogWindowMs],
    ] as const) {
      if (v !== undefined && !(Number.isInteger(v) && v > 0)) {
        throw new DomainError('invalid-argument', `tcp.${field}: must be a positive whole number, not ${v}`, {
          field: `tcp.${field}`,
        });
      }
    }
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(bind.port, bind.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    const port = typeof address === 'object' && address !== null ? address.port : bind.port;
    const t = new TcpTransport(server, { host: bind.host, port }, sink, log, opts);
    server.on('connection', (socket) => t.accept(socket));
    server.on('error', (err) => log.warn('SIP TCP listener error', { err }));
    return t;
  }

  /**
   * Connections open and being opened: both hold a socket, so both count against the bound
   * (else concurrent sends to many peers, each seeing room, would all open one).
   */
  private inUse(): number {
    return this.connections.size + this.opening.size;
  }

  /** How many connections are open now. */
  get openConnections(): number {
    return this.connections.size;
  }

  async send(bytes: Buffer, to: SipAddress, connection?: string): Promise<string> {
    if (this.closed) throw new DomainError('unavailable', 'the SIP TCP transport is closed');
    const open = connection === undefined ? undefined : this.connections.get(connection);
    const conn = open ?? this.byPeer.get(addressText(to)) ?? (await this.connect(to));
    if (conn.socket.destroyed) {
      throw new DomainError('unavailable', `the SIP TCP connection to ${addressText(conn.peer)} is closed`);
    }
    const pending = conn.socket.writableLength;
    if (this.tooMuchPending(conn, bytes.length)) {
      throw new DomainError(
        'resource-exhausted',
        `the SIP TCP peer ${addressText(conn.peer)} has not taken ${pending} bytes: connection closed`,
      );
    }
    await new Promise<void>((resolve, reject) => {
      conn.socket.write(bytes, (err) => (err ? reject(err) : resolve()));
    });
    return conn.id;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.refusals.stop();
    // Resolves once every socket is really closed, ours included (the listener's close only
    // waits for the accepted ones), so a caller that awaits it leaves no handle behind.
    const closing = [new Promise<void>((resolve) => this.server.close(() => resolve()))];
    for (const c of this.connections.values()) {
      if (!c.socket.closed) closing.push(new Promise((resolve) => c.socket.once('close', () => resolve())));
      c.socket.destroy();
    }
    await Promise.all(closing);
  }

  private accept(socket: Socket): void {
    const peer = { host: socket.remoteAddress ?? '', port: socket.remotePort ?? 0 };
    if (this.closed) return void socket.destroy();
    if (this.inUse() >= this.maxConnections) {
      this.refuse(peer, 'too-many-connections', 'SIP TCP connection refused: too many open', {
        open: this.inUse(),
      });
      socket.destroy();
      return;
    }
    this.adopt(socket, peer);
  }

  private connect(to: SipAddress): Promise<Connection> {
    const key = addressText(to);
    const pending = this.opening.get(key);
    if (pending) return pending;
    if (this.inUse() >= this.maxConnections) {
      return Promise.reject(
        new DomainError(
          'resource-exhausted',
          `no SIP TCP connection to ${key}: ${this.maxConnections} are open or opening already`,
        ),
      );
    }
    const opening = new Promise<Connection>((resolve, reject) => {
      const socket = createConnection({ host: to.host, port: to.port, family: isIPv6(to.host) ? 6 : 4 });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        if (!this.closed) return resolve(this.adopt(socket, to));
        // Closed while connecting: this socket must not outlive the transport.
        socket.destroy();
        reject(new DomainError('unavailable', 'the SIP TCP transport is closed'));
      });
    }).finally(() => this.opening.delete(key));
    this.opening.set(key, opening);
    return opening;
  }

  private adopt(socket: Socket, peer: SipAddress): Connection {
    const conn: Connection = {
      id: `tcp-${this.nextId++}`,
      socket,
      peer,
      framer: new SipStreamFramer(this.maxMessageBytes),
      refused: false,
      messageTimer: undefined,
    };
    this.connections.set(conn.id, conn);
    this.byPeer.set(addressText(peer), conn);
    socket.setNoDelay(true);
    socket.setTimeout(this.idleMs, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.receive(conn, chunk));
    // A reset or a broken pipe ends the connection; whoever waits on it sees its send fail.
    socket.on('error', (err) => this.log.debug('SIP TCP connection error', { peer: addressText(peer), err }));
    socket.on('close', () => {
      clearTimeout(conn.messageTimer);
      this.connections.delete(conn.id);
      if (this.byPeer.get(addressText(peer)) === conn) this.byPeer.delete(addressText(peer));
      if (!this.closed) this.sink.onConnectionClosed(conn.id);
    });
    return conn;
  }

  private receive(conn: Connection, chunk: Buffer): void {
    if (conn.refused) return;
    const { items, close } = conn.framer.push(chunk);
    let pings = 0;
    for (const item of items) {
      if (item.kind === 'ping') {
        pings++;
        continue;
      }
      this.sink.onMessage({ bytes: item.bytes, transport: 'tcp', source: conn.peer, connection: conn.id });
    }
    // One write for a chunk's pongs, within the same bound as any send: a peer that pings
    // and never reads must not grow our buffer either.
    if (pings > 0 && !this.tooMuchPending(conn, 2 * pings)) conn.socket.write(PONG.repeat(pings));
    if (conn.socket.destroyed) return;
    if (!close) return this.watchPartial(conn, items.length > 0);
    conn.refused = true;
    clearTimeout(conn.messageTimer);
    const answer = framingRefusal(conn.framer.refusedBytes, close);
    this.refuse(conn.peer, 'framing', 'SIP TCP stream refused, connection closed', {
      reason: close.message,
      answered: answer?.status,
    });
    // Destroyed once the answer is flushed: the peer's further bytes have nowhere to go.
    const done = (): void => void conn.socket.destroy();
    if (answer) conn.socket.end(serializeSipMessage(answer), done);
    else conn.socket.end(done);
  }

  /**
   * A message begun must be whole within messageMs: the clock starts with its first byte and
   * restarts when a message completes with the next one begun behind it.
   */
  private watchPartial(conn: Connection, framed: boolean): void {
    const partial = conn.framer.partialBytes;
    if (partial === 0 || framed) {
      clearTimeout(conn.messageTimer);
      conn.messageTimer = undefined;
    }
    if (partial === 0 || conn.messageTimer) return;
    conn.messageTimer = setTimeout(() => {
      conn.refused = true;
      this.refuse(conn.peer, 'slow-message', 'SIP TCP message not whole in time, connection closed', {
        messageMs: this.messageMs,
        received: conn.framer.partialBytes,
      });
      conn.socket.destroy();
    }, this.messageMs);
  }

  /** Whether writing `more` bytes would pass maxPendingBytes; if so the connection is closed. */
  private tooMuchPending(conn: Connection, more: number): boolean {
    const pending = conn.socket.writableLength;
    if (pending + more <= this.maxPendingBytes) return false;
    this.refuse(conn.peer, 'not-reading', 'SIP TCP peer is not reading, connection closed', { pending });
    conn.socket.destroy();
    return true;
  }

  /** Counted by reason for the stack; logged, the first per source address and window. */
  private refuse(peer: SipAddress, reason: string, msg: string, fields: Record<string, unknown>): void {
    this.sink.onRefused(reason);
    this.refusals.note(peer.host, reason, () => this.log.warn(msg, { source: addressText(peer), ...fields }));
  }
}
