/**
 * A UDP relay on loopback that counts the RTP passing through it (rtp-count.ts), for tests and
 * benches whose peers are SIPp processes (SIPp 3.6.1 counts no RTP it receives). A scenario's
 * SDP names the meter's port instead of the peer's own media port (the `sdp_port` key of the
 * scenarios in test/sip/scenarios/), so the far end sends its media here; the meter forwards
 * each datagram to the peer's real media port. Datagrams coming back from that port (SIPp's
 * `-rtp_echo`) go to the last sender and are counted apart.
 */
import { createSocket, type Socket } from 'node:dgram';
import { RtpCounter, type RtpCountSummary } from './rtp-count.js';

export interface MeterTarget {
  host: string;
  port: number;
}

export class RtpMeter {
  /** What reached the meter from the senders (and was forwarded to the target). */
  readonly forward = new RtpCounter();
  /** What came back from the target (an echo), forwarded to the last sender. */
  readonly back = new RtpCounter();
  private lastSender: MeterTarget | undefined;
  /** Sees each datagram counted in `forward` (a test that must tell streams apart by content). */
  tap: ((msg: Buffer) => void) | undefined;

  private constructor(
    private readonly socket: Socket,
    readonly host: string,
    readonly port: number,
    /** Where to forward; may be set once the peer behind the meter has started. */
    public target: MeterTarget | undefined,
  ) {
    socket.on('message', (msg, from) => {
      const sender = `${from.address}:${from.port}`;
      if (this.target && from.port === this.target.port && from.address === this.target.host) {
        this.back.add(sender, msg);
        if (this.lastSender) socket.send(msg, this.lastSender.port, this.lastSender.host);
        return;
      }
      this.forward.add(sender, msg);
      this.tap?.(msg);
      this.lastSender = { host: from.address, port: from.port };
      if (this.target) socket.send(msg, this.target.port, this.target.host);
    });
    // A forward to a port nobody reads is refused by ICMP on loopback; that is the peer's
    // business, not the meter's, and must not end the process.
    socket.on('error', () => undefined);
  }

  /** Binds 127.0.0.1 on a free port; with `target`, forwards what it counts there. */
  static start(target?: MeterTarget, host = '127.0.0.1'): Promise<RtpMeter> {
    const socket = createSocket('udp4');
    return new Promise((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(0, host, () => {
        socket.off('error', reject);
        // A bench sends thousands of packets a second through one socket.
        socket.setRecvBufferSize(4 * 1024 * 1024);
        resolve(new RtpMeter(socket, host, socket.address().port, target));
      });
    });
  }

  summary(): { forward: RtpCountSummary; back: RtpCountSummary } {
    return { forward: this.forward.summary(), back: this.back.summary() };
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}
