/**
 * SIP over UDP (RFC 3261 §18): one socket, bound to the configured address, that both
 * listens and sends, so that a peer's responses and requests reach the port our Via names.
 * Each datagram is one message; a datagram of only CRLFs (an RFC 5626 keep-alive) is passed
 * on like any other and the parser reports it as such.
 *
 * Sizes: RFC 3261 §18.1.1 wants a request over 1300 bytes sent over TCP. The transaction
 * layer decides that (it knows whether a TCP transport exists); this socket sends what it
 * is given.
 */
import { createSocket, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { DomainError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { SipAddress, SipTransport, SipTransportSink } from './types.js';

export class UdpTransport implements SipTransport {
  readonly name = 'udp';
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly local: SipAddress,
  ) {}

  /** Bind to `host:port` (port 0: any free port; read it from `local`). */
  static async bind(bind: SipAddress, sink: SipTransportSink, log: Logger): Promise<UdpTransport> {
    const socket = createSocket({ type: isIPv6(bind.host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(bind.port, bind.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    // After binding, a socket error (rare on UDP: a send error arrives in its callback) is
    // logged and the socket kept: one bad destination must not stop the site's SIP.
    socket.on('error', (err) => log.warn('SIP UDP socket error', { err }));
    socket.on('message', (bytes, rinfo) =>
      sink.onMessage({
        bytes,
        transport: 'udp',
        source: { host: rinfo.address, port: rinfo.port },
        connection: undefined,
      }),
    );
    const { address, port } = socket.address();
    return new UdpTransport(socket, { host: address, port });
  }

  send(bytes: Buffer, to: SipAddress): Promise<undefined> {
    if (this.closed) return Promise.reject(new DomainError('unavailable', 'the SIP UDP socket is closed'));
    return new Promise((resolve, reject) => {
      this.socket.send(bytes, to.port, to.host, (err) => (err ? reject(err) : resolve(undefined)));
    });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.closed = true;
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
