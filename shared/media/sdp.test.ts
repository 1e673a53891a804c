import { describe, expect, test } from 'vitest';
import sdpTransform from 'sdp-transform';
import { answerOffer, buildOffer, readAnswer, type LocalAudio } from './sdp.js';
import { SdpNotAcceptable } from './sdp-refusal.js';

const local: LocalAudio = {
  address: '10.1.0.5',
  port: 40000,
  sessionId: '7001',
  sessionVersion: 1,
  codecs: ['PCMA', 'PCMU'],
};

/** SIPp's uac_pcap INVITE body (`sipp -sd uac_pcap`), its keywords filled in. */
const SIPP_UAC_PCAP_OFFER = [
  'v=0',
  'o=user1 53655765 2353687637 IN IP4 127.0.0.1',
  's=-',
  'c=IN IP4 127.0.0.1',
  't=0 0',
  'm=audio 6000 RTP/AVP 8 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-11,16',
  '',
].join('\r\n');

const offer = (lines: string[]): string =>
  ['v=0', 'o=- 1 1 IN IP4 192.0.2.9', 's=-', 't=0 0', ...lines, ''].join('\r\n');

function refusal(fn: () => unknown): SdpNotAcceptable {
  try {
    fn();
  } catch (e) {
    if (e instanceof SdpNotAcceptable) return e;
    throw e;
  }
  throw new Error('expected an SdpNotAcceptable');
}

describe('answerOffer', () => {
  test("SIPp's uac_pcap offer is answered with PCMA and telephone-event, ptime 20", () => {
    const { sdp, audio } = answerOffer(SIPP_UAC_PCAP_OFFER, local);
    expect(audio).toEqual({
      remoteAddress: '127.0.0.1',
      remotePort: 6000,
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 101,
      direction: 'sendrecv',
      heldByFarEnd: false,
      remotePtimeMs: null,
    });
    const answer = sdpTransform.parse(sdp);
    expect(answer.connection).toEqual({ version: 4, ip: '10.1.0.5' });
    expect(answer.media).toHaveLength(1);
    const m = answer.media[0]!;
    expect([m.port, m.protocol, m.payloads, m.ptime, m.direction]).toEqual([
      40000,
      'RTP/AVP',
      '8 101',
      20,
      'sendrecv',
    ]);
    expect(m.rtp).toEqual([
      { payload: 8, codec: 'PCMA', rate: 8000 },
      { payload: 101, codec: 'telephone-event', rate: 8000 },
    ]);
    expect(sdp).toMatch(/^v=0\r\no=- 7001 1 IN IP4 10\.1\.0\.5\r\n/);
  });

  test("the site's preference decides between PCMA and PCMU; payload types stay as offered", () => {
    const both = offer([
      'c=IN IP4 192.0.2.9',
      'm=audio 5004 RTP/AVP 0 8 96',
      'a=rtpmap:96 telephone-event/8000',
    ]);
    expect(answerOffer(both, local).audio).toMatchObject({
      codec: 'PCMA',
      payloadType: 8,
      telephoneEventPayloadType: 96,
    });
    expect(answerOffer(both, { ...local, codecs: ['PCMU', 'PCMA'] }).audio.codec).toBe('PCMU');
    // A dynamic payload type mapped to PCMU is used as offered.
    const dynamic = offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 97', 'a=rtpmap:97 pcmu/8000']);
    expect(answerOffer(dynamic, local).audio).toMatchObject({
      codec: 'PCMU',
      payloadType: 97,
      telephoneEventPayloadType: null,
    });
  });

  test('telephone-event at another rate is not taken; the answer then carries no telephone-event', () => {
    const { sdp, audio } = answerOffer(
      offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 8 100', 'a=rtpmap:100 telephone-event/16000']),
      local,
    );
    expect(audio.telephoneEventPayloadType).toBeNull();
    expect(String(sdpTransform.parse(sdp).media[0]!.payloads)).toBe('8');
  });

  test('c= at media level wins over the session level', () => {
    const { audio } = answerOffer(
      offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 8', 'c=IN IP4 198.51.100.7']),
      local,
    );
    expect(audio.remoteAddress).toBe('198.51.100.7');
    expect(() => answerOffer(offer(['m=audio 5004 RTP/AVP 8']), local)).toThrow(/no c= line/);
  });

  test('other streams are declined with port 0, keeping one m= line per offered line', () => {
    const { sdp } = answerOffer(
      offer([
        'c=IN IP4 192.0.2.9',
        'm=video 5006 RTP/AVP 96',
        'a=rtpmap:96 H264/90000',
        'm=audio 5004 RTP/SAVP 8',
        'm=audio 5008 RTP/AVP 8',
      ]),
      local,
    );
    const media = sdpTransform.parse(sdp).media;
    expect(media.map((m) => [m.type, m.port, m.protocol])).toEqual([
      ['video', 0, 'RTP/AVP'],
      ['audio', 0, 'RTP/SAVP'],
      ['audio', 40000, 'RTP/AVP'],
    ]);
  });

  test('hold: sendonly, inactive or c=0.0.0.0 from the far end, and our own direction', () => {
    const held = (lines: string[]) => answerOffer(offer(lines), local);
    const sendonly = held(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 8', 'a=sendonly']);
    expect(sendonly.audio).toMatchObject({ direction: 'recvonly', heldByFarEnd: true });
    expect(sdpTransform.parse(sendonly.sdp).media[0]!.direction).toBe('recvonly');
    expect(held(['c=IN IP4 192.0.2.9', 'a=inactive', 'm=audio 5004 RTP/AVP 8']).audio).toMatchObject({
      direction: 'inactive',
      heldByFarEnd: true,
    });
    expect(held(['c=IN IP4 0.0.0.0', 'm=audio 5004 RTP/AVP 8']).audio).toMatchObject({
      direction: 'recvonly',
      heldByFarEnd: true,
    });
    expect(held(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 8', 'a=recvonly']).audio.direction).toBe(
      'sendonly',
    );
    // We hold the far end: our direction sendonly meets its sendrecv.
    const weHold = answerOffer(offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 8']), {
      ...local,
      direction: 'sendonly',
    });
    expect(weHold.audio).toMatchObject({ direction: 'sendonly', heldByFarEnd: false });
  });

  test('refusals name why: no audio, encrypted only, no G.711, not SDP', () => {
    expect(
      refusal(() => answerOffer(offer(['c=IN IP4 192.0.2.9', 'm=video 5006 RTP/AVP 96']), local)),
    ).toMatchObject({
      reason: 'no-audio',
      sipStatus: 488,
      kind: 'invalid-argument',
    });
    expect(
      refusal(() => answerOffer(offer(['c=IN IP4 192.0.2.9', 'm=audio 0 RTP/AVP 8']), local)).reason,
    ).toBe('no-audio');
    const srtp = refusal(() =>
      answerOffer(
        offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/SAVP 8', 'm=audio 5006 UDP/TLS/RTP/SAVPF 8']),
        local,
      ),
    );
    expect(srtp.reason).toBe('encrypted-only');
    expect(srtp.message).toMatch(/RTP\/SAVP, UDP\/TLS\/RTP\/SAVPF/);
    const opus = refusal(() =>
      answerOffer(
        offer(['c=IN IP4 192.0.2.9', 'm=audio 5004 RTP/AVP 111 9', 'a=rtpmap:111 opus/48000/2']),
        local,
      ),
    );
    expect(opus.reason).toBe('no-g711');
    expect(opus.message).toMatch(/111 9/);
    expect(refusal(() => answerOffer('hello', local)).reason).toBe('unparseable');
  });
});

describe('buildOffer and readAnswer', () => {
  test('our offer lists the site codecs in order, telephone-event 101, ptime 20', () => {
    const sdp = buildOffer(local);
    const m = sdpTransform.parse(sdp).media[0]!;
    expect([m.port, m.payloads, m.ptime, m.direction]).toEqual([40000, '8 0 101', 20, 'sendrecv']);
    expect(m.fmtp).toEqual([{ payload: 101, config: '0-15' }]);
    expect(sdpTransform.parse(buildOffer({ ...local, direction: 'sendonly' })).media[0]!.direction).toBe(
      'sendonly',
    );
  });

  test('the answer to our offer: the codec it chose, its address and direction', () => {
    const answer = offer([
      'c=IN IP4 198.51.100.7',
      'm=audio 7078 RTP/AVP 0 101',
      'a=rtpmap:101 telephone-event/8000',
      'a=ptime:30',
    ]);
    expect(readAnswer(answer, local)).toEqual({
      remoteAddress: '198.51.100.7',
      remotePort: 7078,
      codec: 'PCMU',
      payloadType: 0,
      telephoneEventPayloadType: 101,
      direction: 'sendrecv',
      heldByFarEnd: false,
      remotePtimeMs: 30,
    });
    // Our own offer is a valid offer to answer (a loop through a second site).
    expect(answerOffer(buildOffer(local), { ...local, port: 40002 }).audio.codec).toBe('PCMA');
  });
});
