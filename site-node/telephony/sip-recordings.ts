/**
 * The SIP media port's call recordings (docs/sip.md "Call recording"): one WAV per call in the
 * site's recordings folder, named by the call id, written by the media engine. It starts on the
 * caller's endpoint alone (channel 0) when the flow flags the call, takes each agent's endpoint
 * on channel 1 when it is bridged (the engine's `addToRecording`; a second agent after a
 * transfer takes the channel the first one left), and stops when the caller's leg ends, the
 * file then written. `saved` settles only then: with the file's path, length and size, or
 * rejected when the engine could not write it. A recording still open when the engine stops is
 * written by the engine and reported as its event, which settles it the same way.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { failedPrecondition, invalidArgument, isDomainError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { MediaEngine, MediaEvent } from './media-engine.js';
import type { CallLeg, CallRecording, SavedRecording } from './media-port.js';

/** Call ids are the site's own (`chongqing-01J...`); anything else never reaches a path. */
const CALL_ID_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** The recording's file name: the call id and `.wav`, refused when the id could leave the folder. */
export function recordingFileName(callId: string): string {
  if (typeof callId !== 'string' || !CALL_ID_RE.test(callId))
    throw invalidArgument('callId', `${JSON.stringify(callId)} cannot name a recording file (${CALL_ID_RE})`);
  return `${callId}.wav`;
}

/** The channel each agent's side is recorded on (the caller's is 0). */
export const AGENT_CHANNEL = 1;

interface Running {
  recordingId: string;
  callId: string;
  path: string;
  handle: CallRecording;
  settled: boolean;
  resolve: (r: SavedRecording) => void;
  reject: (e: Error) => void;
}

export class SipRecordings {
  private readonly byCallerLeg = new Map<string, Running>();
  private readonly byRecordingId = new Map<string, Running>();

  constructor(
    private readonly engine: MediaEngine,
    /** The site's `recordings.dir` (created at start); undefined: the site records nothing. */
    private readonly dir: string | undefined,
    private readonly log: Logger,
  ) {}

  /**
   * Starts recording the caller's endpoint; a second start for the same leg is the first one.
   * `stillLive` is asked once the engine has answered: a leg that ended meanwhile stops its
   * recording at once (its end found nothing to stop).
   */
  async start(leg: CallLeg, callerEndpointId: string, stillLive: () => boolean): Promise<CallRecording> {
    const running = this.byCallerLeg.get(leg.legId);
    if (running) return running.handle;
    if (this.dir === undefined)
      throw failedPrecondition('the site has no recordings.dir: it has nowhere to write a recording');
    const path = join(this.dir, recordingFileName(leg.callId));
    const recordingId = await this.engine.record([callerEndpointId], path);
    let resolve!: Running['resolve'];
    let reject!: Running['reject'];
    const saved = new Promise<SavedRecording>((ok, fail) => ((resolve = ok), (reject = fail)));
    const r: Running = {
      recordingId,
      callId: leg.callId,
      path,
      handle: { saved },
      settled: false,
      resolve,
      reject,
    };
    this.byCallerLeg.set(leg.legId, r);
    this.byRecordingId.set(recordingId, r);
    this.log.info('call recording started', { callId: leg.callId, recordingId, path });
    if (!stillLive()) this.callerEnded(leg.legId);
    return r.handle;
  }

  /** An agent's leg was bridged to this caller's: its side goes on channel 1 from now. */
  async agentBridged(callerLegId: string, agentEndpointId: string): Promise<void> {
    const r = this.byCallerLeg.get(callerLegId);
    if (!r) return;
    try {
      await this.engine.addToRecording(r.recordingId, agentEndpointId, AGENT_CHANNEL);
    } catch (e) {
      // The call goes on; the file will hold the caller's side only, and the log says why.
      this.log.error("the agent's side is not on the call recording", {
        callId: r.callId,
        recordingId: r.recordingId,
        err: e,
      });
    }
  }

  /** A leg ended: when it is a recorded caller's, the recording stops and its file is written. */
  callerEnded(legId: string): void {
    const r = this.byCallerLeg.get(legId);
    if (!r) return;
    this.byCallerLeg.delete(legId);
    this.engine.stopRecording(r.recordingId).then(
      (res) => void this.saved(r, res.path, res.durationMs),
      (e: unknown) => {
        // Not found: the engine stopped first and wrote it itself; its event settles it.
        if (isDomainError(e, 'not-found')) return;
        this.failed(r, e);
      },
    );
  }

  /** The engine's events about recordings it ended itself (at its stop). */
  onEngineEvent(e: MediaEvent): void {
    if (e.kind === 'recording-saved') {
      const r = this.byRecordingId.get(e.recording.recordingId);
      if (r) void this.saved(r, e.recording.path, e.recording.durationMs);
    } else if (e.kind === 'recording-failed') {
      const r = this.byRecordingId.get(e.recordingId);
      if (r) this.failed(r, new Error(e.message));
    }
  }

  /** Recordings not yet written (tests and stop). */
  get running(): number {
    return this.byRecordingId.size;
  }

  private async saved(r: Running, path: string, durationMs: number): Promise<void> {
    let bytes: number;
    try {
      // The size is read from the disk: a path is given only for a file that is there.
      bytes = (await stat(path)).size;
    } catch (e) {
      return this.failed(r, e);
    }
    if (!this.settle(r)) return;
    this.log.info('call recording saved', { callId: r.callId, path, durationMs, bytes });
    r.resolve({ path, durationMs, bytes });
  }

  private failed(r: Running, e: unknown): void {
    if (!this.settle(r)) return;
    this.log.error('call recording lost: its file could not be written', {
      callId: r.callId,
      recordingId: r.recordingId,
      path: r.path,
      err: e,
    });
    r.reject(e instanceof Error ? e : new Error(String(e)));
  }

  private settle(r: Running): boolean {
    if (r.settled) return false;
    r.settled = true;
    this.byRecordingId.delete(r.recordingId);
    return true;
  }
}
