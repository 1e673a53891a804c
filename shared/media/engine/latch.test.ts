/**
 * The latching rule (latch.ts) as a pure function of an endpoint, a source and the time: who
 * is the far end in each mode, the stranger window of `any`, the SDP's own address taking the latch,
 * a new setRemote learning anew, and each endpoint's log lines once. engine.test.ts runs the
 * same through real sockets.
 */
import type dgram from 'node:dgram';
import { describe, expect, test } from 'vitest';
import { createLogger } from '../../log.js';
import type { NegotiatedAudio } from '../sdp.js';
import { type EngineShared, newEndpoint } from './endpoint.js';
import { admit, resetLatch, sourceHostOf, STRANGER_LATCH_MS } from './latch.js';
import type { MediaEngineStats, RtpLatching } from './port.js';
import { PromptCache } from './prompt-cache.js';
import { rtpHeaderView } from './rtp-view.js';

const SDP: NegotiatedAudio = {
  remoteAddress: '198.51.100.7',
  remotePort: 4000,
  codec: 'PCMA',
  payloadType: 8,
  telephoneEventPayloadType: 101,
  direction: 'sendrecv',
  heldByFarEnd: false,
  remotePtimeMs: null,
};

function setup(latching: RtpLatching, audio: NegotiatedAudio = SDP, udp6 = false) {
  const lines: Record<string, unknown>[] = [];
  const counters: Omit<MediaEngineStats, 'playoutLag'> = {
    endpoints: 0,
    packetsIn: 0,
    packetsOut: 0,
    malformed: 0,
    wrongSource: 0,
    latchedElsewhere: 0,
  };
  const cx: EngineShared = {
    counters,
    prompts: new PromptCache(),
    header: rtpHeaderView(),
    log: createLogger({}, { write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) }),
    latching,
    emit: () => undefined,
  };
  const ep = newEndpoint('ep-1', 30000, {} as dgram.Socket, udp6, 1000);
  ep.remote = { ...audio };
  resetLatch(cx, ep, ep.remote, 0);
  /** A packet from host:port at `now`; `agreed` unless said otherwise. Whether it was taken. */
  const from = (host: string, port: number, now = 10, agreed = true): boolean =>
    admit(cx, ep, ep.remote!, host, port, agreed, now);
  const sendsTo = (): string => `${ep.sendHost}:${ep.sendPort}`;
  const msgs = (): string[] => lines.map((l) => String(l['msg']));
  return { cx, ep, counters, from, sendsTo, msgs };
}

describe('RTP latching, sdp-host (the default)', () => {
  test("only the SDP host's packets, from any port; ours go to the SDP's address:port; nothing is learned", () => {
    const { ep, counters, from, sendsTo, msgs } = setup('sdp-host');
    expect([ep.latch, sendsTo()]).toEqual(['host', '198.51.100.7:4000']);
    // Another host is never the far end: dropped before the far end's first packet and after.
    expect(from('203.0.113.9', 4000)).toBe(false);
    expect(from('198.51.100.7', 5006)).toBe(true);
    // An asymmetric sender (SIPp): its packets come from another port than it listens on.
    expect(from('198.51.100.7', 5008, 20)).toBe(true);
    expect(from('198.51.100.7', 4000, 30)).toBe(true);
    expect(from('203.0.113.9', 5006, 40)).toBe(false);
    expect([ep.latch, sendsTo()]).toEqual(['host', '198.51.100.7:4000']);
    expect(counters).toMatchObject({ wrongSource: 2, latchedElsewhere: 0 });
    // One line for the first stranger, not one per packet.
    expect(msgs()).toEqual(['RTP from a source other than the far end dropped']);
  });

  test('a re-INVITE to a new address: its host is the one held to now', () => {
    const { cx, ep, from, sendsTo } = setup('sdp-host');
    const moved = { ...ep.remote!, remoteAddress: '198.51.100.8', remotePort: 4002 };
    resetLatch(cx, ep, moved, 200);
    ep.remote = moved;
    expect(from('198.51.100.7', 5010, 210)).toBe(false);
    expect(from('198.51.100.8', 4002, 210)).toBe(true);
    expect([ep.latch, sendsTo()]).toEqual(['host', '198.51.100.8:4002']);
  });
});

describe('RTP latching, any (far ends behind NAT)', () => {
  /** Past the window in which another host may latch: the SDP's host alone may. */
  const LATE = STRANGER_LATCH_MS + 1;

  test('the first agreed packet latches its port; after it every other source is dropped', () => {
    const { ep, counters, from, sendsTo, msgs } = setup('any');
    expect([ep.latch, sendsTo()]).toEqual(['learning', '198.51.100.7:4000']);
    // Another host past the window: dropped, and it does not latch.
    expect(from('203.0.113.9', 4000, LATE)).toBe(false);
    // Comfort noise from the SDP host is taken but latches nothing.
    expect(from('198.51.100.7', 5008, LATE, false)).toBe(true);
    expect(ep.latch).toBe('learning');
    expect(from('198.51.100.7', 5006, LATE)).toBe(true);
    expect([ep.latch, sendsTo()]).toEqual(['latched', '198.51.100.7:5006']);
    expect(from('198.51.100.7', 5006, LATE)).toBe(true);
    // Same host, another port (a second stream, or someone on that host): not the far end now.
    expect(from('198.51.100.7', 5008, LATE)).toBe(false);
    expect(from('203.0.113.9', 5006, LATE)).toBe(false);
    expect(counters).toMatchObject({ wrongSource: 3, latchedElsewhere: 1 });
    expect(ep.wrongSource).toBe(3);
    // One line for the latch elsewhere, one for the first stranger; not one per packet.
    expect(msgs()).toEqual([
      'RTP from a source other than the far end dropped',
      'RTP latched to a source other than the SDP named',
    ]);
  });

  test("the SDP's own address:port is never a stranger, and takes a latch that went elsewhere", () => {
    const { ep, counters, from, sendsTo } = setup('any');
    expect(from('198.51.100.7', 5006)).toBe(true);
    expect(from('198.51.100.7', 4000, 20, false)).toBe(true);
    expect(ep.latch).toBe('latched');
    expect(from('198.51.100.7', 4000)).toBe(true);
    expect([ep.latch, sendsTo()]).toEqual(['pinned', '198.51.100.7:4000']);
    // Pinned for good (until setRemote): the earlier source is a stranger now.
    expect(from('198.51.100.7', 5006)).toBe(false);
    expect(counters).toMatchObject({ wrongSource: 1, latchedElsewhere: 1 });
  });

  test('a new setRemote learns anew and sends to the SDP until then; the log line is once per endpoint', () => {
    const { cx, ep, counters, from, sendsTo, msgs } = setup('any');
    from('198.51.100.7', 5006);
    resetLatch(cx, ep, ep.remote!, 100);
    expect([ep.latch, sendsTo()]).toEqual(['learning', '198.51.100.7:4000']);
    expect(from('198.51.100.7', 5010, 110)).toBe(true);
    expect(sendsTo()).toBe('198.51.100.7:5010');
    expect(from('198.51.100.7', 5006, 120)).toBe(false);
    expect(counters.latchedElsewhere).toBe(2);
    expect(msgs().filter((m) => m.startsWith('RTP latched'))).toHaveLength(1);
  });

  test(`another host may latch within ${STRANGER_LATCH_MS} ms of setRemote, the SDP host at any time`, () => {
    const early = setup('any');
    expect(early.from('203.0.113.9', 61234, STRANGER_LATCH_MS)).toBe(true);
    expect([early.ep.latch, early.sendsTo()]).toEqual(['latched', '203.0.113.9:61234']);
    expect(early.from('203.0.113.10', 61234, STRANGER_LATCH_MS)).toBe(false);

    const late = setup('any');
    // A far end silent past the window cannot be latched from elsewhere (RTP Bleed).
    expect(late.from('203.0.113.9', 61234, LATE)).toBe(false);
    expect(late.ep.latch).toBe('learning');
    expect(late.from('198.51.100.7', 5006, 60_000)).toBe(true);
    expect([late.ep.latch, late.sendsTo()]).toEqual(['latched', '198.51.100.7:5006']);
  });
});

describe('RTP latching, off and open', () => {
  test('off, and an SDP host that is no address (a name, 0.0.0.0): any source, ours to the SDP', () => {
    for (const s of [
      setup('off'),
      setup('sdp-host', { ...SDP, remoteAddress: 'media.carrier.example' }),
      setup('any', { ...SDP, remoteAddress: '0.0.0.0' }),
    ]) {
      expect(s.ep.latch).toBe('open');
      expect(s.from('203.0.113.9', 61234)).toBe(true);
      expect(s.from('198.51.100.7', 5006)).toBe(true);
      expect(s.ep.latch).toBe('open');
      expect(s.sendsTo()).toBe(`${s.ep.remote!.remoteAddress}:4000`);
      expect(s.counters).toMatchObject({ wrongSource: 0, latchedElsewhere: 0 });
    }
  });

  test('hosts are compared as the socket reports them: IPv6 canonical, IPv4 mapped on an IPv6 socket', () => {
    expect(sourceHostOf('2001:DB8:0:0::1', true)).toBe('2001:db8::1');
    expect(sourceHostOf('192.0.2.1', true)).toBe('::ffff:192.0.2.1');
    expect(sourceHostOf('192.0.2.1', false)).toBe('192.0.2.1');
    expect(sourceHostOf('::', true)).toBeNull();
    expect(sourceHostOf('FE80::1%eth0', true)).toBe('fe80::1%eth0');
    const v6 = setup('any', { ...SDP, remoteAddress: '2001:DB8::7' }, true);
    expect(v6.from('2001:db8::7', 5006)).toBe(true);
    expect(v6.sendsTo()).toBe('2001:db8::7:5006');
    const v4 = setup('sdp-host', SDP, true);
    expect(v4.from('::ffff:198.51.100.7', 5006)).toBe(true);
    expect(v4.from('::ffff:198.51.100.8', 5006)).toBe(false);
  });
});
