/**
 * The engine's recordings in progress (engine.ts `record`, `addToRecording`, `stopRecording`):
 * which endpoints feed which recording's channels, the checks a recording's start and a new
 * channel pass, and the file written at the end (recording.ts). Apart from the engine class:
 * the packet path only reads `ep.recordings`; starting, joining and finishing is this file.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DomainError, failedPrecondition, invalidArgument, notFound } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { Endpoint } from './endpoint.js';
import type { MediaEvent, RecordingResult } from './port.js';
import { RECORDING_CHANNELS, Recording } from './recording.js';

interface ActiveRecording {
  rec: Recording;
  endpoints: Endpoint[];
}

export class ActiveRecordings {
  private readonly recordings = new Map<string, ActiveRecording>();

  constructor(
    private readonly log: Logger,
    /** The engine's one id count (endpoints and recordings share it). */
    private readonly nextId: () => number,
    /** The engine's endpoint by id; an unknown one is refused `not-found`. */
    private readonly endpoint: (endpointId: string) => Endpoint,
  ) {}

  async record(endpointIds: readonly string[], path: string): Promise<string> {
    if (!Array.isArray(endpointIds) || endpointIds.length < 1 || endpointIds.length > RECORDING_CHANNELS) {
      throw invalidArgument('endpointIds', `must name 1 to ${RECORDING_CHANNELS} endpoints`);
    }
    if (new Set(endpointIds).size !== endpointIds.length) {
      throw invalidArgument('endpointIds', 'names an endpoint twice');
    }
    if (typeof path !== 'string' || !path.endsWith('.wav')) {
      throw invalidArgument('path', `must be a .wav file path, got ${JSON.stringify(path)}`);
    }
    const eps = endpointIds.map((id) => this.endpoint(id));
    try {
      await access(dirname(path), constants.W_OK);
    } catch (e) {
      throw failedPrecondition(`recording folder ${dirname(path)} cannot be written`, e);
    }
    // Checked after the wait, with nothing awaited until the recording is in place: two calls
    // for one path cannot both pass.
    for (const r of this.recordings.values()) {
      if (r.rec.path === path)
        throw failedPrecondition(`${path} is being recorded already (${r.rec.recordingId})`);
    }
    if (eps.some((ep) => ep.closed))
      throw failedPrecondition('an endpoint closed before its recording began');
    const rec = new Recording(`rec-${this.nextId()}`, path, performance.now());
    eps.forEach((ep, channel) => ep.recordings.push({ rec, channel }));
    this.recordings.set(rec.recordingId, { rec, endpoints: eps });
    return rec.recordingId;
  }

  /** Synchronous: the engine runs it as a command (a refusal is a rejection). */
  add(recordingId: string, endpointId: string, channel: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel >= RECORDING_CHANNELS)
      throw invalidArgument('channel', `must be 0 to ${RECORDING_CHANNELS - 1}, got ${String(channel)}`);
    const r = typeof recordingId === 'string' ? this.recordings.get(recordingId) : undefined;
    if (!r) throw notFound('recording', String(recordingId));
    const ep = this.endpoint(endpointId);
    if (r.endpoints.includes(ep))
      throw failedPrecondition(`endpoint ${endpointId} is in recording ${recordingId} already`);
    // Closed endpoints leave r.endpoints (engine.ts closeEndpoint, dropEndpoint): a channel listed here is held.
    const holder = r.endpoints.find((e) =>
      e.recordings.some((x) => x.rec === r.rec && x.channel === channel),
    );
    if (holder)
      throw failedPrecondition(`channel ${channel} of recording ${recordingId} is endpoint ${holder.id}'s`);
    ep.recordings.push({ rec: r.rec, channel });
    r.endpoints.push(ep);
  }

  async stop(recordingId: string): Promise<RecordingResult> {
    const r = this.recordings.get(recordingId);
    if (!r) throw notFound('recording', recordingId);
    return this.finish(r);
  }

  /** A closed endpoint leaves every recording; its channel is free for another. */
  dropEndpoint(ep: Endpoint): void {
    for (const r of this.recordings.values()) r.endpoints = r.endpoints.filter((x) => x !== ep);
  }

  /** The engine's stop: every recording still open is written, and said saved or failed. */
  async finishAll(emit: (e: MediaEvent) => void): Promise<void> {
    await Promise.all(
      [...this.recordings.values()].map(async (r) => {
        try {
          emit({ kind: 'recording-saved', recording: await this.finish(r) });
        } catch (e) {
          emit({
            kind: 'recording-failed',
            recordingId: r.rec.recordingId,
            path: r.rec.path,
            message: e instanceof Error ? e.message : String(e),
          });
        }
      }),
    );
  }

  private async finish(r: ActiveRecording): Promise<RecordingResult> {
    const { rec } = r;
    this.recordings.delete(rec.recordingId);
    for (const ep of r.endpoints) ep.recordings = ep.recordings.filter((x) => x.rec !== rec);
    try {
      const { path, durationMs } = await rec.finish(performance.now());
      return { recordingId: rec.recordingId, path, durationMs };
    } catch (e) {
      const err = new DomainError('internal', `recording ${rec.recordingId}: cannot write ${rec.path}`, {
        cause: e,
      });
      this.log.error('recording lost', { recordingId: rec.recordingId, path: rec.path, err });
      throw err;
    }
  }
}
