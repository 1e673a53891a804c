/**
 * DTMF from RFC 4733 telephone-events: the 4-byte event payload, and a detector that turns a
 * stream of event packets into digits, each reported once.
 *
 * A sender repeats an event's packets while the key is down (each with a growing duration)
 * and sends its end packet three times; all of them carry the RTP timestamp of the event's
 * start. So an event is (SSRC, RTP timestamp):
 * - not the timestamp alone: two streams (a phone's DTMF may come from its own SSRC, as in
 *   SIPp's dtmf_2833_*.pcap, and a transfer or re-INVITE changes SSRC) can share one;
 * - not locked to the first SSRC seen: the DTMF SSRC often differs from the voice one;
 * - the same digit pressed twice is two events with two timestamps, so two digits; and a
 *   start packet (marker) of an event already ended is a new press too, though its timestamp
 *   is the old one: SIPp presses a key again by replaying the same clip.
 * The digit is reported on the first packet heard of the event (start, or a repeated end
 * packet when the start was lost), so the IVR reacts while the key is still down.
 *
 * An event longer than the 16-bit duration (about 8 s, RFC 4733 §2.5.1.3) goes on in a new
 * segment with a new timestamp and no marker; that is the same key, not a new press, and is
 * told apart from a repeat by the previous segment of that SSRC being unended at the cap.
 */
import { invalidArgument } from '../errors.js';
import type { Rtp } from './rtp-packets.js';

export type DtmfDigit =
  '0' | '1' | '2' | '3' | '4' | '5' | '6' | '7' | '8' | '9' | '*' | '#' | 'A' | 'B' | 'C' | 'D';

/** RFC 4733 §3.2: events 0-9 are the digits, 10 is *, 11 is #, 12-15 are A-D. */
const DIGITS: readonly DtmfDigit[] = [
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  '*',
  '#',
  'A',
  'B',
  'C',
  'D',
];

export const digitOfEvent = (event: number): DtmfDigit | null => DIGITS[event] ?? null;
export const eventOfDigit = (digit: DtmfDigit): number => DIGITS.indexOf(digit);

export interface TelephoneEvent {
  event: number;
  end: boolean;
  /** Power level in -dBm0, 0-63. */
  volume: number;
  /** In timestamp units (1/8000 s) since the event's start. */
  duration: number;
}

export function readTelephoneEvent(payload: Uint8Array): TelephoneEvent {
  if (payload.byteLength < 4) {
    throw invalidArgument('rtp.telephone-event', `payload is ${payload.byteLength} bytes, needs 4`);
  }
  return {
    event: payload[0]!,
    end: (payload[1]! & 0x80) !== 0,
    volume: payload[1]! & 0x3f,
    duration: (payload[2]! << 8) | payload[3]!,
  };
}

export function writeTelephoneEvent(e: TelephoneEvent): Uint8Array {
  return new Uint8Array([
    e.event,
    (e.end ? 0x80 : 0) | (e.volume & 0x3f),
    (e.duration >> 8) & 0xff,
    e.duration & 0xff,
  ]);
}

interface HeardEvent {
  ssrc: number;
  timestamp: number;
  event: number;
  ended: boolean;
  duration: number;
}

export interface DtmfDetector {
  /** As agreed in SDP (NegotiatedAudio.telephoneEventPayloadType). */
  payloadType: number;
  /** Events heard lately, oldest first, at most RECENT_EVENTS: late repeats still match. */
  recent: readonly HeardEvent[];
}

/** Far more than can be in flight: a late end packet of an event a few presses back still matches. */
const RECENT_EVENTS = 32;
/** A segment this long is one the sender cut at the 16-bit cap (within 40 ms of it). */
const SEGMENT_CAP = 0xffff - 320;

export const dtmfDetector = (payloadType: number): DtmfDetector => ({ payloadType, recent: [] });

export interface DtmfResult {
  detector: DtmfDetector;
  digit: DtmfDigit | null;
  /** Why a telephone-event packet was dropped (for a rate-limited log line), if it was. */
  dropped: string | null;
}

/** Feeds one received RTP packet (of any payload type: voice passes through untouched). */
export function detectDtmf(d: DtmfDetector, p: Rtp): DtmfResult {
  const none = { detector: d, digit: null, dropped: null };
  if (p.payloadType !== d.payloadType) return none;
  let e: TelephoneEvent;
  try {
    e = readTelephoneEvent(p.payload);
  } catch (err) {
    return { ...none, dropped: err instanceof Error ? err.message : String(err) };
  }
  const i = d.recent.findIndex((h) => h.ssrc === p.ssrc && h.timestamp === p.timestamp);
  // A start (marker) after that event's end is the key pressed again with the same clip, as
  // SIPp replays its dtmf_2833_*.pcap: a new press, not a late copy (the end comes last).
  const again = i >= 0 && p.marker && d.recent[i]!.ended;
  if (i >= 0 && !again) {
    const h = d.recent[i]!;
    const updated = { ...h, ended: h.ended || e.end, duration: Math.max(h.duration, e.duration) };
    return { ...none, detector: { ...d, recent: d.recent.map((r, j) => (j === i ? updated : r)) } };
  }
  const previous = d.recent.findLast((h) => h.ssrc === p.ssrc);
  const continues =
    previous !== undefined &&
    !p.marker &&
    !previous.ended &&
    previous.event === e.event &&
    previous.duration >= SEGMENT_CAP;
  const heard: HeardEvent = {
    ssrc: p.ssrc,
    timestamp: p.timestamp,
    event: e.event,
    ended: e.end,
    duration: e.duration,
  };
  const kept = again ? d.recent.filter((_, j) => j !== i) : d.recent;
  const detector = { ...d, recent: [...kept, heard].slice(-RECENT_EVENTS) };
  const digit = continues ? null : digitOfEvent(e.event);
  return {
    detector,
    digit,
    dropped: digit === null && !continues ? `telephone-event ${e.event} is not a DTMF digit` : null,
  };
}
