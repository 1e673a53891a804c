/**
 * The media engine against raw UDP peers on loopback, run three times: in this thread
 * (LocalMediaEngine), in its worker (WorkerMediaEngine), and through the worker's messages
 * without the worker (so that coverage sees the serving side), which must all behave the same.
 */
import alawmulaw from 'alawmulaw';
import dgram from 'node:dgram';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import wavefile from 'wavefile';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { sippPcapUdp } from '../../../test/support/pcap.js';
import { waitFor } from '../../../test/support/wait.js';
import { isDomainError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { readTelephoneEvent, writeTelephoneEvent } from '../dtmf.js';
import { readRtp, type Rtp, writeRtp } from '../rtp-packets.js';
import { LocalMediaEngine } from './engine.js';
import type { MediaEngine, MediaEngineConfig, MediaEvent } from './port.js';
import { RtpPeer, audioTo, channelThread, clipFile, eventsOf, marked, tempDir } from './testing.js';
import { transcoded } from './transcode.js';
import { WorkerMediaEngine } from './worker-engine.js';

const log = createLogger({}, { level: 'error' });
/** A far end that is never sent to: the SDP checks refuse before anything goes out. */
const squatterless = { port: 9 } as RtpPeer;

/** How a call settled: `resolved`, or the DomainError's kind and message. */
const kindOf = (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => 'resolved',
    (e: unknown) => (isDomainError(e) ? `${e.kind}: ${e.message}` : String(e)),
  );

type Make = (config: MediaEngineConfig) => Promise<MediaEngine>;
const KINDS: [string, Make, number][] = [
  ['in this thread', async (c) => new LocalMediaEngine(c, log), 41000],
  ['in its worker', (c) => WorkerMediaEngine.start(c, log), 42000],
  ['over a message channel', (c) => WorkerMediaEngine.over(channelThread(c, log), log), 47000],
];

const dtmfPacket = (digitEvent: number, timestamp: number, over: Partial<Rtp> = {}): Rtp => ({
  payloadType: 101,
  sequenceNumber: 1,
  timestamp,
  ssrc: 0xd7f,
  marker: true,
  payload: writeTelephoneEvent({ event: digitEvent, end: false, volume: 10, duration: 160 }),
  ...over,
});

const voicePacket = (seq: number, payload: Uint8Array, ssrc = 0xabc, payloadType = 8): Rtp => ({
  payloadType,
  sequenceNumber: seq,
  timestamp: 1000 + seq * 160,
  ssrc,
  marker: seq === 0,
  payload,
});

describe.each(KINDS)('media engine %s', (_name, make, basePort) => {
  let engine: MediaEngine;
  let events: MediaEvent[];
  let peers: RtpPeer[];
  let dir: string;

  beforeEach(async () => {
    engine = await make({ host: '127.0.0.1', portMin: basePort, portMax: basePort + 99, rtpTimeoutMs: 400 });
    events = [];
    engine.onEvent((e) => events.push(e));
    peers = [];
    dir = tempDir();
  });

  afterEach(async () => {
    await engine.stop();
    for (const p of peers) p.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const peer = async (): Promise<RtpPeer> => {
    const p = await RtpPeer.open();
    peers.push(p);
    return p;
  };

  test('plays a prompt paced at 20 ms, one continuous stream, the file bytes; barge-in stops a prompt', async () => {
    const far = await peer();
    const ep = await engine.open();
    expect(ep).toMatchObject({ localHost: '127.0.0.1' });
    expect(ep.localPort % 2).toBe(0);
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    const bytes = marked(160 * 10 + 50, 0x20);
    const outcome = await engine.play(ep.endpointId, [clipFile(dir, 'a.alaw', bytes)]);
    expect(outcome).toEqual({ outcome: 'done' });
    await waitFor('11 packets', () => far.heard.length >= 11);
    const h = far.heard;
    expect(h).toHaveLength(11);
    h.forEach((p, i) => {
      expect(p.ssrc).toBe(h[0]!.ssrc);
      expect(p.payloadType).toBe(8);
      expect(p.sequenceNumber).toBe((h[0]!.sequenceNumber + i) & 0xffff);
      expect(p.timestamp).toBe((h[0]!.timestamp + i * 160) >>> 0);
      expect(p.marker).toBe(i === 0);
    });
    // The last frame is padded with A-law silence.
    expect(far.audio()).toEqual(Buffer.concat([bytes, Buffer.alloc(110, 0xd5)]));
    // Paced by the clock: never faster than a frame per 20 ms (a late tick may send up to 3 at once).
    expect(h.at(-1)!.atMs - h[0]!.atMs).toBeGreaterThanOrEqual((h.length - 1 - 3) * 20 - 5);

    // Barge-in: a long prompt, a key pressed, the prompt ends with that digit.
    const long = clipFile(dir, 'long.alaw', marked(8000 * 20, 0x40));
    const playing = engine.play(ep.endpointId, [long], { bargeIn: true });
    await waitFor('the long prompt to start', () => far.heard.length > 12);
    await far.send(ep.localPort, dtmfPacket(4, 5000));
    expect(await playing).toEqual({ outcome: 'interrupted', digit: '4' });
    expect(eventsOf(events, 'digit')).toEqual([{ kind: 'digit', endpointId: ep.endpointId, digit: '4' }]);
    const heardBefore = far.heard.length;
    // A prompt after it goes on in the same stream, a talkspurt start.
    expect(await engine.play(ep.endpointId, [clipFile(dir, 'b.alaw', marked(160, 0x60))])).toEqual({
      outcome: 'done',
    });
    await waitFor('the short prompt', () => far.heard.some((p) => p.payload[0] === 0x60));
    expect(heardBefore - 11).toBeLessThan(1000);
    const last = far.heard.at(-1)!;
    expect(last).toMatchObject({ ssrc: h[0]!.ssrc, marker: true });
    const prev = far.heard.at(-2)!;
    expect(last.sequenceNumber).toBe((prev.sequenceNumber + 1) & 0xffff);
    // A talkspurt after a pause starts later in RTP time by the pause (at least one frame on).
    expect((last.timestamp - prev.timestamp) >>> 0).toBeGreaterThanOrEqual(160);
    expect((last.timestamp - prev.timestamp) >>> 0).toBeLessThan(8000 * 60);
    // Without bargeIn a digit is reported and the prompt goes on; a new play replaces it.
    const first = engine.play(ep.endpointId, [long]);
    await far.send(ep.localPort, dtmfPacket(7, 9000));
    await waitFor('digit 7', () => eventsOf(events, 'digit').some((e) => e.digit === '7'));
    const second = engine.play(ep.endpointId, [clipFile(dir, 'c.alaw', marked(160, 0x70))]);
    expect(await first).toEqual({ outcome: 'replaced' });
    expect(await second).toEqual({ outcome: 'done' });
  });

  test("detects DTMF from SIPp's pcaps: own SSRC, voice between, the same digit twice, the clip replayed", async () => {
    const far = await peer();
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    const voice = sippPcapUdp('g711a').map((u) => u.payload);
    const pcap = (key: string): Uint8Array[] => sippPcapUdp(`dtmf_2833_${key}`).map((u) => u.payload);
    const fiveAgain = pcap('5').map((b) => {
      const p = readRtp(b);
      return { ...p, timestamp: p.timestamp + 3200, sequenceNumber: p.sequenceNumber + 20 };
    });
    expect(readRtp(voice[0]!).ssrc).not.toBe(readRtp(pcap('1')[0]!).ssrc);
    const stream: (Uint8Array | Rtp)[] = [
      ...voice.slice(0, 3),
      ...pcap('1'),
      ...voice.slice(3, 6),
      ...pcap('pound'),
      ...pcap('5'),
      ...voice.slice(6, 9),
      ...fiveAgain,
      // The clip again, as SIPp presses a key twice: a new start after the end, a new press.
      ...pcap('5'),
      // Late copies of its end packets: not a new press.
      ...pcap('5').filter((b) => readTelephoneEvent(readRtp(b).payload).end),
    ];
    for (const p of stream) await far.send(ep.localPort, p);
    await waitFor('five digits', () => eventsOf(events, 'digit').length >= 5);
    // The late copies are the last packets sent: once the engine has answered a later call they were read.
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    expect(
      eventsOf(events, 'digit')
        .map((e) => e.digit)
        .join(''),
    ).toBe('1#555');
  });

  // ---- latching (latch.ts): the default keeps to the SDP's host; `any` learns the far end's port ----

  const short = (name: string, byte: number) => clipFile(dir, name, marked(160, byte, 1));
  const digitsOf = (endpointId: string, from: MediaEvent[] = events): string[] =>
    eventsOf(from, 'digit')
      .filter((e) => e.endpointId === endpointId)
      .map((e) => e.digit);
  /** An engine of its own with `latching`, on ports `basePort + n` on, stopped after `f`. */
  const withLatching = async (
    latching: MediaEngineConfig['latching'],
    n: number,
    f: (e: MediaEngine, seen: MediaEvent[]) => Promise<void>,
  ): Promise<void> => {
    const e = await make({
      host: '127.0.0.1',
      portMin: basePort + n,
      portMax: basePort + n + 7,
      rtpTimeoutMs: 1000,
      latching,
    });
    const seen: MediaEvent[] = [];
    e.onEvent((ev) => seen.push(ev));
    try {
      await f(e, seen);
    } finally {
      await e.stop();
    }
  };

  test("sdp-host: another host is dropped before and after the far end's first packet; the SDP's host from any port is the far end", async () => {
    const [far, sameHost, b] = [await peer(), await peer(), await peer()];
    const elsewhere = await RtpPeer.open('127.0.0.2');
    peers.push(elsewhere);
    const [ea, eb] = [await engine.open(), await engine.open()];
    await engine.setRemote(ea.endpointId, audioTo(far, 'PCMA'));
    await engine.setRemote(eb.endpointId, audioTo(b, 'PCMA'));
    await engine.bridge(ea.endpointId, eb.endpointId);
    await elsewhere.send(ea.localPort, dtmfPacket(1, 100));
    await far.send(ea.localPort, voicePacket(0, marked(160, 0x11, 1), 0xaaa));
    await waitFor("the far end's voice at b", () => b.heard.length === 1);
    // The far end's own SSRC and the next sequence number (a forged continuation) change nothing.
    await elsewhere.send(ea.localPort, dtmfPacket(2, 200));
    await elsewhere.send(ea.localPort, voicePacket(1, marked(160, 0x23, 1), 0xaaa));
    // Another port of the SDP's host: an asymmetric far end's second socket, taken.
    await sameHost.send(ea.localPort, voicePacket(2, marked(160, 0x24, 1), 0xaaa));
    await waitFor('the same host’s voice at b', () => b.heard.length === 2);
    await far.send(ea.localPort, dtmfPacket(5, 300));
    await waitFor("the far end's digit, read after the stranger's", () => digitsOf(ea.endpointId).length > 0);
    expect(digitsOf(ea.endpointId)).toEqual(['5']);
    expect(b.heard.map((p) => p.payload[0])).toEqual([0x11, 0x24]);
    // Ours still go where the SDP said.
    expect(await engine.play(ea.endpointId, [short('h.alaw', 0x12)])).toEqual({ outcome: 'done' });
    await waitFor('the prompt at the SDP’s port', () => far.heard.some((p) => p.payload[0] === 0x12));
    expect(sameHost.heard).toHaveLength(0);
    expect(await engine.stats()).toMatchObject({ wrongSource: 3, latchedElsewhere: 0 });
  });

  test("SIPp's pcaps from a port other than the SDP's: every digit taken by address, not SSRC; ours to the SDP's port", async () => {
    const [sdp, sipp] = [await peer(), await peer()];
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(sdp, 'PCMA'));
    const voice = sippPcapUdp('g711a').map((u) => u.payload);
    const pcap = (key: string): Uint8Array[] => sippPcapUdp(`dtmf_2833_${key}`).map((u) => u.payload);
    // As caller.xml: keys first (each pcap its own SSRC, one timestamp a digit), voice after.
    const stream = [...pcap('1'), ...pcap('pound'), ...voice.slice(0, 3), ...pcap('5'), ...voice.slice(3, 6)];
    for (const p of stream) await sipp.send(ep.localPort, p);
    await waitFor('three digits', () => digitsOf(ep.endpointId).length >= 3);
    expect(digitsOf(ep.endpointId).join('')).toBe('1#5');
    await engine.play(ep.endpointId, [short('s.alaw', 0x41)]);
    await waitFor('the prompt at the SDP’s port', () => sdp.heard.some((p) => p.payload[0] === 0x41));
    expect(sipp.heard).toHaveLength(0);
    expect(await engine.stats()).toMatchObject({ wrongSource: 0, latchedElsewhere: 0 });
  });

  test("any: latches to the port the far end sends from, not the SDP's: prompts and bridged audio go there, other ports are strangers", async () => {
    await withLatching('any', 400, async (e, seen) => {
      const [sdp, nat, b, other] = [await peer(), await peer(), await peer(), await peer()];
      const [ea, eb] = [await e.open(), await e.open()];
      await e.setRemote(ea.endpointId, audioTo(sdp, 'PCMA'));
      await e.setRemote(eb.endpointId, audioTo(b, 'PCMA'));
      await nat.send(ea.localPort, voicePacket(0, marked(160, 0x11, 1)));
      await waitFor('the latch', async () => (await e.stats()).latchedElsewhere === 1);
      expect(await e.play(ea.endpointId, [short('p.alaw', 0x10)])).toEqual({ outcome: 'done' });
      await waitFor('the prompt where the far end sends from', () =>
        nat.heard.some((p) => p.payload[0] === 0x10),
      );
      await e.bridge(ea.endpointId, eb.endpointId);
      await b.send(eb.localPort, voicePacket(1, marked(160, 0x66, 1), 0xbbb));
      await other.send(ea.localPort, dtmfPacket(3, 100));
      await nat.send(ea.localPort, voicePacket(2, marked(160, 0x77, 1)));
      await nat.send(ea.localPort, dtmfPacket(7, 200));
      await waitFor('the bridged voice there', () => nat.heard.some((p) => p.payload[0] === 0x66));
      await waitFor("the far end's voice at b", () => b.heard.some((p) => p.payload[0] === 0x77));
      await waitFor("the far end's digit", () => digitsOf(ea.endpointId, seen).length > 0);
      expect(digitsOf(ea.endpointId, seen)).toEqual(['7']);
      expect(sdp.heard).toHaveLength(0);
      expect(await e.stats()).toMatchObject({ latchedElsewhere: 1, wrongSource: 1 });
    });
  });

  test('any: a new setRemote (a re-INVITE) learns the source anew; the old one is a stranger then', async () => {
    await withLatching('any', 410, async (e, seen) => {
      const [sdp, x, y] = [await peer(), await peer(), await peer()];
      const ep = await e.open();
      await e.setRemote(ep.endpointId, audioTo(sdp, 'PCMA'));
      await x.send(ep.localPort, voicePacket(0, marked(160, 0)));
      await waitFor('the latch to x', async () => (await e.stats()).latchedElsewhere === 1);
      await e.play(ep.endpointId, [short('x.alaw', 0x31)]);
      await waitFor('the prompt at x', () => x.heard.some((p) => p.payload[0] === 0x31));
      const xHeard = x.heard.length;

      await e.setRemote(ep.endpointId, audioTo(sdp, 'PCMA'));
      await y.send(ep.localPort, voicePacket(1, marked(160, 0)));
      await waitFor('the latch to y', async () => (await e.stats()).latchedElsewhere === 2);
      await x.send(ep.localPort, dtmfPacket(4, 100));
      await y.send(ep.localPort, dtmfPacket(6, 200));
      await waitFor("y's digit", () => digitsOf(ep.endpointId, seen).length > 0);
      expect(digitsOf(ep.endpointId, seen)).toEqual(['6']);
      await e.play(ep.endpointId, [short('y.alaw', 0x32)]);
      await waitFor('the prompt at y', () => y.heard.some((p) => p.payload[0] === 0x32));
      expect(x.heard).toHaveLength(xHeard);
      expect(sdp.heard).toHaveLength(0);
      expect(await e.stats()).toMatchObject({ wrongSource: 1 });
    });
  });

  test('latching any takes a far end on another host (NAT); off takes anyone and sends to the SDP', async () => {
    const config = (n: number, latching: MediaEngineConfig['latching']): MediaEngineConfig => ({
      host: '127.0.0.1',
      portMin: basePort + n,
      portMax: basePort + n + 3,
      rtpTimeoutMs: 1000,
      latching,
    });
    await expect(make(config(320, 'sometimes' as never))).rejects.toThrow(/media\.latching: must be one of/);
    const [sdp, x] = [await peer(), await peer()];
    const nat = await RtpPeer.open('127.0.0.2');
    peers.push(nat);
    for (const [n, latching] of [
      [330, 'any'],
      [340, 'off'],
    ] as const) {
      const e = await make(config(n, latching));
      const seen: MediaEvent[] = [];
      e.onEvent((ev) => seen.push(ev));
      try {
        const ep = await e.open();
        await e.setRemote(ep.endpointId, audioTo(sdp, 'PCMA'));
        await nat.send(ep.localPort, voicePacket(0, marked(160, 0)));
        await x.send(ep.localPort, dtmfPacket(8, 100 + n));
        await nat.send(ep.localPort, dtmfPacket(9, 200 + n));
        await waitFor('the far end’s digit', () => eventsOf(seen, 'digit').some((d) => d.digit === '9'));
        await e.play(ep.endpointId, [short(`${latching}.alaw`, 0x50 + n / 10)]);
        const at = latching === 'any' ? nat : sdp;
        await waitFor(`the prompt (${latching})`, () => at.heard.some((p) => p.payload[0] === 0x50 + n / 10));
        // any: latched to nat on 127.0.0.2, x a stranger; off: everyone heard, ours to the SDP.
        expect(eventsOf(seen, 'digit').map((d) => d.digit)).toEqual(latching === 'any' ? ['9'] : ['8', '9']);
        expect(await e.stats()).toMatchObject(
          latching === 'any'
            ? { wrongSource: 1, latchedElsewhere: 1 }
            : { wrongSource: 0, latchedElsewhere: 0 },
        );
      } finally {
        await e.stop();
      }
    }
    expect(x.heard).toHaveLength(0);
  });

  test('bridges PCMA to PCMU both ways in one stream per far end; after unbridge, hold music flows', async () => {
    const [a, b] = [await peer(), await peer()];
    const [ea, eb] = [await engine.open(), await engine.open()];
    await engine.setRemote(ea.endpointId, audioTo(a, 'PCMA'));
    await engine.setRemote(eb.endpointId, audioTo(b, 'PCMU', { payloadType: 0 }));
    await engine.play(ea.endpointId, [clipFile(dir, 'w.alaw', marked(320, 0x10))]);
    await waitFor('the welcome prompt', () => a.heard.length >= 2);
    await engine.bridge(ea.endpointId, eb.endpointId);

    const fromA = Array.from({ length: 5 }, (_, i) => marked(160, 0x80 + i * 8, 8));
    const fromB = Array.from({ length: 5 }, (_, i) => marked(160, 0x30 + i * 8, 8));
    for (let i = 0; i < 5; i++) await a.send(ea.localPort, voicePacket(i, fromA[i]!, 0xaaa, 8));
    for (let i = 0; i < 5; i++) await b.send(eb.localPort, voicePacket(i, fromB[i]!, 0xbbb, 0));
    await waitFor('both sides heard', () => b.heard.length >= 5 && a.heard.length >= 7);
    expect(b.heard.map((p) => p.payloadType)).toEqual([0, 0, 0, 0, 0]);
    expect(b.audio()).toEqual(Buffer.from(transcoded(Buffer.concat(fromA), 'PCMA', 'PCMU')));
    expect(a.audio(2)).toEqual(Buffer.from(transcoded(Buffer.concat(fromB), 'PCMU', 'PCMA')));
    // a's far end: the prompt then b's voice, one SSRC, sequence and timestamps going on (a
    // frame a packet within a talkspurt; at the switch, on by the pause between them).
    const ah = a.heard;
    for (let i = 1; i < ah.length; i++) {
      expect(ah[i]!.ssrc).toBe(ah[0]!.ssrc);
      expect(ah[i]!.sequenceNumber).toBe((ah[i - 1]!.sequenceNumber + 1) & 0xffff);
      const step = (ah[i]!.timestamp - ah[i - 1]!.timestamp) >>> 0;
      if (ah[i]!.marker) expect(step).toBeGreaterThanOrEqual(160);
      else expect(step).toBe(160);
    }
    expect(ah[2]!.marker).toBe(true);
    // DTMF is taken as digits on its own leg, not passed to the other.
    await a.send(ea.localPort, dtmfPacket(9, 7000));
    await waitFor('digit 9', () => eventsOf(events, 'digit').some((e) => e.endpointId === ea.endpointId));
    expect(b.heard.every((p) => p.payloadType === 0)).toBe(true);

    await expect(engine.bridge(ea.endpointId, eb.endpointId)).rejects.toThrow(/already bridged/);
    await engine.unbridge(eb.endpointId);
    await expect(engine.unbridge(ea.endpointId)).rejects.toThrow(/is not bridged/);
    await engine.hold(ea.endpointId, { music: [clipFile(dir, 'm.ulaw', marked(400, 0x50), 'PCMU')] });
    const musicA = transcoded(marked(400, 0x50), 'PCMU', 'PCMA');
    await waitFor('music', () => a.heard.length >= 7 + 3);
    const m = a.heard[7]!;
    expect(m).toMatchObject({ ssrc: ah[0]!.ssrc, marker: true, payloadType: 8 });
    expect(m.sequenceNumber).toBe((a.heard[6]!.sequenceNumber + 1) & 0xffff);
    // The music loops: 400 bytes, then from its start again.
    expect(a.audio(7).subarray(0, 480)).toEqual(Buffer.concat([musicA, musicA.subarray(0, 80)]));
    // b, unbridged, hears nothing more from a.
    const bHeard = b.heard.length;
    await a.send(ea.localPort, voicePacket(9, fromA[0]!, 0xaaa, 8));
    await a.send(ea.localPort, dtmfPacket(3, 9000));
    await waitFor('digit 3, read after the voice packet', () =>
      eventsOf(events, 'digit').some((e) => e.digit === '3'),
    );
    await engine.close(eb.endpointId);
    expect(b.heard.length).toBe(bHeard);
  });

  test('hold: music, and an announcement asked fresh each time', async () => {
    const far = await peer();
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    const music = clipFile(dir, 'music.alaw', marked(800, 0x01, 1));
    const texts = [
      clipFile(dir, 'pos3.alaw', marked(320, 0x02, 1)),
      clipFile(dir, 'pos2.alaw', marked(320, 0x03, 1)),
    ];
    let asked = 0;
    await engine.hold(ep.endpointId, {
      music: [music],
      announce: { everyMs: 200, pieces: () => [texts[Math.min(asked++, 1)]!] },
    });
    await waitFor('two announcements', () => far.heard.some((p) => p.payload[0] === 0x03), 20_000);
    // First byte of each packet: music (1), announcement one (2), music, announcement two (3).
    const runs = far.heard.map((p) => p.payload[0]).filter((v, i, all) => i === 0 || all[i - 1] !== v);
    expect(runs.slice(0, 4)).toEqual([1, 2, 1, 3]);
    expect(far.heard.filter((p) => p.payload[0] === 2)).toHaveLength(2);
    await expect(engine.hold(ep.endpointId, { music: [] })).rejects.toThrow(/music: no audio/);
    await expect(
      engine.hold(ep.endpointId, { music: [music], announce: { everyMs: 0, pieces: () => [] } }),
    ).rejects.toThrow(/everyMs/);
  });

  test('records a bridged call to a two-channel WAV: caller left, agent right', async () => {
    const [a, b] = [await peer(), await peer()];
    const [ea, eb] = [await engine.open(), await engine.open()];
    await engine.setRemote(ea.endpointId, audioTo(a, 'PCMA'));
    await engine.setRemote(eb.endpointId, audioTo(b, 'PCMU', { payloadType: 0 }));
    await engine.bridge(ea.endpointId, eb.endpointId);
    const path = join(dir, 'complaint.wav');
    await expect(engine.record([ea.endpointId], join(dir, 'nowhere', 'x.wav'))).rejects.toThrow(
      /cannot be written/,
    );
    await expect(engine.record([ea.endpointId], join(dir, 'x.mp3'))).rejects.toThrow(/\.wav/);
    const id = await engine.record([ea.endpointId, eb.endpointId], path);
    await expect(engine.record([ea.endpointId], path)).rejects.toThrow(/being recorded/);
    const tone = (f: number, n: number): Int16Array =>
      Int16Array.from({ length: n }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * f * i) / 8000 + 1)));
    const callerSays = alawmulaw.alaw.encode(tone(440, 160 * 25));
    const agentSays = alawmulaw.mulaw.encode(tone(1000, 160 * 25));
    for (let i = 0; i < 25; i++) {
      await a.send(ea.localPort, voicePacket(i, callerSays.subarray(i * 160, i * 160 + 160), 0x111, 8));
      await b.send(eb.localPort, voicePacket(i, agentSays.subarray(i * 160, i * 160 + 160), 0x222, 0));
    }
    await waitFor('all forwarded', () => a.heard.length >= 25 && b.heard.length >= 25);
    const saved = await engine.stopRecording(id);
    expect(saved).toMatchObject({ recordingId: id, path });
    expect(saved.durationMs).toBeGreaterThanOrEqual(500);
    const wav = new wavefile.WaveFile(
      Buffer.from(await import('node:fs').then((fs) => fs.readFileSync(path))),
    );
    expect(wav.fmt).toMatchObject({ numChannels: 2, sampleRate: 8000, bitsPerSample: 16 });
    const [left, right] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
    expect(Math.round(left.length / 8)).toBe(saved.durationMs);
    const heard = (ch: Int16Array): Int16Array => {
      const start = ch.findIndex((s) => s !== 0);
      return ch.subarray(start, start + 160 * 25);
    };
    expect(heard(left)).toEqual(alawmulaw.alaw.decode(callerSays));
    expect(heard(right)).toEqual(alawmulaw.mulaw.decode(agentSays));
    await expect(engine.stopRecording(id)).rejects.toThrow(/not found/);

    // A recording that cannot be written is an error, not a silent loss.
    const lost = join(dir, 'gone');
    await import('node:fs').then((fs) => fs.mkdirSync(lost));
    const id2 = await engine.record([ea.endpointId], join(lost, 'r.wav'));
    rmSync(lost, { recursive: true });
    await expect(engine.stopRecording(id2)).rejects.toThrow(/cannot write .*r\.wav/);
    // One left running when the engine stops is written and reported.
    const id3 = await engine.record([eb.endpointId], join(dir, 'open.wav'));
    await engine.close(eb.endpointId);
    await engine.stop();
    await waitFor('recording-saved', () => eventsOf(events, 'recording-saved').length === 1);
    expect(eventsOf(events, 'recording-saved')[0]!.recording).toMatchObject({ recordingId: id3 });
  });

  test('a recording of the caller alone takes the agent on channel 1 at the bridge, and a second agent once the first left', async () => {
    const [a, b, c] = [await peer(), await peer(), await peer()];
    const [ea, eb, ec] = [await engine.open(), await engine.open(), await engine.open()];
    for (const [ep, p] of [
      [ea, a],
      [eb, b],
      [ec, c],
    ] as const)
      await engine.setRemote(ep.endpointId, audioTo(p, 'PCMA'));
    const path = join(dir, 'call.wav');
    const id = await engine.record([ea.endpointId], path);
    // One A-law byte per talker: each decodes to its own sample value.
    const says = (byte: number): Uint8Array => new Uint8Array(160).fill(byte);
    const value = (byte: number): number => alawmulaw.alaw.decode(Uint8Array.of(byte))[0]!;
    const sent = async (p: RtpPeer, port: number, ssrc: number, byte: number): Promise<number> => {
      for (let i = 0; i < 10; i++) await p.send(port, voicePacket(i, says(byte), ssrc));
      return performance.now();
    };
    const before = (await engine.stats()).packetsIn;
    await sent(a, ea.localPort, 0x111, 0x11);

    expect(await kindOf(engine.addToRecording(id, eb.endpointId, 2))).toMatch(/^invalid-argument: .*channel/);
    expect(await kindOf(engine.addToRecording('rec-none', eb.endpointId, 1))).toMatch(/^not-found/);
    expect(await kindOf(engine.addToRecording(id, ea.endpointId, 1))).toMatch(/already/);
    expect(await kindOf(engine.addToRecording(id, eb.endpointId, 0))).toMatch(/channel 0 .* is endpoint/);
    await engine.addToRecording(id, eb.endpointId, 1);
    const firstAgentDone = await sent(b, eb.localPort, 0x222, 0x22);
    await waitFor('both talkers heard', async () => (await engine.stats()).packetsIn >= before + 20);
    // The first agent leaves (its leg closed); a second takes channel 1. Its audio lands where the
    // clock is then, after the first agent's 200 ms, so wait for the clock to pass them.
    await engine.close(eb.endpointId);
    await waitFor('the first agent past', () => performance.now() - firstAgentDone > 300);
    await engine.addToRecording(id, ec.endpointId, 1);
    await sent(c, ec.localPort, 0x333, 0x33);
    await waitFor('the second agent heard', async () => (await engine.stats()).packetsIn >= before + 30);
    const saved = await engine.stopRecording(id);

    const wav = new wavefile.WaveFile(readFileSync(saved.path));
    expect(wav.fmt).toMatchObject({ numChannels: 2, sampleRate: 8000 });
    const [left, right] = wav.getSamples(false, Int16Array) as unknown as [Int16Array, Int16Array];
    const count = (ch: Int16Array, byte: number): number => ch.filter((s) => s === value(byte)).length;
    expect(count(left, 0x11)).toBe(1600);
    expect(count(right, 0x22)).toBe(1600);
    expect(count(right, 0x33)).toBe(1600);
    expect(count(left, 0x22) + count(left, 0x33) + count(right, 0x11)).toBe(0);
    // Each agent on the recording's clock: the second one's audio after the first one's.
    expect(right.indexOf(value(0x33))).toBeGreaterThanOrEqual(right.lastIndexOf(value(0x22)));
  });

  test('a far end that stops sending is reported inactive once', async () => {
    const far = await peer();
    const [ep, quiet] = [await engine.open(), await engine.open()];
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    // An endpoint the far end holds (we only send) is not watched.
    await engine.setRemote(quiet.endpointId, audioTo(far, 'PCMA', { direction: 'sendonly' }));
    for (let i = 0; i < 3; i++) await far.send(ep.localPort, voicePacket(i, marked(160, 0)));
    await waitFor('inactive', () => eventsOf(events, 'inactive').length > 0);
    const [e] = eventsOf(events, 'inactive');
    expect(e).toMatchObject({ endpointId: ep.endpointId });
    expect(e!.silentForMs).toBeGreaterThanOrEqual(400);
    // A later endpoint's report comes after; the first is not repeated and `quiet` never shows.
    const later = await engine.open();
    await engine.setRemote(later.endpointId, audioTo(far, 'PCMA'));
    await waitFor('the later one', () => eventsOf(events, 'inactive').length > 1);
    expect(eventsOf(events, 'inactive').map((x) => x.endpointId)).toEqual([ep.endpointId, later.endpointId]);
  });

  test('drops malformed packets and RTCP, counting them, and goes on', async () => {
    const far = await peer();
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    await far.send(ep.localPort, new Uint8Array([1, 2, 3]));
    await far.send(ep.localPort, new Uint8Array(12).fill(0x40));
    await far.send(ep.localPort, new Uint8Array([0x80, 200, 0, 6, 0, 0, 0, 1, 0, 0, 0, 0]));
    await far.send(ep.localPort, dtmfPacket(1, 100));
    await waitFor('the digit after the garbage', () => eventsOf(events, 'digit').length === 1);
    expect(await engine.stats()).toMatchObject({ endpoints: 1, malformed: 3, packetsIn: 1 });
  });

  test('refuses bad input, naming it, and changes nothing', async () => {
    const far = await peer();
    const ep = await engine.open();
    expect(await kindOf(engine.setRemote('ep-nope', audioTo(far, 'PCMA')))).toMatch(
      /^not-found: media endpoint/,
    );
    expect(await kindOf(engine.play(ep.endpointId, []))).toMatch(/^failed-precondition: .*setRemote/);
    expect(await kindOf(engine.setRemote(ep.endpointId, audioTo(far, 'PCMA', { remotePort: 0 })))).toMatch(
      /^invalid-argument: audio.remotePort/,
    );
    expect(await kindOf(engine.setRemote(ep.endpointId, audioTo(far, 'G729' as never)))).toMatch(
      /^invalid-argument: audio.codec/,
    );
    expect(
      await kindOf(engine.setRemote(ep.endpointId, audioTo(far, 'PCMA', { telephoneEventPayloadType: 300 }))),
    ).toMatch(/^invalid-argument: audio.telephoneEventPayloadType/);
    expect(
      await kindOf(engine.setRemote(ep.endpointId, audioTo(far, 'PCMA', { direction: 'up' as never }))),
    ).toMatch(/^invalid-argument: audio.direction/);
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA', { telephoneEventPayloadType: null }));
    expect(
      await kindOf(engine.play(ep.endpointId, [{ file: join(dir, 'missing.alaw'), codec: 'PCMA' }])),
    ).toMatch(/^failed-precondition: prompt file .*missing\.alaw/);
    expect(await kindOf(engine.play(ep.endpointId, [{ file: '', codec: 'PCMA' }]))).toMatch(
      /pieces\[0\]\.file/,
    );
    expect(await kindOf(engine.play(ep.endpointId, [{ file: 'x', codec: 'G722' as never }]))).toMatch(
      /pieces\[0\]\.codec/,
    );
    expect(await kindOf(engine.play(ep.endpointId, []))).toBe('resolved');
    expect(await kindOf(engine.bridge(ep.endpointId, ep.endpointId))).toMatch(/itself/);
    expect(await kindOf(engine.record([], join(dir, 'a.wav')))).toMatch(/endpointIds/);
    expect(await kindOf(engine.record([ep.endpointId, ep.endpointId], join(dir, 'a.wav')))).toMatch(/twice/);
    await engine.close(ep.endpointId);
    expect(await kindOf(engine.close(ep.endpointId))).toMatch(/^not-found/);
  });

  test('edges: a far end we only hear, packets before the SDP, CSRCs, comfort noise, a failing announcement', async () => {
    const [a, b] = [await peer(), await peer()];
    const [ea, eb] = [await engine.open(), await engine.open()];
    engine.onEvent(() => {
      throw new Error('a handler that throws does not stop the others');
    });
    // Before setRemote a packet is read (counted) but goes nowhere.
    await a.send(ea.localPort, voicePacket(0, marked(160, 0)));
    // recvonly: we do not send, but a prompt still takes its time and ends.
    await engine.setRemote(ea.endpointId, audioTo(a, 'PCMA', { direction: 'recvonly' }));
    expect(await engine.play(ea.endpointId, [clipFile(dir, 'q.alaw', marked(320, 0x10))])).toEqual({
      outcome: 'done',
    });
    expect(a.heard).toHaveLength(0);
    await engine.setRemote(ea.endpointId, audioTo(a, 'PCMA'));
    await engine.setRemote(eb.endpointId, audioTo(b, 'PCMA'));
    await engine.bridge(ea.endpointId, eb.endpointId);
    // Comfort noise (13) is dropped; a flash (event 16) is no digit; a packet with a CSRC is
    // forwarded behind a plain header.
    await a.send(ea.localPort, voicePacket(0, marked(1, 0), 0xaaa, 13));
    await a.send(ea.localPort, dtmfPacket(16, 200));
    const withCsrc = Buffer.from(writeRtp(voicePacket(1, marked(160, 0x44, 1), 0xaaa, 8)));
    const csrc = Buffer.concat([withCsrc.subarray(0, 12), Buffer.from([0, 0, 0, 9]), withCsrc.subarray(12)]);
    csrc[0] = 0x81;
    await a.send(ea.localPort, csrc);
    await waitFor('the CSRC packet forwarded', () => b.heard.length === 1);
    expect(b.heard[0]!.payload).toEqual(marked(160, 0x44, 1));
    expect(eventsOf(events, 'digit')).toEqual([]);

    // A failing announcement is logged and the music goes on; the next one is asked again.
    await engine.unbridge(ea.endpointId);
    let asked = 0;
    await engine.hold(ea.endpointId, {
      music: [clipFile(dir, 'mm.alaw', marked(160, 0x01, 1))],
      announce: {
        everyMs: 100,
        pieces: () => {
          if (asked++ === 0) throw new Error('the queue is gone');
          return [clipFile(dir, 'ann.alaw', marked(160, 0x02, 1))];
        },
      },
    });
    await waitFor('the second announcement', () => a.heard.some((p) => p.payload[0] === 0x02));
    expect(asked).toBeGreaterThanOrEqual(2);
    // A re-INVITE to another codec ends what was playing in the old one.
    const before = engine.play(ea.endpointId, [clipFile(dir, 'long2.alaw', marked(8000 * 20, 0x40, 1))]);
    await waitFor('the long prompt', () => a.heard.some((p) => p.payload[0] === 0x40));
    await engine.setRemote(ea.endpointId, audioTo(a, 'PCMU', { payloadType: 0 }));
    expect(await before).toEqual({ outcome: 'replaced' });
    // A play whose clips are still loading when the agent is bridged gives way to the bridge.
    const [c, ec] = [await peer(), await engine.open()];
    await engine.setRemote(ec.endpointId, audioTo(c, 'PCMA'));
    const loading = engine.play(ec.endpointId, [clipFile(dir, 'fresh.alaw', marked(8000, 0x07, 1))]);
    const bridged = engine.bridge(ec.endpointId, eb.endpointId);
    expect(await loading).toEqual({ outcome: 'replaced' });
    await bridged;
    await b.send(eb.localPort, voicePacket(5, marked(160, 0x66, 1), 0xbbb, 8));
    await waitFor('the bridge carries', () => c.heard.some((p) => p.payload[0] === 0x66));
    expect(c.heard.every((p) => p.payload[0] === 0x66)).toBe(true);
    // A play on an endpoint closed while its clips load is replaced, and a hold then is a no-op.
    const slow = engine.play(eb.endpointId, [clipFile(dir, 'late.alaw', marked(160, 0x09))]);
    const held = engine.hold(eb.endpointId, { music: [clipFile(dir, 'late2.alaw', marked(160, 0x09))] });
    await engine.close(eb.endpointId);
    expect(['replaced', 'done']).toContain((await slow).outcome);
    await held;
  });

  test('takes the next port when one in its range is taken by another program', async () => {
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(basePort + 302, '127.0.0.1', r));
    const small = await make({
      host: '127.0.0.1',
      portMin: basePort + 302,
      portMax: basePort + 304,
      rtpTimeoutMs: 1000,
    });
    try {
      expect((await small.open()).localPort).toBe(basePort + 304);
      await expect(small.open()).rejects.toThrow(/no free RTP port/);
    } finally {
      squatter.close();
      await small.stop();
    }
    await expect(make({ host: '', portMin: 4000, portMax: 4002, rtpTimeoutMs: 1 })).rejects.toThrow(
      /media.host/,
    );
    const e = await make({
      host: '127.0.0.1',
      portMin: basePort + 310,
      portMax: basePort + 312,
      rtpTimeoutMs: 1000,
    });
    try {
      const ep = await e.open();
      await expect(e.setRemote(ep.endpointId, null as never)).rejects.toThrow(/audio: must be/);
      await expect(
        e.setRemote(ep.endpointId, { ...audioTo(squatterless, 'PCMA'), remoteAddress: '' }),
      ).rejects.toThrow(/audio.remoteAddress/);
      await expect(
        e.setRemote(ep.endpointId, { ...audioTo(squatterless, 'PCMA'), payloadType: null as never }),
      ).rejects.toThrow(/audio.payloadType/);
      await expect(e.hold(ep.endpointId, null as never)).rejects.toThrow();
    } finally {
      await e.stop();
    }
  });

  test('hands out even ports from its range until none is left', async () => {
    const small = await make({
      host: '127.0.0.1',
      portMin: basePort + 201,
      portMax: basePort + 204,
      rtpTimeoutMs: 1000,
    });
    try {
      const [e1, e2] = [await small.open(), await small.open()];
      expect([e1.localPort, e2.localPort]).toEqual([basePort + 202, basePort + 204]);
      await expect(small.open()).rejects.toThrow(/no free RTP port/);
      await small.close(e1.endpointId);
      expect((await small.open()).localPort).toBe(basePort + 202);
    } finally {
      await small.stop();
    }
    await expect(small.open()).rejects.toThrow(/stopped|gone/);
    await expect(make({ host: '127.0.0.1', portMin: 80, portMax: 90, rtpTimeoutMs: 1 })).rejects.toThrow(
      /media.portMin: must be a port in 1024-65535/,
    );
    await expect(make({ host: '127.0.0.1', portMin: 3001, portMax: 3001, rtpTimeoutMs: 1 })).rejects.toThrow(
      /no even port/,
    );
  });
});

test('a stalled engine counts and warns the time its prompts lost; a stall while nothing plays is not counted', async () => {
  const lines: Record<string, unknown>[] = [];
  const logged = createLogger(
    {},
    { level: 'warn', write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) },
  );
  const engine = new LocalMediaEngine(
    { host: '127.0.0.1', portMin: 48000, portMax: 48099, rtpTimeoutMs: 10_000 },
    logged,
  );
  const far = await RtpPeer.open();
  const dir = tempDir();
  // The event loop blocked, as a starved thread's is: no tick runs meanwhile.
  const stall = (ms: number) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  try {
    const ep = await engine.open();
    await engine.setRemote(ep.endpointId, audioTo(far, 'PCMA'));
    const frames = 40;
    const playing = engine.play(ep.endpointId, [clipFile(dir, 'p.alaw', marked(160 * frames, 0x30))]);
    await waitFor('the prompt to start', () => far.heard.length > 0);
    stall(300);
    expect(await playing).toEqual({ outcome: 'done' });
    // 300 ms blocked, 3 frames caught up: at least 12 frames' time lost, and no frame of the prompt.
    const { playoutLag } = await engine.stats();
    expect(playoutLag.stalls).toBeGreaterThanOrEqual(1);
    expect(playoutLag.delayedMs).toBeGreaterThanOrEqual(240);
    expect(playoutLag.longestStallMs).toBeGreaterThanOrEqual(240);
    await waitFor('the whole prompt', () => far.heard.length >= frames);
    const warned = lines.filter((l) => String(l['msg']).startsWith('media engine fell behind the clock'));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({
      level: 'warn',
      stalls: playoutLag.stalls,
      totalDelayedMs: playoutLag.delayedMs,
    });

    // Idle (nothing of ours playing): a stall loses nothing and is not counted.
    stall(300);
    // A timer set now expires after the overdue tick's, so the late tick has run when it fires.
    await new Promise((r) => setTimeout(r, 1));
    expect((await engine.stats()).playoutLag).toEqual(playoutLag);
  } finally {
    await engine.stop();
    far.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
