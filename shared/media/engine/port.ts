/**
 * The media engine port (docs/sip.md "Media engine"): what the SIP adapter asks of the RTP side,
 * in terms of endpoints (one local RTP socket each, one per call leg). The engine here runs in
 * a worker thread (worker-engine.ts) or in the caller's thread (engine.ts, for tests and
 * tools); an rtpengine adapter could stand behind the same port later.
 *
 * Every method refuses bad input (an unknown endpoint, a second bridge, a recording path in a
 * folder that cannot be written) with a DomainError naming what is wrong, and changes nothing.
 */
import type { DtmfDigit } from '../dtmf.js';
import type { G711Codec, NegotiatedAudio } from '../sdp.js';
import type { PlayoutLagTotals } from './playout-lag.js';

export interface MediaEngineConfig {
  /** The address the RTP sockets bind to and the SDP names. */
  host: string;
  /** Even ports in [portMin, portMax] are handed out (RTP's convention; RTCP on +1 is not read). */
  portMin: number;
  portMax: number;
  /** No RTP for this long on an endpoint that expects media in: `inactive` (inactivity.ts). */
  rtpTimeoutMs: number;
  /**
   * Symmetric RTP (latch.ts): `sdp-host` (default) takes the far end's packets only from the
   * SDP's host and answers the address:port they come from; `any` lets a source elsewhere
   * latch in the first seconds (far ends behind NAT); `off` takes any source and sends to the SDP.
   */
  latching?: RtpLatching;
}

export type RtpLatching = 'sdp-host' | 'any' | 'off';

export interface OpenedEndpoint {
  endpointId: string;
  localHost: string;
  localPort: number;
}

/** One clip of raw G.711 (the prompt build's clip.alaw or clip.ulaw), in the codec it is in. */
export interface PromptPiece {
  file: string;
  codec: G711Codec;
}

export interface PlayOptions {
  /** A digit stops the playback (the digit is still reported as a `digit` event). */
  bargeIn?: boolean;
}

/**
 * - `done`: played to the end;
 * - `interrupted`: a digit stopped it (bargeIn), `digit` says which;
 * - `replaced`: another play, a hold, a bridge or close took the endpoint's outbound stream
 *   (also one that came while this play's clips were still loading: the later command wins).
 */
export type PlayOutcome =
  { outcome: 'done' } | { outcome: 'interrupted'; digit: DtmfDigit } | { outcome: 'replaced' };

export interface HoldOptions {
  /** Looped while the caller waits. */
  music: readonly PromptPiece[];
  /**
   * Every `everyMs` (counted from the end of the previous announcement, the first one after
   * `everyMs` of music) the music pauses for `pieces()`, asked fresh each time: the queue
   * position and expected wait change while the caller waits.
   */
  announce?: {
    everyMs: number;
    pieces: () => readonly PromptPiece[] | Promise<readonly PromptPiece[]>;
  };
}

export interface RecordingResult {
  recordingId: string;
  path: string;
  durationMs: number;
}

export type MediaEvent =
  | { kind: 'digit'; endpointId: string; digit: DtmfDigit }
  /** No RTP for rtpTimeoutMs on an endpoint that expects media: its far end is gone. Once per endpoint. */
  | { kind: 'inactive'; endpointId: string; silentForMs: number }
  /** A recording ended without stopRecording (engine stop) was written, or could not be. */
  | { kind: 'recording-saved'; recording: RecordingResult }
  | { kind: 'recording-failed'; recordingId: string; path: string; message: string }
  /** The engine is gone (its worker died): every endpoint with it. The site must stop taking calls. */
  | { kind: 'failed'; message: string };

/** Counters for operators and the bench; the per-packet path only increments them. */
export interface MediaEngineStats {
  endpoints: number;
  packetsIn: number;
  packetsOut: number;
  /** Datagrams that were not usable RTP (each endpoint logs its first). */
  malformed: number;
  /** RTP dropped because it came from a source other than the far end's (latch.ts; each endpoint logs its first). */
  wrongSource: number;
  /** Latches taken to an address:port other than the SDP's (a NAT, or a far end sending from another port). */
  latchedElsewhere: number;
  /** Time our own audio lost to a stalled engine (playout-lag.ts); the site warns on it. */
  playoutLag: PlayoutLagTotals;
}

export interface MediaEngine {
  /** A new endpoint on a free port of the range (`resource-exhausted` when none is left). */
  open(): Promise<OpenedEndpoint>;
  /** What the SDP agreed: where to send, which codec and payload types, the direction. A new codec ends a play or hold (`replaced`). */
  setRemote(endpointId: string, audio: NegotiatedAudio): Promise<void>;
  /** Plays the pieces in order; resolves when they end or something stops them. On a bridged endpoint it ends the bridge (the other side falls silent). */
  play(endpointId: string, pieces: readonly PromptPiece[], opts?: PlayOptions): Promise<PlayOutcome>;
  /** Queue treatment until a play, a bridge or close replaces it. */
  hold(endpointId: string, opts: HoldOptions): Promise<void>;
  /** Each endpoint's far end hears the other's (both leave whatever they were playing). */
  bridge(a: string, b: string): Promise<void>;
  /** Ends the endpoint's bridge (both sides fall silent until told what to play). */
  unbridge(endpointId: string): Promise<void>;
  /** Starts a two-channel WAV: channel i is what endpoint i's far end sends (at most 2). */
  record(endpointIds: readonly string[], path: string): Promise<string>;
  /**
   * Adds an endpoint to a running recording on `channel` (0 or 1): what its far end sends is
   * recorded there from now on, at its place on the recording's clock. A channel whose endpoint
   * closed can take another (a second agent after a transfer); one still held cannot.
   */
  addToRecording(recordingId: string, endpointId: string, channel: number): Promise<void>;
  /** Writes the recording; rejects when the file cannot be written (nothing is lost silently). */
  stopRecording(recordingId: string): Promise<RecordingResult>;
  close(endpointId: string): Promise<void>;
  /** Closes every endpoint, writes open recordings (reported as events), ends the engine. */
  stop(): Promise<void>;
  onEvent(handler: (e: MediaEvent) => void): void;
  stats(): Promise<MediaEngineStats>;
}

export type { G711Codec, NegotiatedAudio, DtmfDigit };
