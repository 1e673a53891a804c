/**
 * The SIP transaction layer on the wire (RFC 3261 §17-18): the transports below, the four
 * pure transaction machines (shared/sip/transaction/) run here, the transaction user above.
 * docs/sip.md "Transports" and "The transaction layer" say what it does; in short:
 *
 * - every received message is parsed; a malformed request is answered 400 (or 505) naming
 *   the problem, a malformed response dropped, each refusal counted and logged (the first
 *   per source address in a window; docs/sip.md "Under attack");
 * - a new request when the server transaction table is full is answered 503 statelessly;
 * - a request is stamped (Via received/rport), matched to its server transaction (a
 *   retransmission goes to the machine, never to the TU) or starts one; an ACK matching
 *   none goes to `onAck`; a CANCEL is answered here (200, or 481) and told as `onCancel`;
 * - a response goes to its client transaction; a 2xx to an INVITE whose transaction is gone
 *   goes to `onStrayResponse`; any other unmatched response is dropped;
 * - the machines' commands are carried out by transaction-runner.ts.
 */
import { randomBytes } from 'node:crypto';
import { DomainError, failedPrecondition, invalidArgument } from '../../errors.js';
import type { Logger } from '../../log.js';
import { RealScheduler, type Scheduler } from '../../scheduler.js';
import { cseq } from '../headers.js';
import { headerValue, type SipRequest, type SipResponse } from '../message.js';
import { KEEP_ALIVE, parseSipMessage } from '../parse.js';
import { isSipParseError } from '../parse-error.js';
import { buildResponse, responseToParseError } from '../response.js';
import { serializeSipMessage } from '../serialize.js';
import {
  branchFor,
  cancelledKey,
  clientKeyOfRequest,
  clientKeyOfResponse,
  isRfc3261Branch,
  serverKeyOfRequest,
} from '../transaction/matching.js';
import { compileTimerOptions, type TimerOptions } from '../transaction/timers.js';
import { isSuccess, type TxRequest } from '../transaction/types.js';
import { TcpTransport, type TcpTransportOptions } from '../transport/tcp-transport.js';
import {
  addressText,
  type SipAddress,
  type SipInbound,
  type SipTransport,
  type SipTransportName,
} from '../transport/types.js';
import { UdpTransport } from '../transport/udp-transport.js';
import { WindowedLog } from '../../grpc/windowed-log.js';
import { copyCounters, newCounters, type SipStackCounters } from './counters.js';
import { Machine } from './machine.js';
import {
  held,
  TransactionRunner,
  type ClientRecord,
  type Held,
  type ServerRecord,
} from './transaction-runner.js';
import type { ClientEvents, ClientTransaction, SipTarget, TransactionUser } from './transaction-user.js';
import { ourVia, stampVia, topVia, uriTransport, withTopVia } from './via.js';

/** RFC 3261 §18.1.1: a request this much larger goes over TCP when we have it. */
export const UDP_REQUEST_LIMIT_BYTES = 1300;

export const DEFAULT_MAX_SERVER_TRANSACTIONS = 10_000;

/** What a client told 503 for a full table waits before trying again (RFC 3261 §21.5.4). */
const OVERLOAD_RETRY_AFTER_S = 5;

export interface SipStackOptions {
  /** Where to bind UDP (port 0 in tests). At least one of `udp` and `tcp`. */
  readonly udp?: SipAddress;
  readonly tcp?: SipAddress & TcpTransportOptions;
  /** The host our Via names (the address peers reach us at); default the bound host. */
  readonly viaHost?: string;
  readonly timers?: Partial<TimerOptions>;
  /**
   * Server transactions open at most (default 10,000). A new request beyond it is answered
   * 503 with Retry-After, statelessly: a flood of requests the TU is slow to answer (or of
   * INVITEs whose final waits 64*T1 for an ACK that never comes) must not grow the table
   * without bound. Retransmissions still reach their transactions.
   */
  readonly maxServerTransactions?: number;
  /** The refusal log's window per source address (default 60 s, as the INVITE gate's). */
  readonly refusalLogWindowMs?: number;
  readonly scheduler?: Scheduler;
  readonly log: Logger;
}

const token = (): string => randomBytes(8).toString('hex');

export class SipStack {
  private readonly runner: TransactionRunner;
  private readonly stats = newCounters();
  private readonly transports = new Map<SipTransportName, SipTransport>();
  private readonly timerOptions: TimerOptions;
  private readonly scheduler: Scheduler;
  private readonly log: Logger;
  private readonly refusalLog: WindowedLog;
  private readonly sendFailures: WindowedLog;
  private readonly maxServerTransactions: number;
  private closed = false;

  private constructor(
    private readonly opts: SipStackOptions,
    private readonly tu: TransactionUser,
  ) {
    this.timerOptions = compileTimerOptions(opts.timers);
    this.scheduler = opts.scheduler ?? new RealScheduler();
    this.log = opts.log;
    this.maxServerTransactions = opts.maxServerTransactions ?? DEFAULT_MAX_SERVER_TRANSACTIONS;
    // A scanner's flood of bad packets must not fill the disk: the first refusal from an
    // address in a window is written, the rest counted into one line per window.
    this.refusalLog = new WindowedLog(this.log, {
      summary: 'more sip message refusals',
      keyFields: (source) => ({ source }),
      windowMs: opts.refusalLogWindowMs ?? 60_000,
      clock: this.scheduler,
    });
    this.sendFailures = new WindowedLog(this.log, {
      summary: 'more sip send failures',
      keyFields: (to) => ({ to }),
      windowMs: opts.refusalLogWindowMs ?? 60_000,
      clock: this.scheduler,
    });
    this.runner = new TransactionRunner({
      scheduler: this.scheduler,
      log: this.log,
      stats: this.stats,
      tu,
      transportOf: (name) => this.transportOf(name),
      isClosed: () => this.closed,
      onCancel: (record) => this.cancel(record),
      sendFailed: (to, err) => this.sendFailed(to, err),
    });
  }

  /** Bind the transports and start taking messages for `tu`. */
  static async start(opts: SipStackOptions, tu: TransactionUser): Promise<SipStack> {
    if (!opts.udp && !opts.tcp) throw invalidArgument('sip', 'needs a udp or a tcp address to listen on');
    const max = opts.maxServerTransactions;
    if (max !== undefined && !(Number.isInteger(max) && max >= 1)) {
      throw invalidArgument('sip.maxServerTransactions', `must be a whole number of at least 1, got ${max}`);
    }
    const stack = new SipStack(opts, tu);
    const sink = {
      onMessage: (m: SipInbound) => stack.receive(m),
      onRefused: (reason: string) => stack.refused(reason),
      onConnectionClosed: (connection: string) => stack.runner.connectionClosed(connection),
    };
    try {
      if (opts.udp) stack.transports.set('udp', await UdpTransport.bind(opts.udp, sink, opts.log));
      if (opts.tcp)
        stack.transports.set('tcp', await TcpTransport.listen(opts.tcp, sink, opts.log, opts.tcp));
    } catch (e) {
      await stack.close();
      throw e;
    }
    return stack;
  }

  /** The bound address of a transport (the real port when 0 was asked for). */
  address(transport: SipTransportName): SipAddress {
    const t = this.transports.get(transport);
    if (!t) throw failedPrecondition(`this SIP stack has no ${transport} transport`);
    return t.local;
  }

  counters(): SipStackCounters {
    return copyCounters(this.stats);
  }

  /** Open transactions (tests and stats). */
  get openTransactions(): { server: number; client: number } {
    return { server: this.runner.servers.size, client: this.runner.clients.size };
  }

  /**
   * Send a request in a new client transaction. A request without Via gets ours (new
   * branch, rport); one with a Via keeps it: a CANCEL carries its INVITE's (RFC 3261 §9.1).
   * The transport is `target.transport`, else the URI's `;transport=`, else UDP; a UDP
   * request over 1300 bytes goes over TCP when the stack has it (RFC 3261 §18.1.1).
   */
  request(req: SipRequest, target: SipTarget, events: ClientEvents): ClientTransaction {
    this.checkOpen();
    if (req.method === 'ACK') {
      throw invalidArgument('request.method', 'an ACK has no transaction: send it with sendAck');
    }
    const asked = target.transport ?? uriTransport(req.uri);
    let transport: SipTransportName = asked ?? 'udp';
    let sent = req;
    let branch: string;
    if (headerValue(req, 'Via') !== undefined) {
      branch = topVia(req).branch ?? '';
      transport = asked ?? (topVia(req).transport === 'TCP' ? 'tcp' : 'udp');
    } else {
      branch = branchFor(token());
      sent = withTopVia(req, ourVia(transport, this.sentBy(transport), branch));
      const large = serializeSipMessage(sent).length > UDP_REQUEST_LIMIT_BYTES;
      if (transport === 'udp' && asked === undefined && large && this.transports.has('tcp')) {
        transport = 'tcp';
        sent = withTopVia(req, ourVia(transport, this.sentBy(transport), branch));
      }
    }
    this.transportOf(transport);
    const key = clientKeyOfRequest({ branch, method: req.method });
    if (this.runner.clients.has(key)) {
      throw new DomainError(
        'already-exists',
        `a ${req.method} transaction with branch ${branch} is running`,
        {
          field: 'Via.branch',
        },
      );
    }
    const invite =
      req.method === 'CANCEL'
        ? this.runner.clients.get(clientKeyOfRequest({ branch, method: 'INVITE' }))
        : undefined;
    if (invite?.machine.stateName === 'calling') {
      throw failedPrecondition(
        'a CANCEL may only follow a provisional response to its INVITE (RFC 3261 §9.1)',
      );
    }
    // Serialized before the transaction exists: a request that cannot be written (a CR in a
    // value) is refused with nothing started.
    const handle = held(sent);
    handle.bytes = serializeSipMessage(sent);
    const { machine, commands } = Machine.start<Held>(
      'client',
      { method: req.method, branch, sentBy: '', handle },
      { reliable: transport === 'tcp', timers: this.timerOptions },
      this.scheduler.now(),
    );
    const record: ClientRecord = {
      side: 'client',
      key,
      machine,
      timers: new Map(),
      generated: undefined,
      target,
      transport,
      events,
      connection: undefined,
    };
    this.runner.add(record, commands);
    if (invite && invite.machine.stateName !== 'terminated')
      this.runner.step(invite, { type: 'cancel-sent' });
    return { request: sent, branch, transport };
  }

  /**
   * Send an ACK to a 2xx (or any request outside a transaction) straight to the transport
   * (RFC 3261 §13.2.2.4). It gets our Via with a new branch unless it has one.
   */
  async sendAck(ack: SipRequest, target: SipTarget): Promise<void> {
    this.checkOpen();
    const transport = target.transport ?? uriTransport(ack.uri) ?? 'udp';
    const sent =
      headerValue(ack, 'Via') !== undefined
        ? ack
        : withTopVia(ack, ourVia(transport, this.sentBy(transport), branchFor(token())));
    this.stats.sent.requests++;
    await this.transportOf(transport).send(serializeSipMessage(sent), target);
  }

  /** Stop every timer and close the sockets. Transactions still open are dropped unreported. */
  async close(): Promise<void> {
    this.closed = true;
    this.runner.clear();
    this.refusalLog.stop();
    this.sendFailures.stop();
    await Promise.all([...this.transports.values()].map((t) => t.close()));
  }

  // --- receiving ---------------------------------------------------------------------------

  private receive(m: SipInbound): void {
    if (this.closed) return;
    let msg;
    try {
      msg = parseSipMessage(m.bytes, m.transport === 'udp' ? 'datagram' : 'stream');
    } catch (e) {
      if (!isSipParseError(e)) throw e;
      const request = e.disposition === 'answer' && e.request?.method !== 'ACK';
      this.refuse(request ? 'malformed-request' : 'malformed-message', m, e.message);
      const answer = request ? responseToParseError(e, { toTag: token() }) : undefined;
      // Back where the packet came from: its Via may be the very thing that is wrong.
      if (answer) this.sendRefusal(answer, m);
      return;
    }
    if (msg === KEEP_ALIVE) return;
    if (msg.kind === 'response') this.receiveResponse(msg, m);
    else this.receiveRequest(msg, m);
  }

  private receiveRequest(received: SipRequest, m: SipInbound): void {
    this.stats.received.requests++;
    const request = stampVia(received, m.source);
    const via = topVia(request);
    const branch = via.branch ?? '';
    if (!isRfc3261Branch(branch)) {
      const why = `Via.branch ${JSON.stringify(branch)} lacks the RFC 3261 magic cookie z9hG4bK`;
      this.refuse('bad-branch', m, why);
      if (request.method !== 'ACK') {
        this.sendRefusal(buildResponse(request, 400, { reason: `Bad Request (${why})`, toTag: token() }), m);
      }
      return;
    }
    const txRequest: TxRequest<Held> = {
      method: request.method,
      branch,
      sentBy: via.sentBy,
      handle: held(request),
    };
    const key = serverKeyOfRequest(txRequest);
    const existing = this.runner.servers.get(key);
    if (existing) {
      this.runner.step(existing, { type: 'request', request: txRequest });
      return;
    }
    const origin = { transport: m.transport, source: m.source };
    if (request.method === 'ACK') {
      this.runner.tell(() => this.tu.onAck(request, origin));
      return;
    }
    if (this.runner.servers.size >= this.maxServerTransactions) {
      const why = `${this.runner.servers.size} server transactions are open, the most allowed`;
      this.refuse('overloaded', m, why);
      const retryAfter = { name: 'Retry-After', value: String(OVERLOAD_RETRY_AFTER_S) };
      this.sendRefusal(buildResponse(request, 503, { toTag: token(), headers: [retryAfter] }), m);
      return;
    }
    const { machine, commands } = Machine.start<Held>(
      'server',
      txRequest,
      { reliable: m.transport === 'tcp', timers: this.timerOptions },
      this.scheduler.now(),
    );
    const record: ServerRecord = {
      side: 'server',
      key,
      machine,
      timers: new Map(),
      generated: undefined,
      inbound: m,
      request,
      branch,
      toTag: undefined,
      api: {
        request,
        origin,
        respond: (response) => this.respond(record, response),
      },
    };
    this.runner.add(record, commands);
  }

  /** A CANCEL's own transaction passed it up: answer it here, and tell the TU (RFC 3261 §9.2). */
  private cancel(record: ServerRecord): void {
    const invite = this.runner.servers.get(
      cancelledKey({ method: 'CANCEL', branch: record.branch, sentBy: topVia(record.request).sentBy }),
    );
    if (!invite) {
      record.api.respond(buildResponse(record.request, 481, { toTag: token() }));
      return;
    }
    record.api.respond(buildResponse(record.request, 200, { toTag: invite.toTag ?? token() }));
    if (invite.machine.stateName === 'proceeding') this.tu.onCancel(invite.request, invite.api);
  }

  private receiveResponse(response: SipResponse, m: SipInbound): void {
    this.stats.received.responses++;
    const via = topVia(response);
    const { method } = cseq(response);
    const record = this.runner.clients.get(
      clientKeyOfResponse({ branch: via.branch ?? '', cseqMethod: method }),
    );
    if (!record) {
      if (method === 'INVITE' && isSuccess(response.status)) {
        const origin = { transport: m.transport, source: m.source };
        this.runner.tell(() => this.tu.onStrayResponse(response, origin));
      } else {
        this.refuse('stray-response', m, `a ${response.status} to ${method} matches no transaction`);
      }
      return;
    }
    this.runner.step(record, {
      type: 'response',
      response: {
        status: response.status,
        cseqMethod: method,
        branch: via.branch ?? '',
        handle: held(response),
      },
    });
  }

  private respond(record: ServerRecord, response: SipResponse): void {
    if (this.runner.servers.get(record.key) !== record) {
      throw failedPrecondition(
        `the ${record.request.method} transaction ${record.branch} is over: its response cannot be sent`,
      );
    }
    const { method } = cseq(response);
    this.runner.step(record, {
      type: 'tu-response',
      response: {
        status: response.status,
        cseqMethod: method,
        branch: record.branch,
        handle: held(response),
      },
    });
    // Read after the step, so a response the machine refused leaves no trace.
    const tag = /;[ \t]*tag[ \t]*=[ \t]*([^;\s]+)/i.exec(headerValue(response, 'To') ?? '');
    if (response.status > 100) record.toTag ??= tag?.[1];
  }

  // --- sending -------------------------------------------------------------------------------

  /** A refusal's answer, outside any transaction, to the packet's source (or its connection). */
  private sendRefusal(response: SipResponse, m: SipInbound): void {
    this.stats.sent.responses++;
    this.transportOf(m.transport)
      .send(serializeSipMessage(response), m.source, m.connection)
      .catch((err: unknown) => this.sendFailed(m.source, err));
  }

  // --- helpers -------------------------------------------------------------------------------

  private refuse(reason: string, m: SipInbound, why: string): void {
    this.refused(reason);
    this.refusalLog.note(m.source.host, reason, () =>
      this.log.warn('SIP message refused', {
        reason,
        problem: why,
        source: addressText(m.source),
        transport: m.transport,
      }),
    );
  }

  /**
   * Rate-bound like the refusals: a peer can make every answer fail (a request whose copied
   * Vias make the response too large for a datagram, a connection reset at once).
   */
  private sendFailed(to: SipAddress, err: unknown): void {
    const kind = err instanceof Error && 'code' in err ? String(err.code) : 'error';
    this.sendFailures.note(to.host, kind, () =>
      this.log.warn('SIP send failed', { to: addressText(to), err }),
    );
  }

  private refused(reason: string): void {
    this.stats.refused[reason] = (this.stats.refused[reason] ?? 0) + 1;
  }

  private sentBy(transport: SipTransportName): SipAddress {
    const local = this.transportOf(transport).local;
    return { host: this.opts.viaHost ?? local.host, port: local.port };
  }

  private transportOf(name: SipTransportName): SipTransport {
    const t = this.transports.get(name);
    if (!t) throw failedPrecondition(`this SIP stack has no ${name} transport`);
    return t;
  }

  private checkOpen(): void {
    if (this.closed) throw failedPrecondition('the SIP stack is closed');
  }
}
