/** A call the site holds now, as the call flow's modules share it (call-flow.ts). */
import type { CallLeg } from '../telephony/media-port.js';
import type { CallPhase, InitialCallPhase } from './call-phase.js';

export interface LiveCall {
  callId: string;
  ani: string;
  dnis: string;
  leg: CallLeg;
  agentLeg: CallLeg | undefined;
  /**
   * The agent's phone was bridged to the caller (the answer is written then): stays true after
   * the agent's leg ends, until the call goes back to a queue. False while the phone rings.
   */
  bridged: boolean;
  /**
   * While the agent's phone is being bridged: writes waiting for the bridge to settle, pushed in
   * order right after the answer's write (or the failure's), so that a call's wrap-up and end
   * follow its answer (a simulated caller can leave a few hops before the bridge settles).
   */
  afterBridge: Array<() => void> | undefined;
  /** Changed only through movePhase (call-phase.ts). */
  phase: CallPhase;
  customerId: string | undefined;
  verified: boolean;
  ivrPath: string[];
  attached: Record<string, string>;
  queueId: string | undefined;
  queuedAtMs: number | undefined;
  agentId: string | undefined;
  /** Set once the caller has left, so nothing is played to an empty line. */
  callerGone: boolean;
  /** Why the ACD's fallback took the call (max wait, full, closed), kept for its end record. */
  fallbackReason: string | undefined;
  /**
   * Where the fallback took the call from (the ACD's call-fallback command): a callback it books
   * takes this place. The ACD has forgotten the call by the time the command is carried out.
   */
  fallbackPlace: { priority: number; enqueueMs: number } | undefined;
  /** When the site took the call (its record's creation), for a move's `callAgeMs`. */
  createdAtMs: number;
  /**
   * A call moved in whose caller's leg has not arrived yet (it holds a stand-in): resolves when
   * it does (call-overflow-hooks.ts `attachLeg`), so the agent is bridged to the real leg.
   */
  legArrival: { arrived: Promise<void>; arrive: () => void } | undefined;
  /** Why the call is recorded (`node:<id>`, `queue:<id>`), once the flow asked (call-recording.ts). */
  recording: string | undefined;
}

export function liveCall(
  callId: string,
  ani: string,
  dnis: string,
  leg: CallLeg,
  phase: InitialCallPhase,
): LiveCall {
  return {
    callId,
    ani,
    dnis,
    leg,
    agentLeg: undefined,
    bridged: false,
    afterBridge: undefined,
    phase,
    customerId: undefined,
    verified: false,
    ivrPath: [],
    attached: {},
    queueId: undefined,
    queuedAtMs: undefined,
    agentId: undefined,
    callerGone: false,
    fallbackReason: undefined,
    fallbackPlace: undefined,
    createdAtMs: 0,
    legArrival: undefined,
    recording: undefined,
  };
}
