/**
 * The port between the site's call handling and the voice network (docs/architecture.md §3.3). Call
 * legs and media endpoints are explicit so the SIP/RTP adapter (a later issue) can fill
 * them with real addresses; today the simulated adapter (sim-media.ts) stands in.
 *
 * A call has one `caller` leg from the trunk and, once connected, one `agent` leg bridged
 * to it. The IVR talks to the caller leg through play/collectDigits.
 */
export type MediaEndpoint =
  { transport: 'sim'; id: string } | { transport: 'rtp'; host: string; port: number; codec: 'PCMU' | 'PCMA' };

export interface CallLeg {
  legId: string;
  callId: string;
  role: 'caller' | 'agent';
  endpoint: MediaEndpoint;
}

export interface InboundCall {
  /** Caller number (ANI) and dialled number (DNIS). */
  ani: string;
  dnis: string;
  leg: CallLeg;
}

export interface CollectOptions {
  minDigits?: number;
  maxDigits: number;
  timeoutMs: number;
  terminator?: '#';
  /** PIN entry: the adapter must not log, record or echo the digits. */
  secret?: boolean;
}

export interface MediaPort {
  /** Calls arriving on the trunks; the handler owns each call from then on. */
  onInbound(handler: (call: InboundCall) => void): void;
  /** The far end of a leg hung up. */
  onFarEndHangup(handler: (leg: CallLeg) => void): void;
  answer(leg: CallLeg): Promise<void>;
  /** Refuse a call before answering it (no trunk or IVR port free). */
  reject(leg: CallLeg, reason: 'busy' | 'unavailable'): Promise<void>;
  play(leg: CallLeg, promptId: string, vars?: Record<string, string>): Promise<void>;
  /** The keys pressed, 'timeout', or 'hung-up' when the caller has left. */
  collectDigits(leg: CallLeg, opts: CollectOptions): Promise<string | 'timeout' | 'hung-up'>;
  /** Queue treatment: music and the periodic announcement while the caller waits. */
  hold(leg: CallLeg): Promise<void>;
  /** Ring the agent's phone and bridge it to the caller; returns the agent leg. */
  bridgeToAgent(callerLeg: CallLeg, agentId: string): Promise<CallLeg>;
  /**
   * Call a customer (a callback): resolves with the answered leg, or 'no-answer' when
   * nobody picks up or the line is busy.
   */
  dial(number: string, opts: { callerId: string; timeoutMs: number }): Promise<CallLeg | 'no-answer'>;
  /** Hang up a leg from the site's side; a no-op for a leg that has already ended. */
  hangup(leg: CallLeg): Promise<void>;
}
