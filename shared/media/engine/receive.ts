/**
 * A packet in from an endpoint's far end (engine.ts): checked (a malformed one is dropped and
 * counted), its source held to the far end's (latch.ts: one from anyone else is dropped and
 * counted, the first of an agreed type after setRemote latches), a DTMF event taken as a digit (which may stop a prompt that allows barge-in),
 * audio recorded on the endpoint's channels and, when bridged, sent on to the other party
 * (forward.ts). Apart from the engine class: this is the hot inbound path, read on its own.
 */
import type { RemoteInfo } from 'node:dgram';
import { performance } from 'node:perf_hooks';
import { detectDtmf } from '../dtmf.js';
import { type Endpoint, type EngineShared, IDLE, setSource } from './endpoint.js';
import { forward } from './forward.js';
import { admit } from './latch.js';
import { type RtpHeaderView, readRtpHeader } from './rtp-view.js';

export function receive(cx: EngineShared, ep: Endpoint, b: Buffer, from: RemoteInfo): void {
  if (ep.closed) return;
  const h = cx.header;
  const why = readRtpHeader(b, h);
  if (why !== null) {
    cx.counters.malformed++;
    // Once per endpoint: a broken or hostile sender would flood the log otherwise.
    if (ep.malformed++ === 0) cx.log.warn('malformed RTP dropped', { endpointId: ep.id, reason: why });
    return;
  }
  cx.counters.packetsIn++;
  const r = ep.remote;
  if (!r) return;
  const now = performance.now();
  const isEvent = ep.detector !== null && h.payloadType === ep.detector.payloadType;
  // Before the far end's media counts as heard (inactivity), digits or audio: is it the far end?
  if (!admit(cx, ep, r, from.address, from.port, isEvent || h.payloadType === r.payloadType, now)) return;
  ep.lastPacketMs = now;
  if (isEvent) {
    digit(cx, ep, b, h);
    return;
  }
  // Comfort noise and anything else not agreed is not audio we can use.
  if (h.payloadType !== r.payloadType) return;
  for (const { rec, channel } of ep.recordings) {
    rec.add(channel, h.ssrc, h.timestamp, b, h.payloadStart, h.payloadEnd, r.codec, now);
  }
  if (ep.source.kind === 'bridge') forward(cx, ep.source.peer, r.codec, b, h, now);
}

function digit(cx: EngineShared, ep: Endpoint, b: Buffer, h: RtpHeaderView): void {
  const res = detectDtmf(ep.detector!, {
    payloadType: h.payloadType,
    sequenceNumber: h.sequenceNumber,
    timestamp: h.timestamp,
    ssrc: h.ssrc,
    marker: h.marker,
    payload: b.subarray(h.payloadStart, h.payloadEnd),
  });
  ep.detector = res.detector;
  if (res.dropped !== null)
    cx.log.debug('telephone-event dropped', { endpointId: ep.id, reason: res.dropped });
  if (res.digit === null) return;
  cx.emit({ kind: 'digit', endpointId: ep.id, digit: res.digit });
  const s = ep.source;
  if (s.kind === 'play' && s.bargeIn) {
    setSource(ep, IDLE);
    s.resolve({ outcome: 'interrupted', digit: res.digit });
  }
}
