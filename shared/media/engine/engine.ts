/**
 * The media engine itself (docs/sip.md "Media engine"): RTP sockets, one 20 ms tick for every
 * endpoint that plays, prompt playback with barge-in, hold music with fresh announcements,
 * DTMF, bridging, recording and the inactivity watch. It runs wherever it is made: in the
 * media worker (media-worker.ts, the site's way) or in the caller's thread (tests, tools).
 *
 * Each endpoint sends one outbound stream: one SSRC for its life, a sequence number that
 * goes up by one a packet and a timestamp that goes on from source to source (prompt, music,
 * the bridged party; on by the pause between them), with the marker bit on the first packet
 * after a switch. So a far end
 * sees one talker whose audio changes, never a new stream to resynchronise to.
 *
 * The per-packet path allocates nothing it can avoid: headers are read into one reused view,
 * a bridged packet is rewritten (and transcoded) in the buffer it arrived in and sent on.
 */
import { randomInt } from 'node:crypto';
import dgram from 'node:dgram';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { DomainError, failedPrecondition, invalidArgument, notFound, unavailable } from '../../errors.js';
import type { Logger } from '../../log.js';
import { type DtmfDetector, detectDtmf, dtmfDetector } from '../dtmf.js';
import {
  type InactivityEvent,
  type InactivityWatch,
  inactivityWatch,
  stepInactivity,
} from '../inactivity.js';
import type { G711Codec, NegotiatedAudio } from '../sdp.js';
import type {
  HoldOptions,
  MediaEngine,
  MediaEngineConfig,
  MediaEngineStats,
  MediaEvent,
  OpenedEndpoint,
  PlayOptions,
  PlayOutcome,
  PromptPiece,
  RecordingResult,
} from './port.js';
import { PromptCache } from './prompt-cache.js';
import { checkConfig, checkRemote, evenAtOrAbove } from './checks.js';
import { type Cursor, fill } from './cursor.js';
import { RECORDING_CHANNELS, Recording } from './recording.js';
import {
  RTP_HEADER_BYTES,
  type RtpHeaderView,
  readRtpHeader,
  rtpHeaderView,
  writeRtpHeader,
} from './rtp-view.js';
import { transcodeInPlace } from './transcode.js';

export const TICK_MS = 20;
const FRAME_BYTES = 160;
/** After a stalled event loop, at most this many frames go out at once; the rest are skipped. */
const MAX_CATCH_UP_FRAMES = 3;
const SILENCE: Readonly<Record<G711Codec, number>> = { PCMA: 0xd5, PCMU: 0xff };

interface PlaySource {
  kind: 'play';
  cursor: Cursor;
  bargeIn: boolean;
  resolve: (o: PlayOutcome) => void;
}

interface HoldSource {
  kind: 'hold';
  music: Cursor;
  announcement: Cursor | null;
  fetching: boolean;
  nextAnnounceMs: number;
  announce: HoldOptions['announce'];
}

type Source = { kind: 'idle' } | PlaySource | HoldSource | { kind: 'bridge'; peer: Endpoint };

const IDLE: Source = { kind: 'idle' };

interface Endpoint {
  id: string;
  port: number;
  socket: dgram.Socket;
  remote: NegotiatedAudio | null;
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

interface ActiveRecording {
  rec: Recording;
  endpoints: Endpoint[];
}

export class LocalMediaEngine implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly usedPorts = new Set<number>();
  private readonly recordings = new Map<string, ActiveRecording>();
  private readonly handlers: ((e: MediaEvent) => void)[] = [];
  private readonly prompts = new PromptCache();
  private readonly header: RtpHeaderView = rtpHeaderView();
  private readonly counters: MediaEngineStats = { endpoints: 0, packetsIn: 0, packetsOut: 0, malformed: 0 };
  private nextPort: number;
  private ids = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickStartMs = 0;
  private framesDone = 0;
  private stopped = false;

  constructor(
    private readonly config: MediaEngineConfig,
    private readonly log: Logger,
  ) {
    checkConfig(config);
    this.nextPort = evenAtOrAbove(config.portMin);
  }

  onEvent(handler: (e: MediaEvent) => void): void {
    this.handlers.push(handler);
  }

  stats(): Promise<MediaEngineStats> {
    return Promise.resolve({ ...this.counters, endpoints: this.endpoints.size });
  }

  async open(): Promise<OpenedEndpoint> {
    if (this.stopped) throw unavailable('media engine: stopped');
    const { host, portMin, portMax } = this.config;
    const slots = Math.floor((portMax - evenAtOrAbove(portMin)) / 2) + 1;
    for (let tried = 0; tried < slots; tried++) {
      const port = this.nextPort;
      this.nextPort = port + 2 > portMax ? evenAtOrAbove(portMin) : port + 2;
      if (this.usedPorts.has(port)) continue;
      this.usedPorts.add(port);
      let socket: dgram.Socket;
      try {
        socket = await bindUdp(host, port);
      } catch (e) {
        this.usedPorts.delete(port);
        if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
        throw unavailable(`media engine: cannot bind RTP port ${host}:${port}`, e);
      }
      const ep = this.newEndpoint(port, socket);
      return { endpointId: ep.id, localHost: host, localPort: port };
    }
    const e = new DomainError(
      'resource-exhausted',
      `media engine: no free RTP port in ${portMin}-${portMax}`,
    );
    this.log.warn('RTP port range exhausted', { err: e, portMin, portMax });
    throw e;
  }

  setRemote(endpointId: string, audio: NegotiatedAudio): Promise<void> {
    return this.run(() => {
      const ep = this.endpoint(endpointId);
      checkRemote(audio);
      const te = audio.telephoneEventPayloadType;
      if (te === null) ep.detector = null;
      else if (ep.detector?.payloadType !== te) ep.detector = dtmfDetector(te);
      // A re-INVITE that changes the codec: clips loaded in the old one cannot go on. What was
      // playing ends `replaced` (the adapter plays it again); a bridge converts per packet.
      const playing = ep.source.kind === 'play' || ep.source.kind === 'hold';
      if (playing && ep.remote !== null && ep.remote.codec !== audio.codec) this.replaceSource(ep, IDLE);
      ep.remote = { ...audio };
      const receives = audio.direction === 'sendrecv' || audio.direction === 'recvonly';
      this.watchStep(ep, { kind: receives ? 'receiving' : 'not-receiving' }, performance.now());
      if (!receives) ep.wakeAtMs = null;
    });
  }

  async play(
    endpointId: string,
    pieces: readonly PromptPiece[],
    opts: PlayOptions = {},
  ): Promise<PlayOutcome> {
    const ep = this.endpoint(endpointId);
    const { codec } = this.remoteOf(ep, 'play');
    const mine = ++ep.commands;
    const bufs = await this.prompts.load(pieces, codec);
    if (ep.closed || ep.commands !== mine) return { outcome: 'replaced' };
    if (bufs.every((b) => b.length === 0)) return { outcome: 'done' };
    return new Promise<PlayOutcome>((resolve) => {
      this.replaceSource(ep, {
        kind: 'play',
        cursor: { bufs, idx: 0, off: 0 },
        bargeIn: opts.bargeIn === true,
        resolve,
      });
    });
  }

  async hold(endpointId: string, opts: HoldOptions): Promise<void> {
    const ep = this.endpoint(endpointId);
    const { codec } = this.remoteOf(ep, 'hold');
    const every = opts.announce?.everyMs;
    if (every !== undefined && !(Number.isFinite(every) && every > 0)) {
      throw invalidArgument('announce.everyMs', `must be a positive number of ms, got ${every}`);
    }
    const mine = ++ep.commands;
    const music = await this.prompts.load(opts.music, codec);
    if (music.every((b) => b.length === 0)) throw invalidArgument('music', 'no audio to loop');
    if (ep.closed || ep.commands !== mine) return;
    this.replaceSource(ep, {
      kind: 'hold',
      music: { bufs: music, idx: 0, off: 0 },
      announcement: null,
      fetching: false,
      nextAnnounceMs: performance.now() + (every ?? 0),
      announce: opts.announce,
    });
  }

  bridge(a: string, b: string): Promise<void> {
    return this.run(() => {
      if (a === b) throw invalidArgument('bridge', `cannot bridge endpoint ${a} to itself`);
      const x = this.endpoint(a);
      const y = this.endpoint(b);
      for (const ep of [x, y]) {
        this.remoteOf(ep, 'bridge');
        if (ep.source.kind === 'bridge') {
          throw failedPrecondition(`endpoint ${ep.id} is already bridged to ${ep.source.peer.id}`);
        }
      }
      this.replaceSource(x, { kind: 'bridge', peer: y });
      this.replaceSource(y, { kind: 'bridge', peer: x });
    });
  }

  unbridge(endpointId: string): Promise<void> {
    return this.run(() => {
      const ep = this.endpoint(endpointId);
      if (ep.source.kind !== 'bridge') throw failedPrecondition(`endpoint ${endpointId} is not bridged`);
      this.replaceSource(ep, IDLE);
    });
  }

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
    const rec = new Recording(`rec-${++this.ids}`, path, performance.now());
    eps.forEach((ep, channel) => ep.recordings.push({ rec, channel }));
    this.recordings.set(rec.recordingId, { rec, endpoints: eps });
    return rec.recordingId;
  }

  addToRecording(recordingId: string, endpointId: string, channel: number): Promise<void> {
    return this.run(() => {
      if (!Number.isInteger(channel) || channel < 0 || channel >= RECORDING_CHANNELS)
        throw invalidArgument('channel', `must be 0 to ${RECORDING_CHANNELS - 1}, got ${String(channel)}`);
      const r = typeof recordingId === 'string' ? this.recordings.get(recordingId) : undefined;
      if (!r) throw notFound('recording', String(recordingId));
      const ep = this.endpoint(endpointId);
      if (r.endpoints.includes(ep))
        throw failedPrecondition(`endpoint ${endpointId} is in recording ${recordingId} already`);
      // Closed endpoints leave r.endpoints (closeEndpoint): a channel listed here is held.
      const holder = r.endpoints.find((e) =>
        e.recordings.some((x) => x.rec === r.rec && x.channel === channel),
      );
      if (holder)
        throw failedPrecondition(`channel ${channel} of recording ${recordingId} is endpoint ${holder.id}'s`);
      ep.recordings.push({ rec: r.rec, channel });
      r.endpoints.push(ep);
    });
  }

  async stopRecording(recordingId: string): Promise<RecordingResult> {
    const r = this.recordings.get(recordingId);
    if (!r) throw notFound('recording', recordingId);
    return this.finishRecording(r);
  }

  close(endpointId: string): Promise<void> {
    return this.run(() => this.closeEndpoint(this.endpoint(endpointId)));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const ep of [...this.endpoints.values()]) this.closeEndpoint(ep);
    this.stopTicking();
    await Promise.all(
      [...this.recordings.values()].map(async (r) => {
        try {
          this.emit({ kind: 'recording-saved', recording: await this.finishRecording(r) });
        } catch (e) {
          this.emit({
            kind: 'recording-failed',
            recordingId: r.rec.recordingId,
            path: r.rec.path,
            message: e instanceof Error ? e.message : String(e),
          });
        }
      }),
    );
  }

  // ---- endpoints and sources ----

  private newEndpoint(port: number, socket: dgram.Socket): Endpoint {
    const ep: Endpoint = {
      id: `ep-${++this.ids}`,
      port,
      socket,
      remote: null,
      // RFC 3550 §5.1: random starting values.
      ssrc: randomInt(0, 2 ** 32 - 1) >>> 0,
      seq: randomInt(0, 0x10000),
      ts: randomInt(0, 2 ** 32 - 1) >>> 0,
      marker: true,
      source: IDLE,
      fwdSsrc: null,
      fwdOffset: 0,
      detector: null,
      watch: inactivityWatch(this.config.rtpTimeoutMs),
      wakeAtMs: null,
      lastPacketMs: 0,
      lastSentMs: 0,
      recordings: [],
      malformed: 0,
      closed: false,
      commands: 0,
    };
    socket.on('message', (msg) => this.receive(ep, msg));
    socket.on('error', (e) => this.log.warn('RTP socket error', { endpointId: ep.id, err: e }));
    this.endpoints.set(ep.id, ep);
    if (this.timer === null) this.startTicking();
    return ep;
  }

  private endpoint(endpointId: string): Endpoint {
    const ep = typeof endpointId === 'string' ? this.endpoints.get(endpointId) : undefined;
    if (!ep) throw notFound('media endpoint', String(endpointId));
    return ep;
  }

  private remoteOf(ep: Endpoint, what: string): NegotiatedAudio {
    if (!ep.remote)
      throw failedPrecondition(`endpoint ${ep.id}: ${what} needs the far end's SDP first (setRemote)`);
    return ep.remote;
  }

  /** Gives `ep` a new outbound source; what it played learns it was replaced, a bridge ends on both sides. */
  private replaceSource(ep: Endpoint, next: Source): void {
    ep.commands++;
    const prev = ep.source;
    this.setSource(ep, next);
    if (prev.kind === 'play') prev.resolve({ outcome: 'replaced' });
    if (prev.kind === 'bridge' && prev.peer.source.kind === 'bridge' && prev.peer.source.peer === ep) {
      this.setSource(prev.peer, IDLE);
    }
  }

  private setSource(ep: Endpoint, next: Source): void {
    ep.source = next;
    ep.marker = true;
    ep.fwdSsrc = null;
  }

  private closeEndpoint(ep: Endpoint): void {
    this.replaceSource(ep, IDLE);
    ep.closed = true;
    this.watchStep(ep, { kind: 'stopped' }, performance.now());
    ep.wakeAtMs = null;
    ep.recordings = [];
    for (const r of this.recordings.values()) r.endpoints = r.endpoints.filter((x) => x !== ep);
    ep.socket.close();
    this.endpoints.delete(ep.id);
    this.usedPorts.delete(ep.port);
    if (ep.malformed > 0)
      this.log.info('endpoint closed after dropping malformed RTP', {
        endpointId: ep.id,
        malformed: ep.malformed,
      });
    if (this.endpoints.size === 0) this.stopTicking();
  }

  private async finishRecording(r: ActiveRecording): Promise<RecordingResult> {
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

  // ---- inbound ----

  private receive(ep: Endpoint, b: Buffer): void {
    if (ep.closed) return;
    const h = this.header;
    const why = readRtpHeader(b, h);
    if (why !== null) {
      this.counters.malformed++;
      // Once per endpoint: a broken or hostile sender would flood the log otherwise.
      if (ep.malformed++ === 0) this.log.warn('malformed RTP dropped', { endpointId: ep.id, reason: why });
      return;
    }
    this.counters.packetsIn++;
    const r = ep.remote;
    if (!r) return;
    const now = performance.now();
    ep.lastPacketMs = now;
    if (ep.detector !== null && h.payloadType === ep.detector.payloadType) {
      this.digit(ep, b, h);
      return;
    }
    // Comfort noise and anything else not agreed is not audio we can use.
    if (h.payloadType !== r.payloadType) return;
    for (const { rec, channel } of ep.recordings) {
      rec.add(channel, h.ssrc, h.timestamp, b, h.payloadStart, h.payloadEnd, r.codec, now);
    }
    if (ep.source.kind === 'bridge') this.forward(ep.source.peer, r.codec, b, h, now);
  }

  private digit(ep: Endpoint, b: Buffer, h: RtpHeaderView): void {
    const res = detectDtmf(ep.detector!, {
      payloadType: h.payloadType,
      sequenceNumber: h.sequenceNumber,
      timestamp: h.timestamp,
      ssrc: h.ssrc,
      marker: h.marker,
      payload: b.subarray(h.payloadStart, h.payloadEnd),
    });
    ep.detector = res.detector;
    if (res.dropped !== null)
      this.log.debug('telephone-event dropped', { endpointId: ep.id, reason: res.dropped });
    if (res.digit === null) return;
    this.emit({ kind: 'digit', endpointId: ep.id, digit: res.digit });
    const s = ep.source;
    if (s.kind === 'play' && s.bargeIn) {
      this.setSource(ep, IDLE);
      s.resolve({ outcome: 'interrupted', digit: res.digit });
    }
  }

  /**
   * Sends a bridged party's packet on as `to`'s stream: `to`'s SSRC and next sequence number,
   * the party's timestamps shifted to go on from `to`'s, its codec turned into `to`'s. DTMF is
   * not forwarded (it was taken as digits before): the legs may have agreed different
   * telephone-event types or none, and a caller's PIN is not for the agent's phone.
   */
  private forward(to: Endpoint, from: G711Codec, b: Buffer, h: RtpHeaderView, now: number): void {
    const tr = to.remote;
    if (!tr || !sends(tr)) return;
    if (to.fwdSsrc !== h.ssrc) {
      to.fwdSsrc = h.ssrc;
      to.fwdOffset = (to.ts + silenceSince(to, now) - h.timestamp) >>> 0;
      to.marker = true;
    }
    const ts = (h.timestamp + to.fwdOffset) >>> 0;
    let out: Buffer = b;
    let end = h.payloadEnd;
    if (h.payloadStart !== RTP_HEADER_BYTES || end !== b.length) {
      // CSRCs, an extension or padding: the payload moves behind a plain header (rare).
      out = Buffer.allocUnsafe(RTP_HEADER_BYTES + end - h.payloadStart);
      out.set(b.subarray(h.payloadStart, end), RTP_HEADER_BYTES);
      end = out.length;
    }
    transcodeInPlace(out, RTP_HEADER_BYTES, end, from, tr.codec);
    writeRtpHeader(out, tr.payloadType, to.marker || h.marker, to.seq, ts, to.ssrc);
    to.marker = false;
    to.seq = (to.seq + 1) & 0xffff;
    to.ts = (ts + end - RTP_HEADER_BYTES) >>> 0;
    to.lastSentMs = now;
    this.counters.packetsOut++;
    to.socket.send(out, 0, end, tr.remotePort, tr.remoteAddress);
  }

  // ---- the tick ----

  private startTicking(): void {
    this.tickStartMs = performance.now();
    this.framesDone = 0;
    this.timer = setInterval(() => this.tick(), TICK_MS);
  }

  private stopTicking(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  /** One timer for all endpoints: frames go out by the clock, not by how often the timer fired. */
  private tick(): void {
    const now = performance.now();
    const expected = Math.floor((now - this.tickStartMs) / TICK_MS);
    const due = Math.min(expected - this.framesDone, MAX_CATCH_UP_FRAMES);
    this.framesDone = expected;
    for (const ep of this.endpoints.values()) {
      for (let i = 0; i < due && (ep.source.kind === 'play' || ep.source.kind === 'hold'); i++) {
        this.sendFrame(ep, now);
      }
      if (ep.wakeAtMs !== null && now >= ep.wakeAtMs) this.checkInactivity(ep, now);
    }
  }

  private sendFrame(ep: Endpoint, now: number): void {
    const s = ep.source;
    const r = ep.remote!;
    const pkt = Buffer.allocUnsafe(RTP_HEADER_BYTES + FRAME_BYTES);
    if (s.kind === 'play') {
      const n = fill(s.cursor, pkt, RTP_HEADER_BYTES, FRAME_BYTES, false);
      pkt.fill(SILENCE[r.codec], RTP_HEADER_BYTES + n);
      this.sendOwn(ep, r, pkt, now);
      if (s.cursor.idx >= s.cursor.bufs.length) {
        this.setSource(ep, IDLE);
        s.resolve({ outcome: 'done' });
      }
    } else if (s.kind === 'hold') {
      if (s.announcement) {
        const n = fill(s.announcement, pkt, RTP_HEADER_BYTES, FRAME_BYTES, false);
        pkt.fill(SILENCE[r.codec], RTP_HEADER_BYTES + n);
        if (s.announcement.idx >= s.announcement.bufs.length) {
          s.announcement = null;
          s.nextAnnounceMs = now + (s.announce?.everyMs ?? 0);
        }
      } else {
        fill(s.music, pkt, RTP_HEADER_BYTES, FRAME_BYTES, true);
        if (s.announce && !s.fetching && now >= s.nextAnnounceMs) this.fetchAnnouncement(ep, s, r.codec);
      }
      this.sendOwn(ep, r, pkt, now);
    }
  }

  private fetchAnnouncement(ep: Endpoint, s: HoldSource, codec: G711Codec): void {
    const announce = s.announce!;
    s.fetching = true;
    void (async () => {
      try {
        const bufs = await this.prompts.load(await announce.pieces(), codec);
        if (ep.source === s) s.announcement = { bufs, idx: 0, off: 0 };
      } catch (e) {
        this.log.warn('hold announcement failed; the music goes on', { endpointId: ep.id, err: e });
        s.nextAnnounceMs = performance.now() + announce.everyMs;
      } finally {
        s.fetching = false;
      }
    })();
  }

  /** Our own frame (prompt or music): the stream's next sequence number and 160 samples on. */
  private sendOwn(ep: Endpoint, r: NegotiatedAudio, pkt: Buffer, now: number): void {
    if (ep.marker) ep.ts = (ep.ts + silenceSince(ep, now)) >>> 0;
    writeRtpHeader(pkt, r.payloadType, ep.marker, ep.seq, ep.ts, ep.ssrc);
    ep.ts = (ep.ts + FRAME_BYTES) >>> 0;
    ep.lastSentMs = now;
    // Time passes for a far end that wants no audio (hold), but no packet is counted for it.
    if (!sends(r)) return;
    ep.marker = false;
    ep.seq = (ep.seq + 1) & 0xffff;
    this.counters.packetsOut++;
    ep.socket.send(pkt, r.remotePort, r.remoteAddress);
  }

  // ---- inactivity ----

  private checkInactivity(ep: Endpoint, now: number): void {
    ep.wakeAtMs = null;
    if (ep.lastPacketMs > 0) this.watchStep(ep, { kind: 'packet' }, ep.lastPacketMs);
    this.watchStep(ep, { kind: 'tick' }, now);
  }

  private watchStep(ep: Endpoint, event: InactivityEvent, now: number): void {
    const { watch, commands } = stepInactivity(ep.watch, event, now);
    ep.watch = watch;
    for (const c of commands) {
      if (c.kind === 'wake-at') ep.wakeAtMs = c.atMs;
      else this.emit({ kind: 'inactive', endpointId: ep.id, silentForMs: Math.round(c.silentForMs) });
    }
  }

  // ---- plumbing ----

  private emit(e: MediaEvent): void {
    for (const h of this.handlers) {
      try {
        h(e);
      } catch (err) {
        this.log.error('media event handler threw', { event: e.kind, err });
      }
    }
  }

  /** A synchronous command as a promise, its refusal a rejection (the port is async throughout). */
  private run(f: () => void): Promise<void> {
    try {
      f();
      return Promise.resolve();
    } catch (e) {
      return Promise.reject(e as Error);
    }
  }
}

/**
 * The samples of silence since the endpoint last sent, beyond the one frame a continuous
 * stream advances: a talkspurt after a pause starts that much later in RTP time (RFC 3551
 * §4.1), so the far end's jitter buffer sees the pause as a pause, not as a late packet.
 */
const silenceSince = (ep: Endpoint, now: number): number =>
  ep.lastSentMs === 0 ? 0 : Math.max(0, Math.round((now - ep.lastSentMs) * 8) - FRAME_BYTES);

const sends = (r: NegotiatedAudio): boolean => r.direction === 'sendrecv' || r.direction === 'sendonly';

function bindUdp(host: string, port: number): Promise<dgram.Socket> {
  return new Promise((resolve, reject) => {
    const s = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' });
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
