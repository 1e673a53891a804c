/**
 * The one error the SIP message layer throws about bad input. It names the header (or
 * `start-line`, `body`) and the problem, and says what the receiver can do about it:
 *   answer  a request whose top Via, From, To, Call-ID and CSeq were read well enough to
 *           build a response (RFC 3261 §8.2.6): answer `status` (400, or 505 for a SIP
 *           version other than 2.0); `request` is the message as far as it was read
 *   drop    a response (never answered, §18.1.2), or a request without what a response
 *           needs: the receiver drops it silently (and logs it once)
 * response.ts turns an answerable one into its response; that is the one translation point
 * from this error to the wire.
 */
import { DomainError } from '../errors.js';
import type { SipRequest } from './message.js';

export type SipParseDisposition = 'answer' | 'drop';

export class SipParseError extends DomainError {
  /** `CSeq`, `Via`, `start-line`, `body`... */
  readonly header: string;
  readonly problem: string;
  readonly disposition: SipParseDisposition;
  /** The status to answer with when the disposition is `answer`. */
  readonly status: 400 | 505;
  /** When the disposition is `answer`: the request as far as it was read (headers unchecked). */
  readonly request: SipRequest | undefined;

  constructor(
    header: string,
    problem: string,
    opts: { disposition?: SipParseDisposition; status?: 400 | 505; request?: SipRequest } = {},
  ) {
    super('invalid-argument', `${header}: ${problem}`, { field: header });
    this.name = 'SipParseError';
    this.header = header;
    this.problem = problem;
    this.disposition = opts.disposition ?? 'drop';
    this.status = opts.status ?? 400;
    this.request = opts.request;
  }
}

export const isSipParseError = (e: unknown): e is SipParseError => e instanceof SipParseError;
