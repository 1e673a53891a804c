import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { sippPcapUdp } from '../../test/support/pcap.js';
import {
  extendSequence,
  nextSequence,
  readRtp,
  sequenceDelta,
  writeRtp,
  addTimestamp,
} from './rtp-packets.js';
import { FRAME_SAMPLES, decodeG711, encodeG711, packetizeG711 } from './g711.js';

describe('RTP packets', () => {
  test('write then read keeps every header field and the payload', () => {
    const packet = {
      payloadType: 8,
      sequenceNumber: 65535,
      timestamp: 0xfffffff0,
      ssrc: 0xdeadbeef,
      marker: true,
      payload: new Uint8Array([1, 2, 3, 4]),
    };
    const bytes = writeRtp(packet);
    expect(bytes.byteLength).toBe(16);
    expect(Array.from(bytes.subarray(0, 2))).toEqual([0x80, 0x88]);
    expect(readRtp(bytes)).toEqual(packet);
  });

  test('what is not RTP is refused, naming why', () => {
    expect(() => readRtp(new Uint8Array(4))).toThrow(/rtp: not an RTP version 2 packet \(4 bytes\)/);
    expect(() => readRtp(new Uint8Array(12))).toThrow(/not an RTP version 2/);
    const rtcp = new Uint8Array(12);
    rtcp.set([0x80, 200]);
    expect(() => readRtp(rtcp)).toThrow(/RTCP packet \(type 200\)/);
    // Padding bit set but the count runs past the packet.
    const padded = writeRtp({
      payloadType: 0,
      sequenceNumber: 1,
      timestamp: 1,
      ssrc: 1,
      marker: false,
      payload: new Uint8Array([9]),
    });
    padded[0] = padded[0]! | 0x20;
    padded[padded.length - 1] = 200;
    expect(() => readRtp(padded)).toThrow(/malformed RTP packet/);
  });

  test('sequence numbers and timestamps wrap', () => {
    expect(nextSequence(65535)).toBe(0);
    expect(addTimestamp(0xffffff60, 160)).toBe(0);
    expect(sequenceDelta(65535, 0)).toBe(1);
    expect(sequenceDelta(0, 65535)).toBe(-1);
    expect(sequenceDelta(10, 5)).toBe(-5);
    // Across a wrap the extended number keeps counting, and a late packet maps behind.
    let highest: number | null = null;
    const seen: number[] = [];
    for (const seq of [65533, 65534, 65535, 0, 1, 65535, 2]) {
      const ext = extendSequence(highest, seq);
      seen.push(ext);
      highest = highest === null ? ext : Math.max(highest, ext);
    }
    expect(seen).toEqual([65533, 65534, 65535, 65536, 65537, 65535, 65538]);
  });
});

test('any packet within half the sequence space of the highest maps to its own extended number', () => {
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: -32768, max: 32767 }),
      (highest, delta) => {
        fc.pre(highest + delta >= 0);
        expect(extendSequence(highest, (highest + delta) & 0xffff)).toBe(highest + delta);
      },
    ),
  );
});

describe('G.711 payloader', () => {
  const sender = {
    ssrc: 0x1234,
    payloadType: 8,
    codec: 'PCMA' as const,
    sequenceNumber: 65534,
    timestamp: 1000,
  };

  test('cuts audio into 20 ms frames of 160 samples, marking only the first, across a sequence wrap', () => {
    const pcm = new Int16Array(400).map((_, i) => Math.round(8000 * Math.sin(i / 5)));
    const { sender: after, packets } = packetizeG711(sender, pcm, true);
    expect(packets.map((p) => [p.sequenceNumber, p.timestamp, p.marker, p.payload.length])).toEqual([
      [65534, 1000, true, 160],
      [65535, 1160, false, 160],
      [0, 1320, false, 160],
    ]);
    expect(after).toMatchObject({ sequenceNumber: 1, timestamp: 1480 });
    // The short last frame is padded with silence.
    const tail = decodeG711('PCMA', packets[2]!.payload);
    expect(Array.from(tail.subarray(80)).every((s) => Math.abs(s) <= 8)).toBe(true);
    // G.711 is lossy but close: each decoded sample within a few percent.
    const first = decodeG711('PCMA', packets[0]!.payload);
    for (let i = 0; i < FRAME_SAMPLES; i++)
      expect(Math.abs(first[i]! - pcm[i]!)).toBeLessThanOrEqual(Math.max(16, Math.abs(pcm[i]!) / 16));
  });

  test('PCMU and PCMA are different encodings of the same audio', () => {
    const pcm = new Int16Array([0, 1000, -1000, 30000]);
    expect(encodeG711('PCMA', pcm)).not.toEqual(encodeG711('PCMU', pcm));
    expect(Array.from(decodeG711('PCMU', encodeG711('PCMU', pcm))).map((s) => Math.round(s / 100))).toEqual([
      0, 10, -10, 301,
    ]);
  });

  test("SIPp's g711a.pcap reads as PCMA in 30 ms frames", () => {
    const packets = sippPcapUdp('g711a').map((u) => readRtp(u.payload));
    expect(packets).toHaveLength(236);
    const ssrcs = new Set(packets.map((p) => p.ssrc));
    expect(ssrcs.size).toBe(1);
    for (const [i, p] of packets.entries()) {
      expect(p.payloadType).toBe(8);
      expect(p.payload.length).toBe(240);
      if (i > 0) {
        expect(sequenceDelta(packets[i - 1]!.sequenceNumber, p.sequenceNumber)).toBe(1);
        expect((p.timestamp - packets[i - 1]!.timestamp) >>> 0).toBe(240);
      }
    }
    const audio = packets.map((p) => decodeG711('PCMA', p.payload));
    expect(audio.every((a) => a.length === 240)).toBe(true);
    // Real speech, not silence: some frame carries a loud sample.
    expect(Math.max(...audio.map((a) => Math.max(...Array.from(a, Math.abs))))).toBeGreaterThan(1000);
  });
});
