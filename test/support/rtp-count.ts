/**
 * Counts RTP packets and the packets lost on their way, from sequence numbers alone (pure: no
 * socket, no clock), for tests and benches that meter the media between real peers.
 *
 * Packets are grouped by stream: the sender's address and the SSRC, since SIPp's pcap replays
 * give every call the same SSRC. A stream's sequence numbers run in stretches: a pcap replayed
 * in a loop starts again at its first number, and each DTMF clip has numbers of its own. A
 * stretch ends when the number jumps back by more than MAX_MISORDER or forward by more than
 * MAX_DROPOUT (RFC 3550 Appendix A.1's limits); what is lost is, per stretch, the numbers
 * between its first and its highest that never came. Packets cut off at a stretch's end (a
 * hang-up in the middle of a clip) are not loss: nothing says they were sent. A packet with the
 * marker bit also starts a stretch: each of SIPp's DTMF clips is a cut of one recording, so its
 * numbers jump a little from one key press to the next (and a new clip can cut the last one
 * short). The price: a packet lost just before a talkspurt's first one is not seen.
 */
const MAX_DROPOUT = 3000;
const MAX_MISORDER = 100;
const SEQ_MOD = 0x10000;

interface Stretch {
  first: number;
  /** Highest number seen, unwrapped: may pass 65535. */
  highest: number;
  /** Numbers seen (unwrapped), to tell a duplicate (an RFC 4733 end packet is sent three times). */
  seen: Set<number>;
}

interface StreamState {
  current: Stretch;
  /** Received and expected in the stretches already closed. */
  closedReceived: number;
  closedExpected: number;
}

export interface RtpCountSummary {
  /** Every datagram that looked like RTP (version 2, at least 12 bytes). */
  packets: number;
  /** Datagrams that were not RTP. */
  notRtp: number;
  /** Packets with a number already seen in their stretch. */
  duplicates: number;
  /** Distinct packets per payload type (8 = PCMA, 101 = telephone-event in the scenarios). */
  byPayloadType: Record<string, number>;
  streams: number;
  /** Numbers missing between the first and the highest of each stretch. */
  lost: number;
  /** Distinct packets expected by the sequence numbers: received + lost. */
  expected: number;
}

export class RtpCounter {
  private readonly streams = new Map<string, StreamState>();
  private packets = 0;
  private notRtp = 0;
  private duplicates = 0;
  private readonly byPt = new Map<number, number>();

  /** One datagram from `sender` ("host:port"). */
  add(sender: string, datagram: Uint8Array): void {
    if (datagram.length < 12 || datagram[0]! >> 6 !== 2) {
      this.notRtp++;
      return;
    }
    this.packets++;
    const pt = datagram[1]! & 0x7f;
    const seq = (datagram[2]! << 8) | datagram[3]!;
    const ssrc = ((datagram[8]! << 24) | (datagram[9]! << 16) | (datagram[10]! << 8) | datagram[11]!) >>> 0;
    const key = `${sender}/${ssrc}`;
    const s = this.streams.get(key);
    if (!s) {
      this.streams.set(key, { current: newStretch(seq), closedReceived: 0, closedExpected: 0 });
      this.byPt.set(pt, (this.byPt.get(pt) ?? 0) + 1);
      return;
    }
    const c = s.current;
    const lastWrapped = c.highest % SEQ_MOD;
    // The distance from the highest number, in -32768..32767 (the numbers wrap at 65536).
    const delta = ((seq - lastWrapped + SEQ_MOD + SEQ_MOD / 2) % SEQ_MOD) - SEQ_MOD / 2;
    const marker = datagram[1]! >> 7 === 1;
    if (delta > MAX_DROPOUT || delta < -MAX_MISORDER || (marker && delta !== 0)) {
      s.closedReceived += c.seen.size;
      s.closedExpected += c.highest - c.first + 1;
      s.current = newStretch(seq);
      this.byPt.set(pt, (this.byPt.get(pt) ?? 0) + 1);
      return;
    }
    const n = c.highest + delta;
    if (c.seen.has(n)) {
      this.duplicates++;
      return;
    }
    c.seen.add(n);
    if (n > c.highest) c.highest = n;
    if (n < c.first) c.first = n; // the stretch's first packets came out of order
    this.byPt.set(pt, (this.byPt.get(pt) ?? 0) + 1);
  }

  summary(): RtpCountSummary {
    let received = 0;
    let expected = 0;
    for (const s of this.streams.values()) {
      received += s.closedReceived + s.current.seen.size;
      expected += s.closedExpected + s.current.highest - s.current.first + 1;
    }
    return {
      packets: this.packets,
      notRtp: this.notRtp,
      duplicates: this.duplicates,
      byPayloadType: Object.fromEntries([...this.byPt].map(([pt, n]) => [String(pt), n])),
      streams: this.streams.size,
      lost: expected - received,
      expected,
    };
  }
}

function newStretch(seq: number): Stretch {
  return { first: seq, highest: seq, seen: new Set([seq]) };
}
