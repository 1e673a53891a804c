/**
 * SDP offer/answer (RFC 3264) for a site's audio: one G.711 stream (PCMA or PCMU) plus
 * RFC 4733 telephone-event for DTMF, 20 ms frames. Pure: text in, text and a summary out;
 * the SIP layer carries the bodies and the media adapter opens the sockets.
 *
 * - The codec is the site's first preference (LocalAudio.codecs) among those offered, with
 *   the payload type as offered (0 and 8 are static, so an offer may list them without an
 *   rtpmap). telephone-event is taken only at 8000 Hz, again with the offered payload type.
 * - The answer keeps one m= line per offered line (RFC 3264 §6): every line but the audio
 *   one we took is answered with port 0.
 * - Encrypted profiles (RTP/SAVP, RTP/SAVPF, UDP/TLS/...) are not spoken here: an offer with
 *   nothing else is refused, as is one with no audio or no G.711 (SdpNotAcceptable -> 488).
 * - Hold: a far end that offers sendonly or inactive, or the old-style c=0.0.0.0 (RFC 3264
 *   §8.4), does not want our audio; the summary says so and our answer's direction follows.
 */
import sdpTransform from 'sdp-transform';
import type { MediaDescription, SessionDescription } from 'sdp-transform';
import { SdpNotAcceptable } from './sdp-refusal.js';

export type G711Codec = 'PCMA' | 'PCMU';
export type MediaDirection = 'sendrecv' | 'sendonly' | 'recvonly' | 'inactive';

export const G711_STATIC_PAYLOAD_TYPE: Readonly<Record<G711Codec, number>> = { PCMU: 0, PCMA: 8 };
/** Our payload type for telephone-event in offers we make (any dynamic one would do). */
export const DEFAULT_TELEPHONE_EVENT_PT = 101;
export const PTIME_MS = 20;
/** The RFC 4733 events we detect: the 16 DTMF tones. */
const TELEPHONE_EVENTS = '0-15';

export interface LocalAudio {
  /** Where we receive RTP. */
  address: string;
  port: number;
  /** The o= line. Bump the version for each new description in one dialog (RFC 3264 §8). */
  sessionId: string;
  sessionVersion: number;
  /** The site's preference order. */
  codecs: readonly G711Codec[];
  /** Ours: `sendonly` puts the far end on hold. Default sendrecv. */
  direction?: MediaDirection;
  telephoneEventPayloadType?: number;
}

/** What was agreed, from our side. */
export interface NegotiatedAudio {
  remoteAddress: string;
  remotePort: number;
  codec: G711Codec;
  payloadType: number;
  telephoneEventPayloadType: number | null;
  /** Ours: whether we send and receive RTP. */
  direction: MediaDirection;
  /** The far end does not want our audio (it put us on hold). */
  heldByFarEnd: boolean;
  /** The far end's a=ptime, when it gave one (what it sends; we accept any length in). */
  remotePtimeMs: number | null;
}

export function answerOffer(offerText: string, local: LocalAudio): { sdp: string; audio: NegotiatedAudio } {
  const offer = parse(offerText);
  const { index, audio } = chooseAudio(offer, local);
  const answerMedia = offer.media.map((m, i) =>
    i === index ? ourAudio(local, audio, m.protocol) : rejected(m),
  );
  return { sdp: write(local, answerMedia), audio };
}

/** Our offer, for a dial-out or a hand-over (a re-INVITE with direction sendonly holds). */
export function buildOffer(local: LocalAudio): string {
  const codecs = local.codecs.map((c) => ({ name: c, payloadType: G711_STATIC_PAYLOAD_TYPE[c] }));
  const te = local.telephoneEventPayloadType ?? DEFAULT_TELEPHONE_EVENT_PT;
  const media: MediaDescription = {
    type: 'audio',
    port: local.port,
    protocol: 'RTP/AVP',
    payloads: [...codecs.map((c) => c.payloadType), te].join(' '),
    rtp: [
      ...codecs.map((c) => ({ payload: c.payloadType, codec: c.name, rate: 8000 })),
      { payload: te, codec: 'telephone-event', rate: 8000 },
    ],
    fmtp: [{ payload: te, config: TELEPHONE_EVENTS }],
    ptime: PTIME_MS,
    direction: local.direction ?? 'sendrecv',
  };
  return write(local, [media]);
}

/** The far end's answer to our offer (buildOffer with the same `local`). */
export function readAnswer(answerText: string, local: LocalAudio): NegotiatedAudio {
  return chooseAudio(parse(answerText), local).audio;
}

function parse(text: string): SessionDescription {
  let s: SessionDescription;
  try {
    s = sdpTransform.parse(text);
  } catch (e) {
    throw new SdpNotAcceptable('unparseable', `cannot parse the body (${String(e)})`);
  }
  // sdp-transform accepts any text; a description starts with v=0 (RFC 4566 §5).
  if (!/^v=0\r?$/m.test(text.split('\n', 1)[0] ?? '') || !Array.isArray(s.media)) {
    throw new SdpNotAcceptable('unparseable', 'the body is not SDP (no v=0 first line)');
  }
  return s;
}

const isEncrypted = (protocol: string): boolean => /SAVP|TLS|DTLS/i.test(protocol);
const isPlainRtp = (protocol: string): boolean => /^RTP\/AVPF?$/i.test(protocol);

function chooseAudio(s: SessionDescription, local: LocalAudio): { index: number; audio: NegotiatedAudio } {
  const audio = s.media
    .map((m, index) => ({ m, index }))
    .filter(({ m }) => m.type === 'audio' && m.port !== 0);
  if (audio.length === 0) throw new SdpNotAcceptable('no-audio', 'no audio stream offered');
  const plain = audio.filter(({ m }) => isPlainRtp(m.protocol));
  if (plain.length === 0) {
    const protos = [...new Set(audio.map(({ m }) => m.protocol))].join(', ');
    throw new SdpNotAcceptable(
      audio.every(({ m }) => isEncrypted(m.protocol)) ? 'encrypted-only' : 'no-audio',
      `no plain RTP/AVP audio stream (offered ${protos}); encrypted media is not supported`,
    );
  }
  for (const { m, index } of plain) {
    const codec = pickCodec(m, local.codecs);
    if (!codec) continue;
    const connection = m.connection ?? s.connection;
    if (!connection) {
      throw new SdpNotAcceptable('no-address', 'no c= line at session or media level');
    }
    const remoteDirection = m.direction ?? s.direction ?? 'sendrecv';
    const nullAddress = connection.ip === '0.0.0.0' || connection.ip === '::';
    const farEndReceives = !nullAddress && (remoteDirection === 'sendrecv' || remoteDirection === 'recvonly');
    const farEndSends = remoteDirection === 'sendrecv' || remoteDirection === 'sendonly';
    const ours = local.direction ?? 'sendrecv';
    const weSend = farEndReceives && (ours === 'sendrecv' || ours === 'sendonly');
    const weReceive = farEndSends && (ours === 'sendrecv' || ours === 'recvonly');
    return {
      index,
      audio: {
        remoteAddress: connection.ip,
        remotePort: m.port,
        codec: codec.name,
        payloadType: codec.payloadType,
        telephoneEventPayloadType: telephoneEventOf(m),
        direction: directionOf(weSend, weReceive),
        heldByFarEnd: !farEndReceives,
        remotePtimeMs: m.ptime ?? null,
      },
    };
  }
  const offered = plain.map(({ m }) => m.payloads ?? '').join(' / ');
  throw new SdpNotAcceptable('no-g711', `no PCMA or PCMU at 8000 Hz among payloads ${offered}`);
}

const payloadTypes = (m: MediaDescription): number[] =>
  String(m.payloads ?? '')
    .split(/\s+/)
    .filter((p) => /^\d+$/.test(p))
    .map(Number);

/** The first of `preference` the stream carries, with its payload type as offered. */
function pickCodec(
  m: MediaDescription,
  preference: readonly G711Codec[],
): { name: G711Codec; payloadType: number } | null {
  const carried = new Map<G711Codec, number>();
  for (const pt of payloadTypes(m)) {
    const map = m.rtp.find((r) => r.payload === pt);
    const name = map ? map.codec.toUpperCase() : pt === 0 ? 'PCMU' : pt === 8 ? 'PCMA' : null;
    const rate = map?.rate ?? 8000;
    if ((name === 'PCMA' || name === 'PCMU') && rate === 8000 && !carried.has(name)) {
      carried.set(name, pt);
    }
  }
  for (const name of preference) {
    const payloadType = carried.get(name);
    if (payloadType !== undefined) return { name, payloadType };
  }
  return null;
}

function telephoneEventOf(m: MediaDescription): number | null {
  const listed = new Set(payloadTypes(m));
  const te = m.rtp.find(
    (r) => listed.has(r.payload) && r.codec.toLowerCase() === 'telephone-event' && r.rate === 8000,
  );
  return te ? te.payload : null;
}

function directionOf(send: boolean, receive: boolean): MediaDirection {
  if (send && receive) return 'sendrecv';
  if (send) return 'sendonly';
  if (receive) return 'recvonly';
  return 'inactive';
}

function ourAudio(local: LocalAudio, audio: NegotiatedAudio, protocol: string): MediaDescription {
  const te = audio.telephoneEventPayloadType;
  return {
    type: 'audio',
    port: local.port,
    protocol,
    payloads: [audio.payloadType, ...(te === null ? [] : [te])].join(' '),
    rtp: [
      { payload: audio.payloadType, codec: audio.codec, rate: 8000 },
      ...(te === null ? [] : [{ payload: te, codec: 'telephone-event', rate: 8000 }]),
    ],
    fmtp: te === null ? [] : [{ payload: te, config: TELEPHONE_EVENTS }],
    ptime: PTIME_MS,
    direction: audio.direction,
  };
}

/** A declined stream: port 0, its formats echoed (RFC 3264 §6: at least one is required). */
const rejected = (m: MediaDescription): MediaDescription => ({
  type: m.type,
  port: 0,
  protocol: m.protocol,
  payloads: m.payloads ?? '0',
  rtp: [],
  fmtp: [],
});

function write(local: LocalAudio, media: MediaDescription[]): string {
  const ipVer = local.address.includes(':') ? 6 : 4;
  return sdpTransform.write({
    version: 0,
    origin: {
      username: '-',
      sessionId: local.sessionId,
      sessionVersion: local.sessionVersion,
      netType: 'IN',
      ipVer,
      address: local.address,
    },
    name: '-',
    connection: { version: ipVer, ip: local.address },
    timing: { start: 0, stop: 0 },
    media,
  });
}
