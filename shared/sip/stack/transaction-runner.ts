/**
 * The transaction table and the one loop that carries out the machines' commands
 * (docs/sip.md "The transaction layer"): sends by the Via rules, the generated ACK and 100,
 * timers on the Scheduler, and what the TU is told. sip-stack.ts decides which transaction a
 * message belongs to; this file runs it.
 */
import type { Logger } from '../../log.js';
import type { Cancel, Scheduler } from '../../scheduler.js';
import type { SipMessage, SipRequest, SipResponse } from '../message.js';
import { serializeSipMessage } from '../serialize.js';
import type { TransactionKey } from '../transaction/matching.js';
import type { TimerName } from '../transaction/timers.js';
import type { TxCommand } from '../transaction/types.js';
import {
  type SipAddress,
  type SipInbound,
  type SipTransport,
  type SipTransportName,
} from '../transport/types.js';
import type { SipStackCounters } from './counters.js';
import { buildAck, buildTrying } from './generated.js';
import type { Machine, MachineEvent } from './machine.js';
import type { ClientEvents, ServerTransaction, TransactionUser } from './transaction-user.js';
import { responseDestination } from './via.js';

/** A message a machine holds: serialized once, so a retransmission is the same bytes. */
export interface Held {
  readonly message: SipMessage;
  bytes: Buffer | undefined;
  sends: number;
}

export const held = (message: SipMessage): Held => ({ message, bytes: undefined, sends: 0 });

interface BaseRecord {
  readonly key: TransactionKey;
  readonly machine: Machine<Held>;
  readonly timers: Map<TimerName, Cancel>;
  /** The generated ACK or 100, kept so that sending it again counts as a retransmission. */
  generated: Held | undefined;
}

export interface ServerRecord extends BaseRecord {
  readonly side: 'server';
  readonly inbound: SipInbound;
  readonly request: SipRequest;
  readonly branch: string;
  readonly api: ServerTransaction;
  /** The To tag of the TU's responses, which the 200 to a CANCEL repeats (RFC 3261 §9.2). */
  toTag: string | undefined;
}

export interface ClientRecord extends BaseRecord {
  readonly side: 'client';
  readonly target: SipAddress;
  readonly transport: SipTransportName;
  readonly events: ClientEvents;
  /** The TCP connection its request went on, once sent. */
  connection: string | undefined;
}

export type TxRecord = ServerRecord | ClientRecord;

/** What the runner needs of the stack around it. */
export interface RunnerContext {
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly stats: SipStackCounters;
  readonly tu: TransactionUser;
  transportOf(name: SipTransportName): SipTransport;
  isClosed(): boolean;
  /** A CANCEL's own transaction passed it up: the stack answers it. */
  onCancel(record: ServerRecord): void;
  /** A send failed: logged by the stack, at a bounded rate per destination. */
  sendFailed(to: SipAddress, err: unknown): void;
}

export class TransactionRunner {
  readonly servers = new Map<TransactionKey, ServerRecord>();
  readonly clients = new Map<TransactionKey, ClientRecord>();

  constructor(private readonly ctx: RunnerContext) {}

  /** Put a new transaction in the table and carry out its start commands. */
  add(record: TxRecord, commands: readonly TxCommand<Held>[]): void {
    if (record.side === 'server') this.servers.set(record.key, record);
    else this.clients.set(record.key, record);
    this.execute(record, commands);
  }

  step(record: TxRecord, event: MachineEvent<Held>): void {
    this.execute(record, record.machine.step(event, this.ctx.scheduler.now()));
  }

  /** Still in the table (not terminated, not dropped by close). */
  isLive(record: TxRecord): boolean {
    return (
      (record.side === 'server' ? this.servers.get(record.key) : this.clients.get(record.key)) === record
    );
  }

  /**
   * A TCP connection closed: a client transaction still waiting on it for a final response
   * would only learn of it from timer B or F (or never, an INVITE in Proceeding), so it gets
   * a transport error now (RFC 3261 §17.1.4). One with its final already in is left alone.
   */
  connectionClosed(connection: string): void {
    for (const record of [...this.clients.values()]) {
      const waiting = ['calling', 'trying', 'proceeding'].includes(record.machine.stateName);
      if (record.connection === connection && waiting) this.step(record, { type: 'transport-error' });
    }
  }

  /** Drop every transaction and its timers, unreported (close). */
  clear(): void {
    for (const r of [...this.servers.values(), ...this.clients.values()]) stopTimers(r);
    this.servers.clear();
    this.clients.clear();
  }

  /** Call up into the TU; a TU that throws is a bug above us, logged, and must not stop the stack. */
  tell(f: () => void): void {
    try {
      f();
    } catch (err) {
      this.ctx.log.error('SIP transaction user failed', { err });
    }
  }

  /**
   * Carry out a step's commands in order. What the TU is told waits until the sends and
   * timers are done, so a TU that answers inside its callback steps a settled transaction.
   */
  private execute(record: TxRecord, commands: readonly TxCommand<Held>[]): void {
    const later: Array<() => void> = [];
    for (const c of commands) {
      switch (c.type) {
        case 'send':
          this.send(record, c.message);
          break;
        case 'send-ack':
          record.generated ??= held(
            buildAck(c.request.message as SipRequest, c.response.message as SipResponse),
          );
          this.send(record, record.generated);
          break;
        case 'send-trying':
          record.generated ??= held(buildTrying(c.request.message as SipRequest));
          this.send(record, record.generated);
          break;
        case 'start-timer': {
          record.timers.get(c.name)?.();
          const name = c.name;
          const { scheduler } = this.ctx;
          const cancel = scheduler.after(c.atMs - scheduler.now(), () => {
            record.timers.delete(name);
            if (this.isLive(record)) this.step(record, { type: 'timer', name });
          });
          record.timers.set(name, cancel);
          break;
        }
        case 'cancel-timer':
          record.timers.get(c.name)?.();
          record.timers.delete(c.name);
          break;
        case 'pass-to-tu':
          later.push(this.passToTu(record, c.message.message));
          break;
        case 'timeout':
        case 'transport-error':
          later.push(this.failure(record, c.type));
          break;
        case 'terminated':
          stopTimers(record);
          if (this.isLive(record)) {
            if (record.side === 'server') this.servers.delete(record.key);
            else this.clients.delete(record.key);
          }
          break;
      }
    }
    for (const f of later) this.tell(f);
  }

  private passToTu(record: TxRecord, message: SipMessage): () => void {
    if (record.side === 'client') return () => record.events.onResponse(message as SipResponse);
    const request = message as SipRequest;
    const { tu } = this.ctx;
    if (request.method === 'ACK') return () => tu.onAck(request, record.api.origin);
    if (request.method === 'CANCEL') return () => this.ctx.onCancel(record);
    return () => tu.onRequest(record.request, record.api);
  }

  private failure(record: TxRecord, what: 'timeout' | 'transport-error'): () => void {
    if (record.side === 'client') {
      return what === 'timeout' ? () => record.events.onTimeout() : () => record.events.onTransportError();
    }
    return () => this.ctx.tu.onServerFailure?.(record.request, what);
  }

  /** A request to its target; a response by RFC 3261 §18.2.2 (its request's connection over TCP). */
  private send(record: TxRecord, h: Held): void {
    const { stats } = this.ctx;
    h.bytes ??= serializeSipMessage(h.message);
    if (h.sends++ > 0) stats.retransmissions++;
    if (h.message.kind === 'request') stats.sent.requests++;
    else stats.sent.responses++;
    let sending: Promise<unknown>;
    let to: SipAddress;
    if (record.side === 'client') {
      to = record.target;
      sending = this.ctx
        .transportOf(record.transport)
        .send(h.bytes, to)
        .then((connection) => (record.connection ??= connection));
    } else {
      const { transport, connection } = record.inbound;
      to = responseDestination(h.message, transport);
      sending = this.ctx.transportOf(transport).send(h.bytes, to, connection);
    }
    sending.catch((err: unknown) => {
      if (this.ctx.isClosed()) return;
      this.ctx.sendFailed(to, err);
      if (this.isLive(record)) this.step(record, { type: 'transport-error' });
    });
  }
}

function stopTimers(record: TxRecord): void {
  for (const cancel of record.timers.values()) cancel();
  record.timers.clear();
}
