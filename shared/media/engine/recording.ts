/**
 * One call recording (docs/sip.md "Media engine"): a WAV of 8 kHz 16-bit PCM with two channels,
 * channel 0 what the first endpoint's far end sent (the caller), channel 1 the second's (the
 * agent). Two channels rather than a mix: a complaint review hears who said what, and a mix can
 * be made from them, not the other way round.
 *
 * Each packet's samples land at the place its RTP timestamp gives, counted from where the
 * stream (an SSRC) began on the wall clock, so jitter does not shift the audio and a gap (lost
 * packets, silence suppression) stays as silence. A timestamp far from the wall clock (a
 * sender's jump) re-anchors the stream there. The samples are kept in memory (32 KB a second
 * for both channels) and written whole at the end with wavefile.
 */
import alawmulaw from 'alawmulaw';
import wavefile from 'wavefile';
import { writeFile } from 'node:fs/promises';
import type { G711Codec } from '../sdp.js';

const SAMPLES_PER_MS = 8;
/** A packet more than this far from the wall clock re-anchors its stream. */
const MAX_SKEW_SAMPLES = 5 * 8000;
const ALL_BYTES = Uint8Array.from({ length: 256 }, (_, i) => i);
const DECODE: Readonly<Record<G711Codec, Int16Array>> = {
  PCMA: alawmulaw.alaw.decode(ALL_BYTES),
  PCMU: alawmulaw.mulaw.decode(ALL_BYTES),
};

interface Channel {
  samples: Int16Array;
  /** One past the last sample written. */
  end: number;
  ssrc: number | null;
  /** Where the stream's timestamp `anchorTs` sits in the channel. */
  anchorTs: number;
  anchorAt: number;
}

export const RECORDING_CHANNELS = 2;

export class Recording {
  private readonly channels: Channel[] = [];

  constructor(
    readonly recordingId: string,
    readonly path: string,
    private readonly startedMs: number,
  ) {
    for (let i = 0; i < RECORDING_CHANNELS; i++) {
      this.channels.push({ samples: new Int16Array(8000), end: 0, ssrc: null, anchorTs: 0, anchorAt: 0 });
    }
  }

  /** G.711 payload b[start, end) of a packet heard at `nowMs` on `channel`. */
  add(
    channel: number,
    ssrc: number,
    timestamp: number,
    b: Uint8Array,
    start: number,
    end: number,
    codec: G711Codec,
    nowMs: number,
  ): void {
    const c = this.channels[channel]!;
    const wall = Math.max(0, Math.round((nowMs - this.startedMs) * SAMPLES_PER_MS));
    let at = c.anchorAt + ((timestamp - c.anchorTs) | 0);
    if (c.ssrc !== ssrc || at < 0 || Math.abs(at - wall) > MAX_SKEW_SAMPLES) {
      c.ssrc = ssrc;
      c.anchorTs = timestamp;
      c.anchorAt = wall;
      at = wall;
    }
    const n = end - start;
    grow(c, at + n);
    const table = DECODE[codec];
    for (let i = 0; i < n; i++) c.samples[at + i] = table[b[start + i]!]!;
    if (at + n > c.end) c.end = at + n;
  }

  /** Writes the WAV: as long as the wall clock ran, or longer if audio was placed past it. */
  async finish(nowMs: number): Promise<{ path: string; durationMs: number }> {
    const wall = Math.max(0, Math.round((nowMs - this.startedMs) * SAMPLES_PER_MS));
    const length = Math.max(wall, ...this.channels.map((c) => c.end));
    const wav = new wavefile.WaveFile();
    wav.fromScratch(
      RECORDING_CHANNELS,
      8000,
      '16',
      this.channels.map((c) => {
        const out = new Int16Array(length);
        out.set(c.samples.subarray(0, Math.min(c.end, length)));
        return out;
      }),
    );
    await writeFile(this.path, wav.toBuffer());
    return { path: this.path, durationMs: Math.round(length / SAMPLES_PER_MS) };
  }
}

function grow(c: Channel, needed: number): void {
  if (needed <= c.samples.length) return;
  let size = c.samples.length;
  while (size < needed) size *= 2;
  const bigger = new Int16Array(size);
  bigger.set(c.samples.subarray(0, c.end));
  c.samples = bigger;
}
