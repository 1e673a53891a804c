/**
 * What the transaction layer hands up, and what it takes from, the transaction user (the
 * dialog and call layer above it, RFC 3261 §17). Kept small: requests in with a handle to
 * answer them through their server transaction, ACKs to a 2xx and CANCELs (which the stack
 * has already answered), and 2xx responses that outlived their client transaction.
 */
import type { SipRequest, SipResponse } from '../message.js';
import type { SipAddress, SipTransportName } from '../transport/types.js';

/** Where a received message came from. */
export interface SipOrigin {
  readonly transport: SipTransportName;
  readonly source: SipAddress;
}

/** A received request's server transaction: the TU answers through it. */
export interface ServerTransaction {
  /** The request as the TU sees it: its top Via stamped with `received`/`rport`. */
  readonly request: SipRequest;
  readonly origin: SipOrigin;
  /**
   * Send a response (build it with buildResponse from `request`). The machine retransmits
   * it as RFC 3261 says; a 2xx to an INVITE the TU resends itself until the ACK comes.
   * Throws (and sends nothing) for a response the transaction cannot take now, such as a
   * second final, or when the transaction is over.
   */
  respond(response: SipResponse): void;
}

export interface TransactionUser {
  /** A new request (not a retransmission, not an ACK, not a CANCEL). */
  onRequest(request: SipRequest, tx: ServerTransaction): void;
  /** An ACK that matched no 3xx-6xx transaction: the ACK to a 2xx (RFC 3261 §13.3.1.4). */
  onAck(ack: SipRequest, origin: SipOrigin): void;
  /**
   * A CANCEL for this INVITE, already answered 200; the INVITE is still unanswered, so the
   * TU should answer it 487 (RFC 3261 §9.2) through `tx`.
   */
  onCancel(invite: SipRequest, tx: ServerTransaction): void;
  /** A 2xx to an INVITE whose client transaction is gone: the dialog layer ACKs it again. */
  onStrayResponse(response: SipResponse, origin: SipOrigin): void;
  /** A server transaction failed: no ACK to our 3xx-6xx (timer H), or its response could not be sent. */
  onServerFailure?(request: SipRequest, reason: 'timeout' | 'transport-error'): void;
}

/** What a request we send reports back. */
export interface ClientEvents {
  /** Each provisional and final response (and, for an INVITE, every 2xx copy). */
  onResponse(response: SipResponse): void;
  /** No final response in time (timer B or F). */
  onTimeout(): void;
  /** The request could not be sent (no route, connection refused or broken). */
  onTransportError(): void;
}

/** Where a request goes: the next hop's IP and port, and the transport when not the URI's. */
export interface SipTarget extends SipAddress {
  readonly transport?: SipTransportName;
}

export interface ClientTransaction {
  /** The request as sent, our Via on top. */
  readonly request: SipRequest;
  readonly branch: string;
  readonly transport: SipTransportName;
}
