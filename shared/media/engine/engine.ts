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
 *
 * This file is the command API, the endpoint table with its ports and the tick; the parts it
 * drives are beside it: an endpoint's state and socket (endpoint.ts), a packet in with its
 * DTMF (receive.ts), whose packets are the far end's and where ours go (latch.ts, checked
 * anew at each setRemote), a bridged packet sent on (forward.ts), our own frames (playout.ts)
 * and how late they ran (playout-lag.ts), the inactivity watch (endpoint-inactivity.ts) and
 * the recordings in progress (active-recordings.ts).
 */
import type dgram from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { DomainError, failedPrecondition, invalidArgument, notFound, unavailable } from '../../errors.js';
import type { Logger } from '../../log.js';
import { dtmfDetector } from '../dtmf.js';
import type { NegotiatedAudio } from '../sdp.js';
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
import { ActiveRecordings } from './active-recordings.js';
import { checkConfig, checkRemote, evenAtOrAbove } from './checks.js';
import {
  bindUdp,
  type Endpoint,
  type EngineShared,
  IDLE,
  isUdp6Host,
  newEndpoint,
  replaceSource,
} from './endpoint.js';
import { checkInactivity, watchStep } from './endpoint-inactivity.js';
import { DEFAULT_RTP_LATCHING, resetLatch } from './latch.js';
import { sendFrame } from './playout.js';
import { PlayoutLag } from './playout-lag.js';
import { receive } from './receive.js';
import { rtpHeaderView } from './rtp-view.js';

export const TICK_MS = 20;
/**
 * After a stalled event loop, at most this many frames go out at once: a longer burst would
 * reach the far end's jitter buffer too late to be played anyway. The rest of the stall is
 * lost time, counted and warned about (playout-lag.ts).
 */
const MAX_CATCH_UP_FRAMES = 3;
/** At most one warning this often while the engine keeps falling behind. */
const LAG_WARN_EVERY_MS = 10_000;

export class LocalMediaEngine implements MediaEngine {
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly usedPorts = new Set<number>();
  private readonly recordings: ActiveRecordings;
  private readonly handlers: ((e: MediaEvent) => void)[] = [];
  private readonly counters: Omit<MediaEngineStats, 'playoutLag'> = {
    endpoints: 0,
    packetsIn: 0,
    packetsOut: 0,
    malformed: 0,
    wrongSource: 0,
    latchedElsewhere: 0,
  };
  /** What the packet paths share with the engine (endpoint.ts `EngineShared`). */
  private readonly cx: EngineShared;
  private nextPort: number;
  private ids = 0;
  private timer: NodeJS.Timeout | null = null;
  private tickStartMs = 0;
  private framesDone = 0;
  private readonly lag = new PlayoutLag(LAG_WARN_EVERY_MS);
  private stopped = false;

  constructor(
    private readonly config: MediaEngineConfig,
    private readonly log: Logger,
  ) {
    checkConfig(config);
    this.nextPort = evenAtOrAbove(config.portMin);
    this.cx = {
      counters: this.counters,
      prompts: new PromptCache(),
      header: rtpHeaderView(),
      log,
      latching: config.latching ?? DEFAULT_RTP_LATCHING,
      emit: (e) => this.emit(e),
    };
    this.recordings = new ActiveRecordings(
      log,
      () => ++this.ids,
      (id) => this.endpoint(id),
    );
  }

  onEvent(handler: (e: MediaEvent) => void): void {
    this.handlers.push(handler);
  }

  stats(): Promise<MediaEngineStats> {
    return Promise.resolve({
      ...this.counters,
      endpoints: this.endpoints.size,
      playoutLag: { ...this.lag.total },
    });
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
      if (playing && ep.remote !== null && ep.remote.codec !== audio.codec) replaceSource(ep, IDLE);
      ep.remote = { ...audio };
      // A re-INVITE (or a session refresh) may come from a new NAT mapping: learn the source anew.
      resetLatch(this.cx, ep, ep.remote, performance.now());
      const receives = audio.direction === 'sendrecv' || audio.direction === 'recvonly';
      watchStep(this.cx, ep, { kind: receives ? 'receiving' : 'not-receiving' }, performance.now());
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
    const bufs = await this.cx.prompts.load(pieces, codec);
    if (ep.closed || ep.commands !== mine) return { outcome: 'replaced' };
    if (bufs.every((b) => b.length === 0)) return { outcome: 'done' };
    return new Promise<PlayOutcome>((resolve) => {
      replaceSource(ep, {
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
    const music = await this.cx.prompts.load(opts.music, codec);
    if (music.every((b) => b.length === 0)) throw invalidArgument('music', 'no audio to loop');
    if (ep.closed || ep.commands !== mine) return;
    replaceSource(ep, {
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
      replaceSource(x, { kind: 'bridge', peer: y });
      replaceSource(y, { kind: 'bridge', peer: x });
    });
  }

  unbridge(endpointId: string): Promise<void> {
    return this.run(() => {
      const ep = this.endpoint(endpointId);
      if (ep.source.kind !== 'bridge') throw failedPrecondition(`endpoint ${endpointId} is not bridged`);
      replaceSource(ep, IDLE);
    });
  }

  record(endpointIds: readonly string[], path: string): Promise<string> {
    return this.recordings.record(endpointIds, path);
  }

  addToRecording(recordingId: string, endpointId: string, channel: number): Promise<void> {
    return this.run(() => this.recordings.add(recordingId, endpointId, channel));
  }

  stopRecording(recordingId: string): Promise<RecordingResult> {
    return this.recordings.stop(recordingId);
  }

  close(endpointId: string): Promise<void> {
    return this.run(() => this.closeEndpoint(this.endpoint(endpointId)));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    for (const ep of [...this.endpoints.values()]) this.closeEndpoint(ep);
    this.stopTicking();
    await this.recordings.finishAll((e) => this.emit(e));
  }

  // ---- endpoints ----

  private newEndpoint(port: number, socket: dgram.Socket): Endpoint {
    const ep = newEndpoint(
      `ep-${++this.ids}`,
      port,
      socket,
      isUdp6Host(this.config.host),
      this.config.rtpTimeoutMs,
    );
    socket.on('message', (msg, from) => receive(this.cx, ep, msg, from));
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

  private closeEndpoint(ep: Endpoint): void {
    replaceSource(ep, IDLE);
    ep.closed = true;
    watchStep(this.cx, ep, { kind: 'stopped' }, performance.now());
    ep.wakeAtMs = null;
    ep.recordings = [];
    this.recordings.dropEndpoint(ep);
    ep.socket.close();
    this.endpoints.delete(ep.id);
    this.usedPorts.delete(ep.port);
    if (ep.malformed > 0)
      this.log.info('endpoint closed after dropping malformed RTP', {
        endpointId: ep.id,
        malformed: ep.malformed,
      });
    if (ep.wrongSource > 0)
      this.log.info('endpoint closed after dropping RTP from other sources', {
        endpointId: ep.id,
        wrongSource: ep.wrongSource,
      });
    if (this.endpoints.size === 0) this.stopTicking();
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
    const behind = expected - this.framesDone;
    const due = Math.min(behind, MAX_CATCH_UP_FRAMES);
    this.framesDone = expected;
    let playing = false;
    for (const ep of this.endpoints.values()) {
      if (ep.source.kind === 'play' || ep.source.kind === 'hold') playing = true;
      for (let i = 0; i < due && (ep.source.kind === 'play' || ep.source.kind === 'hold'); i++) {
        sendFrame(this.cx, ep, now);
      }
      if (ep.wakeAtMs !== null && now >= ep.wakeAtMs) checkInactivity(this.cx, ep, now);
    }
    // A stall matters only to our own audio: forwarded packets go on as they arrive.
    if (behind > due && playing) this.noteLag((behind - due) * TICK_MS, now);
  }

  private noteLag(lostMs: number, now: number): void {
    const r = this.lag.note(lostMs, now);
    if (r)
      this.log.warn('media engine fell behind the clock: prompts and music heard late (CPU starved?)', {
        stalls: r.sinceLast.stalls,
        delayedMs: r.sinceLast.delayedMs,
        longestStallMs: r.sinceLast.longestStallMs,
        totalStalls: r.total.stalls,
        totalDelayedMs: r.total.delayedMs,
        endpoints: this.endpoints.size,
      });
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
