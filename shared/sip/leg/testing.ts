/**
 * Helpers for the leg tests: options with counting ids, the far end's audio, and readers of
 * the commands a step gave.
 */
import { answerOffer, buildOffer, type LocalAudio } from '../../media/sdp.js';
import { DEFAULT_TIMER_POLICY } from '../../media/session-expires.js';
import { cseq } from '../headers.js';
import type { SipRequest, SipResponse } from '../message.js';
import { countingIds, LOCAL_CONTACT, LOCAL_VIA } from '../dialog/testing.js';
import { DEFAULT_TIMER_OPTIONS } from '../transaction/timers.js';
import type { LegCommand, LegOptions } from './types.js';

export const SITE_AUDIO: LocalAudio = {
  address: '10.0.0.5',
  port: 30000,
  sessionId: '42',
  sessionVersion: 1,
  codecs: ['PCMA', 'PCMU'],
};

export const PHONE_AUDIO: LocalAudio = {
  address: '10.0.0.7',
  port: 50000,
  sessionId: '7',
  sessionVersion: 1,
  codecs: ['PCMU'],
};

export const legOptions = (prefix = 'x'): LegOptions => ({
  via: LOCAL_VIA,
  contact: LOCAL_CONTACT,
  ids: countingIds(prefix),
  timers: DEFAULT_TIMER_OPTIONS,
  sessionTimer: DEFAULT_TIMER_POLICY,
  audio: SITE_AUDIO,
});

/** The far end's answer to the offer our outbound leg makes. */
export const phoneAnswer = (): string => answerOffer(buildOffer(SITE_AUDIO), PHONE_AUDIO).sdp;

export const responsesIn = (commands: readonly LegCommand[]): SipResponse[] =>
  commands.flatMap((c) => (c.type === 'send-response' ? [c.response] : []));

export const requestsIn = (commands: readonly LegCommand[]): SipRequest[] =>
  commands.flatMap((c) => (c.type === 'send-request' ? [c.request] : []));

/** `INVITE 180`, `BYE`, `media-stop`...: the commands as short words, for readable expectations. */
export function summary(commands: readonly LegCommand[]): string[] {
  return commands.map((c) => {
    switch (c.type) {
      case 'send-response':
        return `${cseq(c.response).method} ${c.response.status}`;
      case 'send-request':
        return `${c.request.method} ${cseq(c.request).seq}`;
      case 'start-timer':
        return `start ${c.name} @${c.atMs}`;
      case 'cancel-timer':
        return `cancel ${c.name}`;
      case 'dtmf':
        return `dtmf ${c.digit}`;
      case 'refusal':
        return `refusal ${c.method} ${c.status}`;
      case 'ended':
        return `ended ${c.end.reason}${c.end.status === undefined ? '' : ` ${c.end.status}`}`;
      default:
        return c.type;
    }
  });
}
