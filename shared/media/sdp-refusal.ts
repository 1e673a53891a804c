/**
 * Why an SDP offer (or answer) was refused. The SIP boundary answers an INVITE whose offer
 * throws this with `488 Not Acceptable Here` and a Warning naming `reason` (RFC 3261 §21.4.26);
 * nothing else reads the message.
 */
import { DomainError } from '../errors.js';

export type SdpRefusalReason = 'unparseable' | 'no-audio' | 'encrypted-only' | 'no-g711' | 'no-address';

export class SdpNotAcceptable extends DomainError {
  /** The SIP status this refusal maps to; the boundary reads it, not the message. */
  readonly sipStatus = 488;
  readonly reason: SdpRefusalReason;

  constructor(reason: SdpRefusalReason, message: string) {
    super('invalid-argument', `sdp: ${message}`, { field: 'sdp' });
    this.name = 'SdpNotAcceptable';
    this.reason = reason;
  }
}
