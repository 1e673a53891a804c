/**
 * Building a call detail record from a call's timeline (pure). Times come from the first
 * timeline entry of each state unless the caller supplies them:
 *   wait = (answered or ended) - queued        (0 when the call never queued)
 *          + the wait at the origin, for a call moved in from another site (overflowIn.waitedMs):
 *          the province counts a moved call once, where it was answered, with the caller's
 *          full wait (docs/architecture.md §5.9 "Records")
 *   talk = (wrap-up or ended) - answered       (0 when never answered)
 */
import type { CallState, TerminalCallState } from './call-states.js';
import type { CallRecordingRecord } from './recordings-repo.js';

export type CallOutcome = 'answered' | 'self-service' | 'abandoned' | 'overflowed' | 'callback' | 'failed';

/** A call moved in from another site: where from, under which token, and how long it had waited there. */
export interface OverflowIn {
  originSiteId: string;
  /** The origin's own record of the call (its call id there). */
  originCallId: string;
  token: string;
  /** The time the caller had waited at the origin when it moved (a duration: clocks differ). */
  waitedMs: number;
}

/** A call that left for another site: where to, under which token. */
export interface OverflowOut {
  toSiteId: string;
  token: string;
}

export interface CdrInput {
  agentId?: string;
  wrapupCode?: string;
  outcome?: CallOutcome;
  offeredAtMs?: number;
  answeredAtMs?: number;
}

export interface Cdr {
  callId: string;
  siteId: string;
  entrySiteId: string;
  ani: string;
  dnis: string;
  queueId: string | undefined;
  customerId: string | undefined;
  agentId: string | undefined;
  startedAtMs: number;
  queuedAtMs: number | undefined;
  offeredAtMs: number | undefined;
  answeredAtMs: number | undefined;
  endedAtMs: number;
  waitMs: number;
  talkMs: number;
  wrapupCode: string | undefined;
  finalState: TerminalCallState;
  outcome: CallOutcome;
  abandoned: boolean;
  endReason: string;
  /** Only on a call moved in from another site. */
  overflowIn?: OverflowIn;
  /** Exactly when the outcome is `overflowed`. */
  overflowOut?: OverflowOut;
  /**
   * Only on a recorded call, as the store reads it (recordings-repo.ts): its path once the WAV
   * is written. Not part of the `call.ended` event: the recording often ends after the call does.
   */
  recording?: CallRecordingRecord;
}

export interface CdrFacts {
  callId: string;
  siteId: string;
  entrySiteId: string;
  ani: string;
  dnis: string;
  queueId: string | undefined;
  customerId: string | undefined;
  agentId: string | undefined;
  startedAtMs: number;
  timeline: ReadonlyArray<{ state: CallState; atMs: number }>;
  finalState: TerminalCallState;
  endedAtMs: number;
  endReason: string;
  overflowIn?: OverflowIn;
  overflowOut?: OverflowOut;
}

export function defaultOutcome(finalState: TerminalCallState, answered: boolean): CallOutcome {
  switch (finalState) {
    case 'ended':
      return answered ? 'answered' : 'self-service';
    case 'abandoned':
      return 'abandoned';
    case 'overflowed':
      return 'overflowed';
    case 'callback-scheduled':
      return 'callback';
    case 'failed':
      return 'failed';
  }
}

export function buildCdr(f: CdrFacts, input: CdrInput = {}): Cdr {
  const first = (s: CallState): number | undefined => f.timeline.find((t) => t.state === s)?.atMs;
  const queuedAtMs = first('queued');
  const offeredAtMs = input.offeredAtMs ?? first('offered');
  const answeredAtMs = input.answeredAtMs ?? first('connected');
  const wrapAtMs =
    answeredAtMs === undefined
      ? undefined
      : f.timeline.find((t) => t.state === 'wrapup' && t.atMs >= answeredAtMs)?.atMs;
  const waitMs =
    queuedAtMs === undefined ? 0 : (f.overflowIn?.waitedMs ?? 0) + (answeredAtMs ?? f.endedAtMs) - queuedAtMs;
  const talkMs = answeredAtMs === undefined ? 0 : (wrapAtMs ?? f.endedAtMs) - answeredAtMs;
  return {
    callId: f.callId,
    siteId: f.siteId,
    entrySiteId: f.entrySiteId,
    ani: f.ani,
    dnis: f.dnis,
    queueId: f.queueId,
    customerId: f.customerId,
    agentId: input.agentId ?? f.agentId,
    startedAtMs: f.startedAtMs,
    queuedAtMs,
    offeredAtMs,
    answeredAtMs,
    endedAtMs: f.endedAtMs,
    waitMs,
    talkMs,
    wrapupCode: input.wrapupCode,
    finalState: f.finalState,
    outcome: input.outcome ?? defaultOutcome(f.finalState, answeredAtMs !== undefined),
    abandoned: f.finalState === 'abandoned',
    endReason: f.endReason,
    ...(f.overflowIn ? { overflowIn: f.overflowIn } : {}),
    ...(f.overflowOut ? { overflowOut: f.overflowOut } : {}),
  };
}
