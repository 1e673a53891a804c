/**
 * How a leg's end reads through the site's media port (site-node/telephony/media-port.ts),
 * so the SIP adapter keeps the promises the simulated one keeps:
 *
 * | port call                 | leg                                     | what the site hears                 |
 * |---------------------------|-----------------------------------------|-------------------------------------|
 * | `onInbound`               | inbound, once started (not `refused`)   | the call                            |
 * | `answer`                  | inbound `answer`                        | resolves when the 200 is out        |
 * | `reject(busy/unavailable)`| inbound `hangup` with 486 / 503         | the leg ends `local`                |
 * | `onFarEndHangup`          | a leg the site holds ends, not `local`  | the far end is gone                 |
 * | `hangup`                  | `hangup`; a no-op once the leg ended    | nothing more                        |
 * | `dial`                    | outbound; `answered` gives the leg      | an end before it: `dialOutcome`     |
 * | `bridgeToAgent`           | outbound to the agent's phone           | an end before `answered`: the agent |
 * |                           |                                         | goes not-ready (agentNotReadyReason)|
 *
 * `reject('unavailable')` is 503, not 480: it is said when the site stops or has no room,
 * and 503 tells the carrier to try the number's other routes (RFC 3261 §21.5.4).
 */
import type { LegEnd } from './types.js';

export const REJECT_STATUS: Readonly<Record<'busy' | 'unavailable', number>> = {
  busy: 486,
  unavailable: 503,
};

/**
 * A leg the site holds (an inbound call it took, an outbound one after `answered`) that the
 * site did not end: the site must be told the far end is gone (MediaPort.onFarEndHangup).
 * Before that an outbound leg's end is the answer to `dial` or `bridgeToAgent` instead.
 */
export const isFarEndHangup = (end: LegEnd): boolean => end.reason !== 'local';

/**
 * An agent's phone that did not take the call: the reason the agent goes not-ready with, so
 * the supervisor sees why (the call goes back to its queue, as for a ring-no-answer).
 */
export function agentNotReadyReason(end: LegEnd): string {
  switch (end.reason) {
    case 'no-answer':
      return 'phone-no-answer';
    case 'busy':
      return 'phone-busy';
    case 'unavailable':
      return 'phone-unreachable';
    default:
      return end.status === undefined ? `phone-${end.reason}` : `phone-${end.reason}-${end.status}`;
  }
}
