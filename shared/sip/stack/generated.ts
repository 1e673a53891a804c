/**
 * The two messages the transaction layer builds itself (the machines ask for them, types.ts):
 *
 * - the ACK to a 3xx-6xx final of an INVITE (RFC 3261 §17.1.1.3): the INVITE's Request-URI,
 *   Call-ID, From, top Via (so it matches the server's transaction) and CSeq number with
 *   method ACK, its Route headers, and the To of the response (which carries the UAS's tag);
 * - the 100 Trying to an INVITE (RFC 3261 §8.2.6.1): the request's Via, From, To (no tag),
 *   Call-ID and CSeq.
 */
import { headerValue, headerValues, type SipRequest, type SipResponse } from '../message.js';
import { cseq } from '../headers.js';
import { buildResponse } from '../response.js';
import { splitList } from '../syntax.js';

export function buildAck(invite: SipRequest, response: SipResponse): SipRequest {
  const topVia = splitList(headerValues(invite, 'Via')[0]!, 'Via')[0]!;
  const headers = [
    { name: 'Via', value: topVia },
    ...headerValues(invite, 'Route').map((value) => ({ name: 'Route', value })),
    { name: 'Max-Forwards', value: '70' },
    { name: 'From', value: headerValue(invite, 'From')! },
    { name: 'To', value: headerValue(response, 'To')! },
    { name: 'Call-ID', value: headerValue(invite, 'Call-ID')! },
    { name: 'CSeq', value: `${cseq(invite).seq} ACK` },
  ];
  return { kind: 'request', method: 'ACK', uri: invite.uri, headers, body: Buffer.alloc(0) };
}

export const buildTrying = (invite: SipRequest): SipResponse => buildResponse(invite, 100);
