/**
 * One media engine endpoint (engine.ts): its state, what it sends (nothing, a prompt, hold
 * music, the bridged party), its UDP socket, and the RTP-time helpers both outbound paths share
 * (playout.ts for our own frames, forward.ts for a bridged party's packets). Apart from the
 * engine class so that each packet path is a function of an endpoint, testable and readable
 * without the command API around it.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import type { Logger } from '../../log.js';
import type { DtmfDetector } from '../dtmf.js';
import { type InactivityWatch, inactivityWatch } from '../inactivity.js';
import type { NegotiatedAudio } from '../sdp.js';
import type { Cursor } from './cursor.js';
import type { LatchState } from './latch.js';
import type { HoldOptions, MediaEngineStats, MediaEvent, PlayOutcome, RtpLatching } from './port.js';
import type { PromptCache } from './prompt-cache.js';
import type { Recording } from './recording.js';
import type { RtpHeaderView } from './rtp-view.js';

export const FRAME_BYTES = 160;

export interface PlaySource {
  kind: 'play';
  cursor: Cursor;
  bargeIn: boolean;
  resolve: (o: PlayOutcome) => void;
}

export interface HoldSource {
  kind: 'hold';
  music: Cursor;
  announcement: Cursor | null;
  fetching: boolean;
  nextAnnounceMs: number;
  announce: HoldOptions['announce'];
}

export type Source = { kind: 'idle' } | PlaySource | HoldSource | { kind: 'bridge'; peer: Endpoint };

export const IDLE: Source = { kind: 'idle' };

export interface Endpoint {
  id: string;
  port: number;
  socket: dgram.Socket;
  /** The socket is IPv6 (sources are reported in IPv6 form). */
  udp6: boolean;
  remote: NegotiatedAudio | null;
  /** Where our RTP goes: the SDP's address, or the source latched (latch.ts). */
  sendHost: string;
  sendPort: number;
  /** Whose packets are the far end's (latch.ts): the state, the source learned ('' before). */
  latch: LatchState;
  srcHost: string;
  srcPort: number;
  /** The SDP's host as the socket reports sources (null: no address to hold sources to). */
  sdpHost: string | null;
  /** Mode `any`: a source off the SDP's host may latch until then (performance.now() ms). */
  strangersUntilMs: number;
  /** Packets dropped from other sources, and latches taken elsewhere than the SDP (each logged once). */
  wrongSource: number;
  latchedElsewhere: number;
  ssrc: number;
  seq: number;
  ts: number;
  marker: boolean;
  source: Source;
  /** The bridged party's SSRC the timestamp offset was taken for (null: take it anew). */
  fwdSsrc: number | null;
  fwdOffset: number;
  detector: DtmfDetector | null;
  watch: InactivityWatch;
  wakeAtMs: number | null;
  lastPacketMs: number;
  /** When the endpoint last sent (or would have, to a far end that wants nothing); 0 before. */
  lastSentMs: number;
  recordings: { rec: Recording; channel: number }[];
  malformed: number;
  closed: boolean;
  /**
   * Bumped by every command that sets what the endpoint sends. A play or hold whose clips were
   * still loading when a later command came (a bridge once the agent answered) gives way to it.
   */
  commands: number;
}

/**
 * What the engine's packet paths share with it (receive.ts, forward.ts, playout.ts,
 * endpoint-inactivity.ts): one object, made once, so the per-packet path allocates nothing.
 */
export interface EngineShared {
  readonly counters: Omit<MediaEngineStats, 'playoutLag'>;
  readonly prompts: PromptCache;
  /** The one reused view incoming headers are read into. */
  readonly header: RtpHeaderView;
  readonly log: Logger;
  /** Whose packets an endpoint takes and where it sends (latch.ts). */
  readonly latching: RtpLatching;
  emit(e: MediaEvent): void;
}

export function newEndpoint(
  id: string,
  port: number,
  socket: dgram.Socket,
  udp6: boolean,
  rtpTimeoutMs: number,
): Endpoint {
  return {
    id,
    port,
    socket,
    udp6,
    remote: null,
    sendHost: '',
    sendPort: 0,
    latch: 'open',
    srcHost: '',
    srcPort: 0,
    sdpHost: null,
    strangersUntilMs: 0,
    wrongSource: 0,
    latchedElsewhere: 0,
    // RFC 3550 §5.1: random starting values.
    ssrc: randomInt(0, 2 ** 32 - 1) >>> 0,
    seq: randomInt(0, 0x10000),
    ts: randomInt(0, 2 ** 32 - 1) >>> 0,
    marker: true,
    source: IDLE,
    fwdSsrc: null,
    fwdOffset: 0,
    detector: null,
    watch: inactivityWatch(rtpTimeoutMs),
    wakeAtMs: null,
    lastPacketMs: 0,
    lastSentMs: 0,
    recordings: [],
    malformed: 0,
    closed: false,
    commands: 0,
  };
}

/** Gives `ep` a new outbound source; what it played learns it was replaced, a bridge ends on both sides. */
export function replaceSource(ep: Endpoint, next: Source): void {
  ep.commands++;
  const prev = ep.source;
  setSource(ep, next);
  if (prev.kind === 'play') prev.resolve({ outcome: 'replaced' });
  if (prev.kind === 'bridge' && prev.peer.source.kind === 'bridge' && prev.peer.source.peer === ep) {
    setSource(prev.peer, IDLE);
  }
}

export function setSource(ep: Endpoint, next: Source): void {
  ep.source = next;
  ep.marker = true;
  ep.fwdSsrc = null;
}

/**
 * The samples of silence since the endpoint last sent, beyond the one frame a continuous
 * stream advances: a talkspurt after a pause starts that much later in RTP time (RFC 3551
 * §4.1), so the far end's jitter buffer sees the pause as a pause, not as a late packet.
 */
export const silenceSince = (ep: Endpoint, now: number): number =>
  ep.lastSentMs === 0 ? 0 : Math.max(0, Math.round((now - ep.lastSentMs) * 8) - FRAME_BYTES);

export const sends = (r: NegotiatedAudio): boolean =>
  r.direction === 'sendrecv' || r.direction === 'sendonly';

/** Our RTP sockets are IPv6 when the engine's host is an IPv6 address. */
export const isUdp6Host = (host: string): boolean => host.includes(':');

export function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: isUdp6Host(host) ? 'udp6' : 'udp4' });
    const onError = (e: Error): void => {
      s.close();
      reject(e);
    };
    s.once('error', onError);
    s.bind(port, host, () => {
      s.off('error', onError);
      resolve(s);
    });
  });
}
