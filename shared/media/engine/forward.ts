/**
 * Bridging's packet path (engine.ts `bridge`): a packet from one party goes on to the other's
 * far end in the buffer it arrived in, rewritten as that endpoint's stream and transcoded
 * between PCMA and PCMU when the legs agreed different codecs. Apart from the engine class
 * because this is where a bridged call's every packet goes, and it allocates nothing it can avoid.
 */
import type { G711Codec } from '../sdp.js';
import { type Endpoint, type EngineShared, sends, silenceSince } from './endpoint.js';
import { RTP_HEADER_BYTES, type RtpHeaderView, writeRtpHeader } from './rtp-view.js';
import { transcodeInPlace } from './transcode.js';

/**
 * Sends a bridged party's packet on as `to`'s stream: `to`'s SSRC and next sequence number,
 * the party's timestamps shifted to go on from `to`'s, its codec turned into `to`'s. DTMF is
 * not forwarded (it was taken as digits before): the legs may have agreed different
 * telephone-event types or none, and a caller's PIN is not for the agent's phone.
 */
export function forward(
  cx: EngineShared,
  to: Endpoint,
  from: G711Codec,
  b: Buffer,
  h: RtpHeaderView,
  now: number,
): void {
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
  cx.counters.packetsOut++;
  // Where `to`'s far end is: the SDP's address, or the source it latched to (latch.ts).
  to.socket.send(out, 0, end, to.sendPort, to.sendHost);
}
