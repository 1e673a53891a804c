/**
 * The RTP counter the SIPp tests and the sip-site bench meter media with
 * (test/support/rtp-count.ts): loss from sequence numbers, per sender and SSRC, in stretches.
 */
import { describe, test } from 'vitest';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { RtpCounter } from '../support/rtp-count.js';

function rtp(seq: number, o: { ssrc?: number; pt?: number; marker?: boolean } = {}): Uint8Array {
  const b = Buffer.alloc(12 + 160);
  b[0] = 0x80;
  b[1] = ((o.marker ? 1 : 0) << 7) | (o.pt ?? 8);
  b.writeUInt16BE(seq & 0xffff, 2);
  b.writeUInt32BE(seq * 160, 4);
  b.writeUInt32BE(o.ssrc ?? 0x1234, 8);
  return b;
}

describe('RtpCounter', () => {
  test('a stream with every packet: nothing lost', () => {
    const c = new RtpCounter();
    for (let s = 100; s < 200; s++) c.add('127.0.0.1:4000', rtp(s));
    assert.deepEqual(c.summary(), {
      packets: 100,
      notRtp: 0,
      duplicates: 0,
      byPayloadType: { '8': 100 },
      streams: 1,
      lost: 0,
      expected: 100,
    });
  });

  test('missing numbers inside a stream are lost; across the 65535 wrap too', () => {
    const c = new RtpCounter();
    for (let s = 65530; s < 65550; s++) if (s !== 65534 && s !== 65537) c.add('a:1', rtp(s));
    const sum = c.summary();
    assert.equal(sum.lost, 2);
    assert.equal(sum.expected, 20);
  });

  test('an RFC 4733 end packet sent three times is one packet and two duplicates', () => {
    const c = new RtpCounter();
    for (const s of [10, 11, 12, 12, 12]) c.add('a:1', rtp(s, { pt: 101 }));
    const sum = c.summary();
    assert.equal(sum.duplicates, 2);
    assert.deepEqual(sum.byPayloadType, { '101': 3 });
    assert.equal(sum.lost, 0);
  });

  test('a replayed clip (numbers start again) and a marked talkspurt start new stretches, not loss', () => {
    const c = new RtpCounter();
    for (let round = 0; round < 3; round++) for (let s = 59133; s < 59369; s++) c.add('a:1', rtp(s));
    // DTMF clips cut from one recording: each starts with the marker, a little further on.
    for (const first of [7984, 8087, 8190])
      for (let k = 0; k < 8; k++) c.add('a:1', rtp(first + k, { marker: k === 0, ssrc: 9, pt: 101 }));
    const sum = c.summary();
    assert.equal(sum.lost, 0);
    assert.equal(sum.expected, 3 * 236 + 3 * 8);
    assert.equal(sum.streams, 2);
  });

  test('the same SSRC from two senders is two streams', () => {
    const c = new RtpCounter();
    for (let s = 0; s < 10; s++) {
      c.add('127.0.0.1:6000', rtp(s));
      c.add('127.0.0.1:6002', rtp(s));
    }
    const sum = c.summary();
    assert.equal(sum.streams, 2);
    assert.equal(sum.duplicates, 0);
    assert.equal(sum.lost, 0);
  });

  test('a packet out of order is not lost; what is not RTP is counted apart', () => {
    const c = new RtpCounter();
    for (const s of [1, 2, 4, 3, 5, 0]) c.add('a:1', rtp(s));
    c.add('a:1', new Uint8Array([1, 2, 3]));
    c.add('a:1', Buffer.alloc(20)); // version 0
    const sum = c.summary();
    assert.equal(sum.lost, 0);
    assert.equal(sum.expected, 6);
    assert.equal(sum.notRtp, 2);
  });

  test('property: lost is the number of packets dropped between the first and the last of a stream', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 65535 }),
        fc.integer({ min: 2, max: 400 }),
        fc.array(fc.integer({ min: 0, max: 399 }), { maxLength: 50 }),
        fc.array(fc.integer({ min: 0, max: 399 }), { maxLength: 10 }),
        (start, n, dropAt, dupAt) => {
          const drops = new Set(dropAt.filter((i) => i > 0 && i < n - 1));
          const c = new RtpCounter();
          for (let i = 0; i < n; i++) {
            if (drops.has(i)) continue;
            c.add('a:1', rtp(start + i));
            if (dupAt.includes(i)) c.add('a:1', rtp(start + i));
          }
          const sum = c.summary();
          assert.equal(sum.lost, drops.size);
          assert.equal(sum.expected, n);
        },
      ),
    );
  });
});
