import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { readRtp, writeRtp } from '../rtp-packets.js';
import { readRtpHeader, rtpHeaderView, writeRtpHeader } from './rtp-view.js';

const packet = fc.record({
  payloadType: fc.integer({ min: 0, max: 127 }),
  sequenceNumber: fc.integer({ min: 0, max: 0xffff }),
  timestamp: fc.integer({ min: 0, max: 0xffffffff }),
  ssrc: fc.integer({ min: 0, max: 0xffffffff }),
  marker: fc.boolean(),
  payload: fc.uint8Array({ maxLength: 200 }),
});

describe('RTP headers in place', () => {
  test('read what rtp.js writes, and write what rtp.js reads', () => {
    fc.assert(
      fc.property(packet, (p) => {
        // rtp.js refuses payload type 72-76 with the marker bit: those read as RTCP.
        fc.pre(!(p.payloadType + (p.marker ? 128 : 0) >= 200 && p.payloadType + (p.marker ? 128 : 0) <= 204));
        const b = writeRtp(p);
        const h = rtpHeaderView();
        expect(readRtpHeader(b, h)).toBeNull();
        expect(h).toMatchObject({
          payloadType: p.payloadType,
          marker: p.marker,
          sequenceNumber: p.sequenceNumber,
          timestamp: p.timestamp,
          ssrc: p.ssrc,
        });
        expect(b.subarray(h.payloadStart, h.payloadEnd)).toEqual(p.payload);
        const out = new Uint8Array(12 + p.payload.length);
        out.set(p.payload, 12);
        writeRtpHeader(out, p.payloadType, p.marker, p.sequenceNumber, p.timestamp, p.ssrc);
        expect(readRtp(out)).toEqual(p);
      }),
    );
  });

  test('skips CSRCs and an extension, stops before padding', () => {
    const b = new Uint8Array([
      0xb1,
      8,
      0,
      1,
      0,
      0,
      0,
      2,
      0,
      0,
      0,
      3, // V=2 P X CC=1
      9,
      9,
      9,
      9, // CSRC
      0xbe,
      0xde,
      0,
      1,
      1,
      2,
      3,
      4, // extension of one word
      0xaa,
      0xbb, // payload
      0,
      0,
      3, // padding of 3
    ]);
    const h = rtpHeaderView();
    expect(readRtpHeader(b, h)).toBeNull();
    expect(b.subarray(h.payloadStart, h.payloadEnd)).toEqual(new Uint8Array([0xaa, 0xbb]));
  });

  test('names what is wrong with a datagram that is not usable RTP', () => {
    const h = rtpHeaderView();
    const why = (bytes: number[]): string | null => readRtpHeader(new Uint8Array(bytes), h);
    const header = [0x80, 8, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
    expect(why([0x80, 8])).toMatch(/2 bytes, shorter than an RTP header/);
    expect(why([0x40, ...header.slice(1)])).toMatch(/RTP version 1/);
    expect(why([0x80, 201, ...header.slice(2)])).toMatch(/RTCP packet \(type 201\)/);
    expect(why([0x90, ...header.slice(1)])).toMatch(/extension past the end/);
    expect(why([0x90, ...header.slice(1), 0, 0, 0, 9])).toMatch(/past the end/);
    expect(why([0xa0, ...header.slice(1), 0, 40])).toMatch(/padding past the end/);
    expect(why([0x8f, ...header.slice(1)])).toMatch(/past the end/);
  });
});
