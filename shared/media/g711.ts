/**
 * G.711 audio (A-law = PCMA, µ-law = PCMU) at 8 kHz with alawmulaw, and the payloader that
 * cuts 16-bit PCM into RTP packets of 20 ms (160 samples; one byte per sample). Outbound is
 * always 20 ms (our SDP's a=ptime); inbound takes any frame length a far end chose (SIPp's
 * g711a.pcap sends 30 ms).
 */
import alawmulaw from 'alawmulaw';
import type { G711Codec } from './sdp.js';
import { addTimestamp, nextSequence, type Rtp } from './rtp-packets.js';

export const SAMPLE_RATE = 8000;
export const FRAME_SAMPLES = (SAMPLE_RATE * 20) / 1000;

export const encodeG711 = (codec: G711Codec, pcm: Int16Array): Uint8Array =>
  codec === 'PCMA' ? alawmulaw.alaw.encode(pcm) : alawmulaw.mulaw.encode(pcm);

export const decodeG711 = (codec: G711Codec, payload: Uint8Array): Int16Array =>
  codec === 'PCMA' ? alawmulaw.alaw.decode(payload) : alawmulaw.mulaw.decode(payload);

/** One outbound stream's counters; a new stream starts them at random values (RFC 3550 §5.1). */
export interface RtpSender {
  ssrc: number;
  payloadType: number;
  codec: G711Codec;
  sequenceNumber: number;
  timestamp: number;
}

/**
 * Cuts `pcm` into 20 ms packets, the first marked as the start of a talkspurt when `talkspurt`
 * says so (RFC 3551 §4.1). A short last frame is padded with silence: a prompt is played
 * whole, and a gap after it would be heard as a click. Returns the sender advanced past them.
 */
export function packetizeG711(
  sender: RtpSender,
  pcm: Int16Array,
  talkspurt: boolean,
): { sender: RtpSender; packets: Rtp[] } {
  const packets: Rtp[] = [];
  let { sequenceNumber, timestamp } = sender;
  for (let at = 0; at < pcm.length; at += FRAME_SAMPLES) {
    const frame = new Int16Array(FRAME_SAMPLES);
    frame.set(pcm.subarray(at, at + FRAME_SAMPLES));
    packets.push({
      payloadType: sender.payloadType,
      sequenceNumber,
      timestamp,
      ssrc: sender.ssrc,
      marker: talkspurt && at === 0,
      payload: encodeG711(sender.codec, frame),
    });
    sequenceNumber = nextSequence(sequenceNumber);
    timestamp = addTimestamp(timestamp, FRAME_SAMPLES);
  }
  return { sender: { ...sender, sequenceNumber, timestamp }, packets };
}
