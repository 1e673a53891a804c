/**
 * RTP headers (RFC 3550 §5.1) read and written in place, for the engine's per-packet path: no
 * object per packet, the header lands in a struct the caller reuses. The pure cores keep the
 * rtp.js wrapper (rtp-packets.ts); this is the same format without the copies.
 */

export interface RtpHeaderView {
  payloadType: number;
  marker: boolean;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  /** The payload is b[payloadStart, payloadEnd): after CSRCs and extension, before padding. */
  payloadStart: number;
  payloadEnd: number;
}

export const rtpHeaderView = (): RtpHeaderView => ({
  payloadType: 0,
  marker: false,
  sequenceNumber: 0,
  timestamp: 0,
  ssrc: 0,
  payloadStart: 0,
  payloadEnd: 0,
});

export const RTP_HEADER_BYTES = 12;

/**
 * Fills `into` from datagram `b`; returns why it is not a usable RTP packet (version, length,
 * RTCP on the RTP port (RFC 5761 §4), padding or extension past the end), or null when it is.
 */
export function readRtpHeader(b: Uint8Array, into: RtpHeaderView): string | null {
  if (b.length < RTP_HEADER_BYTES) return `${b.length} bytes, shorter than an RTP header`;
  const first = b[0]!;
  if (first >> 6 !== 2) return `RTP version ${first >> 6}, not 2`;
  const second = b[1]!;
  if (second >= 200 && second <= 204) return `an RTCP packet (type ${second}), not RTP`;
  let start = RTP_HEADER_BYTES + (first & 0x0f) * 4;
  if ((first & 0x10) !== 0) {
    if (start + 4 > b.length) return 'header extension past the end';
    start += 4 + ((b[start + 2]! << 8) | b[start + 3]!) * 4;
  }
  let end = b.length;
  if ((first & 0x20) !== 0) end -= b[b.length - 1]!;
  if (start > end) return 'header, extension or padding past the end';
  into.payloadType = second & 0x7f;
  into.marker = (second & 0x80) !== 0;
  into.sequenceNumber = (b[2]! << 8) | b[3]!;
  into.timestamp = ((b[4]! << 24) | (b[5]! << 16) | (b[6]! << 8) | b[7]!) >>> 0;
  into.ssrc = ((b[8]! << 24) | (b[9]! << 16) | (b[10]! << 8) | b[11]!) >>> 0;
  into.payloadStart = start;
  into.payloadEnd = end;
  return null;
}

/** Writes a plain 12-byte header (no padding, extension or CSRC) at the start of `b`. */
export function writeRtpHeader(
  b: Uint8Array,
  payloadType: number,
  marker: boolean,
  sequenceNumber: number,
  timestamp: number,
  ssrc: number,
): void {
  b[0] = 0x80;
  b[1] = (marker ? 0x80 : 0) | (payloadType & 0x7f);
  b[2] = (sequenceNumber >> 8) & 0xff;
  b[3] = sequenceNumber & 0xff;
  b[4] = (timestamp >>> 24) & 0xff;
  b[5] = (timestamp >>> 16) & 0xff;
  b[6] = (timestamp >>> 8) & 0xff;
  b[7] = timestamp & 0xff;
  b[8] = (ssrc >>> 24) & 0xff;
  b[9] = (ssrc >>> 16) & 0xff;
  b[10] = (ssrc >>> 8) & 0xff;
  b[11] = ssrc & 0xff;
}
