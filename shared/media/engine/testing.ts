/**
 * Test support for the media engine: far ends as raw UDP sockets on loopback that record what
 * they hear, prompt files with known bytes, and the negotiated audio that points at a peer.
 */
import dgram from 'node:dgram';
import { EventEmitter } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type Rtp, readRtp, writeRtp } from '../rtp-packets.js';
import type { G711Codec, NegotiatedAudio } from '../sdp.js';
import type { Logger } from '../../log.js';
import type { MediaEngineConfig, MediaEvent, PromptPiece } from './port.js';
import type { EngineThread } from './worker-engine.js';
import type { FromWorker } from './worker-protocol.js';
import { type ServedPort, serveMediaEngine } from './worker-serve.js';
import { MessageChannel } from 'node:worker_threads';

export interface Heard extends Rtp {
  atMs: number;
}

export class RtpPeer {
  readonly heard: Heard[] = [];
  private constructor(
    private readonly socket: dgram.Socket,
    readonly port: number,
  ) {
    socket.on('message', (m) => this.heard.push({ ...readRtp(m), atMs: performance.now() }));
  }

  /** A far end on loopback; `host` another loopback address (Linux answers all of 127/8). */
  static async open(host = '127.0.0.1'): Promise<RtpPeer> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => s.bind(0, host, resolve));
    return new RtpPeer(s, s.address().port);
  }

  send(port: number, p: Rtp | Uint8Array): Promise<void> {
    const bytes = p instanceof Uint8Array ? p : writeRtp(p);
    return new Promise((resolve, reject) =>
      this.socket.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  }

  /** The payloads heard, one after the other. */
  audio(from = 0): Uint8Array {
    return Buffer.concat(this.heard.slice(from).map((h) => h.payload));
  }

  close(): void {
    this.socket.close();
  }
}

export function audioTo(
  peer: RtpPeer,
  codec: G711Codec,
  over: Partial<NegotiatedAudio> = {},
): NegotiatedAudio {
  return {
    remoteAddress: '127.0.0.1',
    remotePort: peer.port,
    codec,
    payloadType: codec === 'PCMA' ? 8 : 0,
    telephoneEventPayloadType: 101,
    direction: 'sendrecv',
    heldByFarEnd: false,
    remotePtimeMs: null,
    ...over,
  };
}

export const tempDir = (): string => mkdtempSync(join(tmpdir(), 'media-engine-'));

/** A raw G.711 clip file in `dir` holding `bytes`. */
export function clipFile(
  dir: string,
  name: string,
  bytes: Uint8Array,
  codec: G711Codec = 'PCMA',
): PromptPiece {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  return { file, codec };
}

/** Bytes 0..n-1 cycling through a range that marks the clip (no two test clips share a value). */
export const marked = (n: number, from: number, span = 16): Uint8Array =>
  Uint8Array.from({ length: n }, (_, i) => from + (i % span));

export const eventsOf = <K extends MediaEvent['kind']>(
  events: MediaEvent[],
  kind: K,
): Extract<MediaEvent, { kind: K }>[] =>
  events.filter((e): e is Extract<MediaEvent, { kind: K }> => e.kind === kind);

/**
 * The worker's protocol without the worker: the engine served on one end of a MessageChannel
 * in this thread, the proxy on the other (so coverage sees the serving side too).
 */
export function channelThread(config: MediaEngineConfig, log: Logger): EngineThread {
  const { port1, port2 } = new MessageChannel();
  const events = new EventEmitter();
  port1.on('message', (m: FromWorker) => {
    events.emit('message', m);
    // As the worker does: a refused start ends it once the refusal is out.
    if (m.kind === 'result' && m.id === 0 && !m.ok) events.emit('exit', 1);
  });
  serveMediaEngine(port2 as unknown as ServedPort, config, log);
  return {
    postMessage: (m) => port1.postMessage(m),
    on: (event: string, listener: (arg: never) => void) =>
      events.on(event, listener as (arg: unknown) => void),
    terminate: () => {
      port1.close();
      events.emit('exit', 1);
      return Promise.resolve();
    },
  };
}
