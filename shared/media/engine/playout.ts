/**
 * Our own audio out of an endpoint, one 20 ms frame per tick (engine.ts runs the tick): a
 * prompt (padded with silence at its end, resolved `done`), or hold music that pauses for an
 * announcement fetched fresh each time it is due. Apart from the engine class: what a frame
 * holds and how the stream's sequence number and timestamp go on is the playback's own story.
 */
import { performance } from 'node:perf_hooks';
import type { G711Codec, NegotiatedAudio } from '../sdp.js';
import { fill } from './cursor.js';
import {
  type Endpoint,
  type EngineShared,
  FRAME_BYTES,
  type HoldSource,
  IDLE,
  sends,
  setSource,
  silenceSince,
} from './endpoint.js';
import { RTP_HEADER_BYTES, writeRtpHeader } from './rtp-view.js';

const SILENCE: Readonly<Record<G711Codec, number>> = { PCMA: 0xd5, PCMU: 0xff };

export function sendFrame(cx: EngineShared, ep: Endpoint, now: number): void {
  const s = ep.source;
  const r = ep.remote!;
  const pkt = Buffer.allocUnsafe(RTP_HEADER_BYTES + FRAME_BYTES);
  if (s.kind === 'play') {
    const n = fill(s.cursor, pkt, RTP_HEADER_BYTES, FRAME_BYTES, false);
    pkt.fill(SILENCE[r.codec], RTP_HEADER_BYTES + n);
    sendOwn(cx, ep, r, pkt, now);
    if (s.cursor.idx >= s.cursor.bufs.length) {
      setSource(ep, IDLE);
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
      if (s.announce && !s.fetching && now >= s.nextAnnounceMs) fetchAnnouncement(cx, ep, s, r.codec);
    }
    sendOwn(cx, ep, r, pkt, now);
  }
}

function fetchAnnouncement(cx: EngineShared, ep: Endpoint, s: HoldSource, codec: G711Codec): void {
  const announce = s.announce!;
  s.fetching = true;
  void (async () => {
    try {
      const bufs = await cx.prompts.load(await announce.pieces(), codec);
      if (ep.source === s) s.announcement = { bufs, idx: 0, off: 0 };
    } catch (e) {
      cx.log.warn('hold announcement failed; the music goes on', { endpointId: ep.id, err: e });
      s.nextAnnounceMs = performance.now() + announce.everyMs;
    } finally {
      s.fetching = false;
    }
  })();
}

/** Our own frame (prompt or music): the stream's next sequence number and 160 samples on. */
function sendOwn(cx: EngineShared, ep: Endpoint, r: NegotiatedAudio, pkt: Buffer, now: number): void {
  if (ep.marker) ep.ts = (ep.ts + silenceSince(ep, now)) >>> 0;
  writeRtpHeader(pkt, r.payloadType, ep.marker, ep.seq, ep.ts, ep.ssrc);
  ep.ts = (ep.ts + FRAME_BYTES) >>> 0;
  ep.lastSentMs = now;
  // Time passes for a far end that wants no audio (hold), but no packet is counted for it.
  if (!sends(r)) return;
  ep.marker = false;
  ep.seq = (ep.seq + 1) & 0xffff;
  cx.counters.packetsOut++;
  ep.socket.send(pkt, ep.sendPort, ep.sendHost);
}
