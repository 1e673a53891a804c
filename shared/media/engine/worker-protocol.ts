/**
 * The messages between the site's thread and the media worker (worker-engine.ts and
 * media-worker.ts). Calls carry an id the result answers (0 is the worker's start); a hold's announcement is asked of
 * the site's thread each time it is due (the site supplies it fresh), by `announce-due`.
 * Errors cross as plain fields: a DomainError's class does not survive the structured clone.
 */
import type { ErrorKind } from '../../errors.js';
import type { MediaEngineConfig, MediaEvent, PromptPiece } from './port.js';

export interface WorkerInit {
  config: MediaEngineConfig;
}

export type CallMethod =
  | 'open'
  | 'setRemote'
  | 'play'
  | 'hold'
  | 'bridge'
  | 'unbridge'
  | 'record'
  | 'addToRecording'
  | 'stopRecording'
  | 'close'
  | 'stop'
  | 'stats';

export interface WireError {
  kind: ErrorKind;
  message: string;
  field?: string;
}

export type ToWorker =
  | { kind: 'call'; id: number; method: CallMethod; args: unknown[] }
  | { kind: 'announce-pieces'; id: number; pieces: readonly PromptPiece[] }
  | { kind: 'announce-failed'; id: number; message: string };

export type FromWorker =
  | { kind: 'result'; id: number; ok: true; value: unknown }
  | { kind: 'result'; id: number; ok: false; error: WireError }
  | { kind: 'event'; event: MediaEvent }
  | { kind: 'announce-due'; id: number; endpointId: string; holdId: number };

/** A hold as it crosses: the announcement's text source stays in the site's thread under holdId. */
export interface WireHold {
  music: readonly PromptPiece[];
  announce?: { everyMs: number; holdId: number };
}
