/**
 * What the four SIP transaction machines (RFC 3261 §17, RFC 6026) see of a message, what they
 * are told and what they ask for. The machines do not read the parser's types (shared/sip/
 * has its own message model): the adapter hands them the few fields they decide on plus an
 * opaque handle `H` to its own message, and gets the same handles back in commands to send
 * or pass up. So the machines never build or copy a message; the adapter does the bytes.
 */
import type { TimerName, TimerOptions } from './timers.js';

/** A request as a transaction sees it. `branch` and `sentBy` come from the top Via. */
export interface TxRequest<H> {
  readonly method: string;
  readonly branch: string;
  /** host[:port] of the top Via's sent-by; only server matching reads it. */
  readonly sentBy: string;
  readonly handle: H;
}

/** A response as a transaction sees it. */
export interface TxResponse<H> {
  readonly status: number;
  /** The CSeq method: the method of the request this answers. */
  readonly cseqMethod: string;
  readonly branch: string;
  readonly handle: H;
}

export interface TransactionOptions {
  /**
   * True on TCP/TLS/SCTP: the transport retransmits, so the transaction sends each message
   * once and its wait timers (D, I, J, K) are zero.
   */
  readonly reliable: boolean;
  readonly timers: TimerOptions;
}

/** Why a transaction ended. */
export type TerminationReason =
  /** It ran its course: a final response was exchanged and its wait ended. */
  | 'done'
  /** Timer B, F or H: the peer never answered (or never acknowledged). */
  | 'timeout'
  /** The transport could not deliver one of its messages. */
  | 'transport-error';

/** A running timer: when it fires and the interval it was armed with (retransmission timers double it). */
export interface RunningTimer {
  readonly atMs: number;
  readonly intervalMs: number;
}

export type RunningTimers = Readonly<Partial<Record<TimerName, RunningTimer>>>;

/** What a machine asks its adapter to do, in order. */
export type TxCommand<H> =
  /** Transmit this message (the request, or a response the TU gave) as it is. */
  | { readonly type: 'send'; readonly message: H }
  /**
   * Build the ACK for a 3xx-6xx final to this INVITE (RFC 3261 §17.1.1.3: the request's
   * Request-URI, Call-ID, From, top Via and CSeq number; the response's To) and transmit it.
   */
  | { readonly type: 'send-ack'; readonly request: H; readonly response: H }
  /** Build a 100 (Trying) for this INVITE (RFC 3261 §8.2.6.1) and transmit it. */
  | { readonly type: 'send-trying'; readonly request: H }
  | { readonly type: 'start-timer'; readonly name: TimerName; readonly atMs: number }
  | { readonly type: 'cancel-timer'; readonly name: TimerName }
  /** Give this message to the transaction user. */
  | { readonly type: 'pass-to-tu'; readonly message: H }
  /** Tell the TU that the peer did not answer in time (timer B, F or H). */
  | { readonly type: 'timeout' }
  /** Tell the TU that a message of this transaction could not be sent. */
  | { readonly type: 'transport-error' }
  /** The transaction is over: drop it from the transaction table. Always the last command. */
  | { readonly type: 'terminated'; readonly reason: TerminationReason };

export interface StepResult<S, H> {
  readonly state: S;
  readonly commands: readonly TxCommand<H>[];
}

/** A timer the machine started has fired. */
export interface TimerFired {
  readonly type: 'timer';
  readonly name: TimerName;
}

/** The transport failed to send one of the transaction's messages, or its connection broke. */
export interface TransportFailed {
  readonly type: 'transport-error';
}

export const isProvisional = (status: number): boolean => status >= 100 && status <= 199;
export const isSuccess = (status: number): boolean => status >= 200 && status <= 299;
/** 3xx-6xx: the finals the transaction itself acknowledges (INVITE) or retransmits. */
export const isFailure = (status: number): boolean => status >= 300 && status <= 699;
