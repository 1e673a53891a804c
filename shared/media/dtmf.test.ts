import { describe, expect, test } from 'vitest';
import { sippPcapUdp } from '../../test/support/pcap.js';
import { readRtp, type Rtp } from './rtp-packets.js';
import {
  detectDtmf,
  dtmfDetector,
  readTelephoneEvent,
  writeTelephoneEvent,
  type DtmfDetector,
  type DtmfDigit,
} from './dtmf.js';

const PCAP_DIGITS: Record<string, DtmfDigit> = {
  ...Object.fromEntries(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'].map((d) => [d, d])),
  star: '*',
  pound: '#',
};
const pcapRtp = (name: string): Rtp[] => sippPcapUdp(name).map((u) => readRtp(u.payload));
const dtmfPcap = (key: string): Rtp[] => pcapRtp(`dtmf_2833_${key}`);

/** Feeds the packets in order; the digits reported, and the detector after. */
function feed(
  packets: Rtp[],
  detector: DtmfDetector = dtmfDetector(101),
): { digits: string; detector: DtmfDetector } {
  let digits = '';
  for (const p of packets) {
    const r = detectDtmf(detector, p);
    detector = r.detector;
    digits += r.digit ?? '';
  }
  return { digits, detector };
}

const event = (over: Partial<Rtp> & { event: number; end?: boolean; duration?: number }): Rtp => ({
  payloadType: 101,
  sequenceNumber: over.sequenceNumber ?? 1,
  timestamp: over.timestamp ?? 8000,
  ssrc: over.ssrc ?? 0x1111,
  marker: over.marker ?? false,
  payload: writeTelephoneEvent({
    event: over.event,
    end: over.end ?? false,
    volume: 10,
    duration: over.duration ?? 0,
  }),
});

describe('telephone-event payload', () => {
  test('reads event, end bit, volume and duration; writes the same bytes back', () => {
    const bytes = new Uint8Array([0x0b, 0x8a, 0x08, 0xc0]);
    const e = readTelephoneEvent(bytes);
    expect(e).toEqual({ event: 11, end: true, volume: 10, duration: 2240 });
    expect(writeTelephoneEvent(e)).toEqual(bytes);
    expect(() => readTelephoneEvent(new Uint8Array(3))).toThrow(
      /rtp.telephone-event: payload is 3 bytes, needs 4/,
    );
  });
});

describe("SIPp's DTMF pcaps", () => {
  test.each(Object.entries(PCAP_DIGITS))('dtmf_2833_%s.pcap decodes to %s, once', (key, digit) => {
    const packets = dtmfPcap(key);
    // Each file: one event, its packets repeated, the end packet sent three times.
    expect(packets.filter((p) => readTelephoneEvent(p.payload).end)).toHaveLength(3);
    expect(feed(packets).digits).toBe(digit);
  });

  test('all twelve in a row, between voice packets of another SSRC, decode in order', () => {
    const voice = pcapRtp('g711a');
    const keys = ['1', '2', '3', '4', '5', '6', '7', '8', '9', 'star', '0', 'pound'];
    const dtmfSsrc = dtmfPcap('1')[0]!.ssrc;
    expect(voice[0]!.ssrc).not.toBe(dtmfSsrc);
    const stream = keys.flatMap((k, i) => [...voice.slice(i * 3, i * 3 + 3), ...dtmfPcap(k)]);
    expect(feed(stream).digits).toBe('123456789*0#');
  });

  test('the same digit twice, a new timestamp each time, counts twice; the clip replayed counts twice; its end packets again count once', () => {
    const five = dtmfPcap('5');
    const again = five.map((p) => ({
      ...p,
      timestamp: p.timestamp + 3200,
      sequenceNumber: p.sequenceNumber + 20,
    }));
    expect(feed([...five, ...again]).digits).toBe('55');
    // SIPp presses a key again by replaying the same clip: same timestamp, a new start (marker).
    expect(feed([...five, ...five]).digits).toBe('55');
    const ends = five.filter((p) => readTelephoneEvent(p.payload).end);
    expect(feed([...five, ...ends]).digits).toBe('5');
  });

  test('the same timestamp on another SSRC is another event', () => {
    const seven = dtmfPcap('7');
    const otherPhone = seven.map((p) => ({ ...p, ssrc: p.ssrc + 1 }));
    expect(feed([...seven, ...otherPhone]).digits).toBe('77');
  });
});

describe('detector rules', () => {
  test('the end packet repeated three times counts once, also when the start was lost', () => {
    const end = event({ event: 9, end: true, duration: 800 });
    expect(feed([end, end, end]).digits).toBe('9');
    expect(
      feed([event({ event: 9, marker: true }), event({ event: 9, duration: 400 }), end, end, end]).digits,
    ).toBe('9');
  });

  test('a late end packet of an earlier event does not count again', () => {
    const a = [
      event({ event: 1, marker: true, timestamp: 1000 }),
      event({ event: 1, end: true, timestamp: 1000, duration: 800 }),
    ];
    const b = [event({ event: 2, marker: true, timestamp: 5000 })];
    expect(feed([...a, ...b, a[1]!]).digits).toBe('12');
  });

  test('A-D, and events that are not digits are dropped with a reason', () => {
    expect(
      feed([12, 13, 14, 15].map((ev, i) => event({ event: ev, marker: true, timestamp: i * 1000 }))).digits,
    ).toBe('ABCD');
    const flash = detectDtmf(dtmfDetector(101), event({ event: 16, marker: true }));
    expect([flash.digit, flash.dropped]).toEqual([null, 'telephone-event 16 is not a DTMF digit']);
    const short = detectDtmf(dtmfDetector(101), { ...event({ event: 1 }), payload: new Uint8Array(2) });
    expect(short.dropped).toMatch(/payload is 2 bytes/);
  });

  test('voice packets and other payload types pass without a digit', () => {
    expect(feed(pcapRtp('g711a')).digits).toBe('');
    // The same event bytes on a payload type other than the agreed one are not DTMF.
    expect(feed([event({ event: 4 })], dtmfDetector(96)).digits).toBe('');
  });

  test('an event held past the 16-bit duration goes on in a new segment without counting again', () => {
    const first = [
      event({ event: 3, marker: true, timestamp: 0 }),
      event({ event: 3, timestamp: 0, duration: 0xffff }),
    ];
    const segment = [
      event({ event: 3, timestamp: 0xffff, duration: 160 }),
      event({ event: 3, timestamp: 0xffff, duration: 800, end: true }),
    ];
    expect(feed([...first, ...segment]).digits).toBe('3');
    // A short press with its end packets lost, then a second press marked as a new event: two.
    const lostEnd = [
      event({ event: 3, marker: true, timestamp: 0 }),
      event({ event: 3, timestamp: 0, duration: 800 }),
    ];
    expect(feed([...lostEnd, event({ event: 3, marker: true, timestamp: 4000 })]).digits).toBe('33');
    // Even when the second press's marked start packet was lost too: the first was short.
    expect(feed([...lostEnd, event({ event: 3, timestamp: 4000, duration: 400 })]).digits).toBe('33');
  });
});
