/**
 * The Via work of the transport layer (RFC 3261 §18, RFC 3581), pure:
 *
 * - a request we send gets our Via on top, with a fresh branch and `rport`, so the answer
 *   comes back to the port we sent from even through a NAT;
 * - a request we receive gets `received` (the packet's source IP) when that differs from
 *   its sent-by host, and `rport` filled with the source port when the client asked;
 * - a response goes where its top Via says: to `received`:`rport` when the client asked
 *   for rport, else to `received` (or the sent-by host) at the sent-by port, 5060 by default.
 */
import { invalidArgument } from '../../errors.js';
import { canonicalHeaderName, type SipHeader, type SipMessage, type SipRequest } from '../message.js';
import { parseVia, type SipVia } from '../headers.js';
import { splitList } from '../syntax.js';
import type { SipAddress, SipTransportName } from '../transport/types.js';

export const DEFAULT_SIP_PORT = 5060;

const isVia = (h: SipHeader): boolean => canonicalHeaderName(h.name) === 'Via';

/** The top Via element (a parsed message has one). */
export function topVia(msg: Pick<SipMessage, 'headers'>): SipVia {
  const first = msg.headers.find(isVia);
  if (!first) throw invalidArgument('Via', 'missing');
  return parseVia(splitList(first.value, 'Via')[0]!);
}

/** An IPv6 host as Via writes it (`[::1]`) and as a socket reports it (`::1`) compare equal. */
const bare = (host: string): string => host.replace(/^\[(.*)\]$/, '$1').toLowerCase();

const STAMP_PARAMS = /;[ \t]*(?:received|rport)[ \t]*(?:=[ \t]*[^;,\s]*)?(?=[ \t]*(?:;|$))/gi;

/**
 * The request as the TU sees it: its top Via stamped with where it really came from
 * (RFC 3261 §18.2.1, RFC 3581 §4). Responses built from it (buildResponse copies the Vias)
 * then carry the stamp back, and are routed by it.
 */
export function stampVia(req: SipRequest, source: SipAddress): SipRequest {
  const at = req.headers.findIndex(isVia);
  if (at < 0) throw invalidArgument('Via', 'missing');
  const header = req.headers[at]!;
  const [top, ...rest] = splitList(header.value, 'Via') as [string, ...string[]];
  const via = parseVia(top);
  const askedRport = via.rport !== undefined;
  if (!askedRport && bare(via.host) === bare(source.host)) return req;
  let stamped = top.replace(STAMP_PARAMS, '') + `;received=${source.host}`;
  if (askedRport) stamped += `;rport=${source.port}`;
  const headers = [...req.headers];
  headers[at] = { name: header.name, value: [stamped, ...rest].join(', ') };
  return { ...req, headers };
}

/**
 * Where a response goes when it cannot ride its request's connection: over UDP always,
 * over TCP when that connection has closed (then the sent-by port, not rport: the port the
 * client's connection came from is no listener).
 */
export function responseDestination(
  response: Pick<SipMessage, 'headers'>,
  transport: SipTransportName,
): SipAddress {
  const via = topVia(response);
  const host = bare(via.received ?? via.host);
  if (transport === 'udp' && typeof via.rport === 'number') return { host, port: via.rport };
  return { host, port: via.port ?? DEFAULT_SIP_PORT };
}

/** Our Via for a request we send: `SIP/2.0/UDP host:port;branch=z9hG4bK...;rport`. */
export function ourVia(transport: SipTransportName, sentBy: SipAddress, branch: string): string {
  const host = sentBy.host.includes(':') ? `[${sentBy.host}]` : sentBy.host;
  return `SIP/2.0/${transport.toUpperCase()} ${host}:${sentBy.port};branch=${branch};rport`;
}

/** The request with `via` as its new top Via (before every other header, as is usual). */
export const withTopVia = (req: SipRequest, via: string): SipRequest => ({
  ...req,
  headers: [{ name: 'Via', value: via }, ...req.headers],
});

/** The transport a SIP URI asks for with `;transport=` (RFC 3261 §19.1.1), when it does. */
export function uriTransport(uri: string): SipTransportName | undefined {
  const m = /;transport=([A-Za-z0-9]+)/i.exec(uri.split('?')[0]!);
  const t = m?.[1]?.toLowerCase();
  return t === 'tcp' || t === 'udp' ? t : undefined;
}
