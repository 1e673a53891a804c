/**
 * What starting a leg of the SIP media port takes (sip-media-port.ts), shared by the callers'
 * side (sip-port-inbound.ts) and the one outbound path (sip-port-outbound.ts): the leg's
 * options (our Via and Contact, the timers, our SDP) from the site's SIP config, and the port's
 * parts a new leg is made with. Apart so that neither side reaches into the port class.
 */
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import type { LocalAudio } from '../../shared/media/sdp.js';
import { DEFAULT_TIMER_POLICY } from '../../shared/media/session-expires.js';
import type { LegOptions } from '../../shared/sip/leg/types.js';
import type { SipStack } from '../../shared/sip/stack/sip-stack.js';
import type { SipOrigin } from '../../shared/sip/stack/transaction-user.js';
import { compileTimerOptions } from '../../shared/sip/transaction/timers.js';
import type { SiteSipConfig } from '../config-sip.js';
import type { MediaEngine } from './media-engine.js';
import type { CallLeg } from './media-port.js';
import type { LegHooks, LegRunnerDeps } from './sip-leg-runner.js';
import { SIP_IDS as IDS, type PortLeg, type PortLegTable } from './sip-port-legs.js';

/** The port's parts a new leg is made with (the port builds this once). */
export interface PortLegParts {
  readonly sip: SiteSipConfig;
  readonly engine: MediaEngine;
  readonly scheduler: Scheduler;
  readonly log: Logger;
  readonly legs: PortLegTable;
  /** The one count leg ids are numbered by (callers, agents' phones, hand-overs). */
  nextSeq(): number;
  legOptions(origin: SipOrigin, rtpPort: number): LegOptions;
  deps(): LegRunnerDeps;
  /** What a leg's runner reports, taken the port's way (sip-port-leg-end.ts). */
  hooks(leg: () => PortLeg): LegHooks;
  makeLeg(call: CallLeg, kind: PortLeg['kind'], runner: PortLeg['runner']): PortLeg;
}

/** The site's own SIP URI host (`sip:site@<host>`): an IPv6 address in brackets. */
export function hostInUri(sip: SiteSipConfig): string {
  const a = sip.publicAddress;
  return a.includes(':') ? `[${a}]` : a;
}

export function portLegOptions(
  sip: SiteSipConfig,
  stack: SipStack,
  origin: SipOrigin,
  rtpPort: number,
): LegOptions {
  const local = stack.address(origin.transport);
  const host = hostInUri(sip);
  return {
    via: { transport: origin.transport.toUpperCase(), sentBy: `${host}:${local.port}` },
    contact: `sip:site@${host}:${local.port}${origin.transport === 'tcp' ? ';transport=tcp' : ''}`,
    ids: IDS,
    timers: compileTimerOptions({ t1Ms: sip.timers.t1Ms }),
    sessionTimer: { ...DEFAULT_TIMER_POLICY, intervalS: sip.timers.sessionIntervalS },
    audio: localAudio(sip, rtpPort),
  };
}

function localAudio(sip: SiteSipConfig, port: number): LocalAudio {
  return {
    address: sip.publicAddress,
    port,
    sessionId: String(Date.now()),
    sessionVersion: 1,
    codecs: ['PCMA', 'PCMU'],
  };
}
