/**
 * Test helpers for the transaction layer: a transaction user that records what it is told
 * (and answers as a test asks), a raw UDP peer that sends hand-written messages and keeps
 * what it receives, and builders for the requests the tests send.
 */
import { createSocket, type Socket } from 'node:dgram';
import { createLogger, type Logger } from '../../log.js';
import type { SipMessage, SipRequest, SipResponse } from '../message.js';
import { KEEP_ALIVE, parseSipMessage } from '../parse.js';
import { buildResponse } from '../response.js';
import type { SipAddress } from '../transport/types.js';
import type { ClientEvents, ServerTransaction, SipOrigin, TransactionUser } from './transaction-user.js';

export class RecordingTu implements TransactionUser {
  readonly requests: Array<{ request: SipRequest; tx: ServerTransaction }> = [];
  readonly acks: Array<{ ack: SipRequest; origin: SipOrigin }> = [];
  readonly cancels: Array<{ invite: SipRequest; tx: ServerTransaction }> = [];
  readonly strays: SipResponse[] = [];
  readonly failures: Array<{ request: SipRequest; reason: string }> = [];
  /** Answer each new request at once with this status (none: the test answers). */
  answer: number | undefined;

  constructor(answer?: number) {
    this.answer = answer;
  }

  onRequest(request: SipRequest, tx: ServerTransaction): void {
    this.requests.push({ request, tx });
    if (this.answer !== undefined) tx.respond(buildResponse(request, this.answer, { toTag: 'uas1' }));
  }
  onAck(ack: SipRequest, origin: SipOrigin): void {
    this.acks.push({ ack, origin });
  }
  onCancel(invite: SipRequest, tx: ServerTransaction): void {
    this.cancels.push({ invite, tx });
  }
  onStrayResponse(response: SipResponse): void {
    this.strays.push(response);
  }
  onServerFailure(request: SipRequest, reason: 'timeout' | 'transport-error'): void {
    this.failures.push({ request, reason });
  }
}

/** Client events recorded. */
export class RecordingClient implements ClientEvents {
  readonly responses: SipResponse[] = [];
  timeouts = 0;
  transportErrors = 0;
  onResponse(response: SipResponse): void {
    this.responses.push(response);
  }
  onTimeout(): void {
    this.timeouts++;
  }
  onTransportError(): void {
    this.transportErrors++;
  }
  statuses(): number[] {
    return this.responses.map((r) => r.status);
  }
}

/** A UDP socket speaking raw SIP text, keeping every message it receives. */
export class RawUdpPeer {
  readonly received: Array<{ bytes: Buffer; message: SipMessage | undefined }> = [];

  private constructor(
    private readonly socket: Socket,
    readonly port: number,
  ) {
    socket.on('message', (bytes) => {
      let message: SipMessage | undefined;
      try {
        const m = parseSipMessage(bytes);
        message = m === KEEP_ALIVE ? undefined : m;
      } catch {
        message = undefined;
      }
      this.received.push({ bytes, message });
    });
  }

  static async open(): Promise<RawUdpPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawUdpPeer(socket, socket.address().port);
  }

  send(text: string | Buffer, to: SipAddress): Promise<void> {
    const bytes = typeof text === 'string' ? wireText(text) : text;
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, to.port, to.host, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** The messages received that are responses, in order. */
  responses(): SipResponse[] {
    return this.received.flatMap((r) => (r.message?.kind === 'response' ? [r.message] : []));
  }

  requests(): SipRequest[] {
    return this.received.flatMap((r) => (r.message?.kind === 'request' ? [r.message] : []));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

/** Text with LF line ends to wire bytes (CRLF), Content-Length filled in. */
export function wireText(text: string): Buffer {
  const [head, body = ''] = text.split('\n\n');
  const lines = head!.split('\n').filter((l) => l !== '');
  if (!lines.some((l) => /^content-length:/i.test(l)))
    lines.push(`Content-Length: ${Buffer.byteLength(body)}`);
  return Buffer.from(`${lines.join('\r\n')}\r\n\r\n${body}`, 'utf8');
}

/** A request from a peer at 127.0.0.1:`port` with this branch. */
export function rawRequest(
  method: string,
  port: number,
  branch: string,
  opts: { cseq?: number; cseqMethod?: string; callId?: string; toTag?: string; transport?: string } = {},
): string {
  const to = `<sip:site@127.0.0.1>${opts.toTag ? `;tag=${opts.toTag}` : ''}`;
  return [
    `${method} sip:site@127.0.0.1 SIP/2.0`,
    `Via: SIP/2.0/${opts.transport ?? 'UDP'} 127.0.0.1:${port};branch=${branch};rport`,
    'Max-Forwards: 70',
    'From: <sip:peer@127.0.0.1>;tag=peer1',
    `To: ${to}`,
    `Call-ID: ${opts.callId ?? 'call-1@127.0.0.1'}`,
    `CSeq: ${opts.cseq ?? 1} ${opts.cseqMethod ?? method}`,
    '',
    '',
  ].join('\n');
}

/** A request the TU hands the stack (no Via: the stack adds it). */
export function tuRequest(method: string, uri = 'sip:peer@127.0.0.1', body = ''): SipRequest {
  return {
    kind: 'request',
    method,
    uri,
    headers: [
      { name: 'Max-Forwards', value: '70' },
      { name: 'From', value: '<sip:site@127.0.0.1>;tag=site1' },
      { name: 'To', value: '<sip:peer@127.0.0.1>' },
      { name: 'Call-ID', value: `${method.toLowerCase()}-${Math.random().toString(36).slice(2)}@127.0.0.1` },
      { name: 'CSeq', value: `1 ${method}` },
    ],
    body: Buffer.from(body),
  };
}

/** A logger that keeps its lines, to check that each refusal is logged once. */
export function capturingLogger(): { log: Logger; lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = [];
  const log = createLogger(
    {},
    { level: 'warn', write: (line) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  return { log, lines };
}

export const LOOPBACK = '127.0.0.1';
/** Short timers so that retransmission and timeouts happen within a test. */
export const FAST_TIMERS = { t1Ms: 20, t2Ms: 80, t4Ms: 100 };
