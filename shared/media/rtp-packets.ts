/**
 * RTP packets (RFC 3550) in and out, through rtp.js's RtpPacket, as plain values the media
 * cores use: payload type, sequence number, timestamp, SSRC, marker and payload bytes. Also
 * the 16-bit sequence and 32-bit timestamp arithmetic, both of which wrap.
 */
import { RtpPacket, isRtp } from 'rtp.js/packets';
import { invalidArgument } from '../errors.js';

export interface Rtp {
  payloadType: number;
  sequenceNumber: number;
  timestamp: number;
  ssrc: number;
  marker: boolean;
  payload: Uint8Array;
}

const viewOf = (b: Uint8Array): DataView => new DataView(b.buffer, b.byteOffset, b.byteLength);

/** Reads one datagram; anything that is not an RTP version 2 packet is refused, naming why. */
export function readRtp(datagram: Uint8Array): Rtp {
  if (datagram.byteLength < 12 || !isRtp(viewOf(datagram))) {
    throw invalidArgument('rtp', `not an RTP version 2 packet (${datagram.byteLength} bytes)`);
  }
  // RTCP multiplexed on the RTP port (RFC 5761 §4) has packet types 200-204 where RTP keeps
  // its marker bit and payload type: those are not media.
  const second = datagram[1]!;
  if (second >= 200 && second <= 204) {
    throw invalidArgument('rtp', `an RTCP packet (type ${second}), not RTP`);
  }
  let p: RtpPacket;
  try {
    p = new RtpPacket(viewOf(datagram));
  } catch (e) {
    throw invalidArgument('rtp', `malformed RTP packet: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  const payload = p.getPayload();
  return {
    payloadType: p.getPayloadType(),
    sequenceNumber: p.getSequenceNumber(),
    timestamp: p.getTimestamp(),
    ssrc: p.getSsrc(),
    marker: p.getMarker(),
    // A copy: the view points into the caller's datagram buffer, which a socket reuses.
    payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.byteLength).slice(),
  };
}

export function writeRtp(r: Rtp): Uint8Array {
  const p = new RtpPacket();
  p.setPayloadType(r.payloadType);
  p.setSequenceNumber(r.sequenceNumber);
  p.setTimestamp(r.timestamp);
  p.setSsrc(r.ssrc);
  p.setMarker(r.marker);
  p.setPayload(viewOf(r.payload));
  const out = new Uint8Array(p.getByteLength());
  p.serialize(out.buffer);
  return out;
}

export const nextSequence = (seq: number): number => (seq + 1) & 0xffff;
export const addTimestamp = (ts: number, samples: number): number => (ts + samples) >>> 0;

/**
 * How far `seq` is after `ref`, in -32768..32767 (RFC 3550 A.1's modular compare): 0 after
 * 65535 is 1 ahead, not 65535 behind.
 */
export function sequenceDelta(ref: number, seq: number): number {
  const d = (seq - ref) & 0xffff;
  return d >= 0x8000 ? d - 0x10000 : d;
}

/**
 * The extended (never wrapping) sequence number of `seq`, given the highest extended one
 * seen so far (null before the first): counts the wraps, so a late packet from before a wrap
 * maps below it rather than 65535 ahead.
 */
export function extendSequence(highest: number | null, seq: number): number {
  if (highest === null) return seq;
  return highest + sequenceDelta(highest & 0xffff, seq);
}
