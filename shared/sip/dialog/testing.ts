/**
 * Messages for the dialog and leg tests: a carrier's INVITE through two proxies, its
 * responses, and a deterministic id source, all as parsed messages (so the tests also hold
 * the builders to what the parser accepts).
 */
import { KEEP_ALIVE, parseSipMessage } from '../parse.js';
import type { SipMessage, SipRequest, SipResponse } from '../message.js';
import { serializeSipMessage } from '../serialize.js';
import { wire } from '../testing.js';
import type { LocalVia, SipIds } from './requests.js';

export const LOCAL_VIA: LocalVia = { transport: 'UDP', sentBy: '10.0.0.5:5060' };
export const LOCAL_CONTACT = 'sip:site@10.0.0.5:5060';

export function parsed(text: string): SipMessage {
  const m = parseSipMessage(wire(text));
  if (m === KEEP_ALIVE) throw new Error('keep-alive');
  return m;
}

/** A message through the serializer and parser, as the peer would read it. */
export function roundTrip<M extends SipMessage>(m: M): M {
  const back = parseSipMessage(serializeSipMessage(m));
  if (back === KEEP_ALIVE) throw new Error('keep-alive');
  return back as M;
}

export const OFFER = [
  'v=0',
  'o=carrier 1 1 IN IP4 192.0.2.10',
  's=-',
  'c=IN IP4 192.0.2.10',
  't=0 0',
  'm=audio 40000 RTP/AVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-15',
  'a=ptime:20',
  '',
].join('\r\n');

export function invite(
  opts: { body?: string; extra?: string; cseq?: number; recordRoute?: boolean } = {},
): SipRequest {
  const body = opts.body ?? OFFER;
  const rr =
    opts.recordRoute === false
      ? ''
      : 'Record-Route: <sip:p2.carrier.example;lr>, <sip:p1.carrier.example;lr>\n';
  return parsed(
    `INVITE sip:95555@10.0.0.5 SIP/2.0
Via: SIP/2.0/UDP p2.carrier.example;branch=z9hG4bKp2
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKcaller
Max-Forwards: 68
${rr}From: "Caller" <sip:13800138000@carrier.example>;tag=caller-tag
To: <sip:95555@site.example>
Call-ID: call-1@192.0.2.10
CSeq: ${opts.cseq ?? 101} INVITE
Contact: <sip:13800138000@192.0.2.10:5060>
${opts.extra ?? ''}${body === '' ? '' : 'Content-Type: application/sdp\n'}Content-Length: ${Buffer.byteLength(body)}

` + body.replace(/\r\n/g, '\n'),
  ) as SipRequest;
}

/** A request from the caller inside the dialog whose local (our) tag is `ourTag`. */
export function callerRequest(
  method: string,
  seq: number,
  ourTag: string,
  opts: { contact?: string; body?: string; contentType?: string; extra?: string } = {},
): SipRequest {
  const body = opts.body ?? '';
  return parsed(
    `${method} sip:site@10.0.0.5:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK${method.toLowerCase()}${seq}
Max-Forwards: 70
From: "Caller" <sip:13800138000@carrier.example>;tag=caller-tag
To: <sip:95555@site.example>;tag=${ourTag}
Call-ID: call-1@192.0.2.10
CSeq: ${seq} ${method}
${opts.contact === undefined ? '' : `Contact: <${opts.contact}>\n`}${opts.extra ?? ''}${body === '' ? '' : `Content-Type: ${opts.contentType ?? 'application/sdp'}\n`}Content-Length: ${Buffer.byteLength(body)}

` + body.replace(/\r\n/g, '\n'),
  ) as SipRequest;
}

/** The peer's response to a request we built: its headers copied, a To tag and Contact added. */
export function answer(
  request: SipRequest,
  status: number,
  opts: { toTag?: string; contact?: string; recordRoute?: string; body?: string; extra?: string } = {},
): SipResponse {
  const lines = request.headers
    .filter((h) => ['Via', 'From', 'To', 'Call-ID', 'CSeq'].includes(h.name))
    .map(
      (h) =>
        `${h.name}: ${h.name === 'To' && opts.toTag !== undefined && !/tag=/.test(h.value) ? `${h.value};tag=${opts.toTag}` : h.value}`,
    );
  const body = opts.body ?? '';
  const text = [
    `SIP/2.0 ${status} Whatever`,
    ...lines,
    ...(opts.recordRoute === undefined ? [] : [`Record-Route: ${opts.recordRoute}`]),
    ...(opts.contact === undefined ? [] : [`Contact: <${opts.contact}>`]),
    ...(opts.extra === undefined ? [] : [opts.extra]),
    ...(body === '' ? [] : ['Content-Type: application/sdp']),
    `Content-Length: ${Buffer.byteLength(body)}`,
    '',
    '',
  ].join('\n');
  return parsed(text + body.replace(/\r\n/g, '\n')) as SipResponse;
}

/** Ids that count up, so each test's messages are the same every run. */
export function countingIds(prefix = 'x'): SipIds {
  let n = 0;
  return {
    branch: () => `z9hG4bK${prefix}b${++n}`,
    tag: () => `${prefix}t${++n}`,
    callId: () => `${prefix}c${++n}@10.0.0.5`,
  };
}
