/**
 * What the SIP transports (UDP, TCP) have in common, and all the transaction layer sees of
 * them (RFC 3261 §18): whole messages in, each with where it came from, and bytes out to a
 * peer. Framing a stream, keep-alives and connection reuse stay inside the transport.
 */

export type SipTransportName = 'udp' | 'tcp';

export interface SipAddress {
  /** An IP address (the stack does no DNS), IPv6 without brackets. */
  readonly host: string;
  readonly port: number;
}

/** One received message's bytes (a datagram, or one frame cut from a stream). */
export interface SipInbound {
  readonly bytes: Buffer;
  readonly transport: SipTransportName;
  /** The packet's source: the peer's address, as the socket saw it. */
  readonly source: SipAddress;
  /** TCP: the connection it came on, where its responses go back (RFC 3261 §18.2.2). */
  readonly connection: string | undefined;
}

export interface SipTransport {
  readonly name: SipTransportName;
  /** The address the socket is bound to (the real port when 0 was asked for). */
  readonly local: SipAddress;
  /**
   * Send one message. Over TCP, on `connection` while it is open, else on the connection
   * to `to` (opened when there is none). Resolves with the TCP connection used (undefined
   * over UDP). Rejects when the bytes cannot be handed to the network: the transaction
   * layer turns that into a transport error.
   */
  send(bytes: Buffer, to: SipAddress, connection?: string): Promise<string | undefined>;
  /** Stop listening and close every socket; resolves once they are closed. */
  close(): Promise<void>;
}

/** Receives each whole message; `refused` counts what the transport itself turned away. */
export interface SipTransportSink {
  onMessage(inbound: SipInbound): void;
  onRefused(reason: string): void;
  /** A TCP connection closed (by the peer, an error or the idle timer), not by close(). */
  onConnectionClosed(connection: string): void;
}

/** `host:port`, IPv6 in brackets: the key of a peer, and how logs name it. */
export const addressText = (a: SipAddress): string =>
  a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
