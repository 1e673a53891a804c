/**
 * What the SIP media port does with what a leg's runner reports (sip-media-port.ts), above all
 * its end, whoever ended it: the leg leaves the port's indexes and gives back its trunk channel,
 * an agent's phone ringing for a caller who left stops, the call's recording hears of it, a
 * hand-over's relay ends its other leg, a phone that never answered fails its ring, and an end
 * the site did not ask for is told to the call flow. Apart from the port class so every leg,
 * inbound or outbound, ends through this one function.
 */
import type { Logger } from '../../shared/log.js';
import { agentNotReadyReason, isFarEndHangup } from '../../shared/sip/leg/outcomes.js';
import { AgentPhoneFailed, type CallLeg } from './media-port.js';
import { relayEnded, type HandOverPort } from './sip-hand-over.js';
import type { LegHooks } from './sip-leg-runner.js';
import type { PortLeg as Leg, PortLegTable } from './sip-port-legs.js';
import type { SipRecordings } from './sip-recordings.js';

/** What a leg's end touches in the port. */
export interface LegEndParts {
  readonly legs: PortLegTable;
  readonly log: Logger;
  readonly recordings: Pick<SipRecordings, 'callerEnded'>;
  /** Stops the agent's phone rung for this caller, if one rings (sip-port-agent-phones.ts). */
  stopRinging(callerLegId: string): void;
  handOverPort(): HandOverPort;
  /** The call flow's `onFarEndHangup` handler, when it set one. */
  farEndHungUp(leg: CallLeg): void;
}

export function portLegHooks(p: LegEndParts, leg: () => Leg): LegHooks {
  return {
    onDtmf: (digit) => leg().digits.press(digit),
    onAnswered: () => leg().onAnswer?.resolve(),
    onEnded: (end) => {
      const l = leg();
      p.legs.remove(l);
      l.release?.();
      // A caller gone while an agent's phone rings for it: the phone stops ringing.
      if (l.kind === 'inbound') p.stopRinging(l.call.legId);
      p.recordings.callerEnded(l.call.legId);
      l.digits.hungUp();
      l.endNow();
      if (l.relay) return relayEnded(p.handOverPort(), l, end.reason);
      if (l.onAnswer) {
        const why = agentNotReadyReason(end);
        l.onAnswer.reject(new AgentPhoneFailed(why, `the agent's phone did not take the call: ${why}`));
        l.onAnswer = undefined;
        return;
      }
      if (!l.localEnd && isFarEndHangup(end)) {
        // The detail says which watch ended a silent far end (RTP inactivity, session timer).
        p.log.info('sip leg ended by the far end', {
          legId: l.call.legId,
          reason: end.reason,
          ...(end.detail === undefined ? {} : { detail: end.detail }),
        });
        p.farEndHungUp(l.call);
      }
    },
  };
}
