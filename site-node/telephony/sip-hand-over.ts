/**
 * Handing a caller to another site over SIP (docs/sip.md "Handing a caller to another site",
 * docs/architecture.md §5.9), the parts both ends agree on:
 *
 * - the origin's INVITE to the target's SIP address carries the reservation's one-time token
 *   in `X-CC-Handover-Token` (HANDOVER_TOKEN_HEADER); the media stay anchored at the origin,
 *   which bridges the caller's leg to this new leg and relays RTP between them;
 * - the target reads the token (`readHandOverToken`) from an INVITE that came from another
 *   site's SIP host (peer-sites.ts; the invite gate decides, invite-gate.ts) and offers the leg
 *   to the call flow's `onHandedOver` handler; its answer is the SIP answer
 *   (`handOverVerdict`): 200 when the handler claims the leg, else a refusal the origin turns
 *   into `unavailable` with its caller still on hold.
 *
 * The token is the reservation's (overflow/reservation.ts: a random UUID); the header takes
 * nothing else that could smuggle a second value into a log line: at most 128 characters of
 * letters, digits, `-`, `_` and `.`.
 */
import { headerValues, type SipRequest } from '../../shared/sip/message.js';

export const HANDOVER_TOKEN_HEADER = 'X-CC-Handover-Token';

const TOKEN_FORM = /^[A-Za-z0-9._-]{1,128}$/;

export type HandOverTokenRead =
  { kind: 'none' } | { kind: 'token'; token: string } | { kind: 'bad'; problem: string };

/** The INVITE's hand-over token: none, one well-formed token, or what is wrong with it. */
export function readHandOverToken(req: SipRequest): HandOverTokenRead {
  const values = headerValues(req, HANDOVER_TOKEN_HEADER);
  if (values.length === 0) return { kind: 'none' };
  if (values.length > 1)
    return { kind: 'bad', problem: `${HANDOVER_TOKEN_HEADER} appears ${values.length} times` };
  const token = values[0]!.trim();
  if (!TOKEN_FORM.test(token)) {
    return {
      kind: 'bad',
      problem: `${HANDOVER_TOKEN_HEADER} must be 1-128 letters, digits, '-', '_' or '.' (got ${token.length} characters)`,
    };
  }
  return { kind: 'token', token };
}

/**
 * The target's SIP answer to a hand-over's INVITE from the handler's decision: claimed is 200
 * (the leg is answered); refused is 404 (no call admitted here waits under this token: the
 * origin must not try again); a handler that failed is 500 (said, not hidden as a refusal).
 */
export function handOverVerdict(decision: 'claimed' | 'refused' | 'failed'): 200 | 404 | 500 {
  return decision === 'claimed' ? 200 : decision === 'refused' ? 404 : 500;
}
