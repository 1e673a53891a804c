/**
 * Where an in-dialog request goes on the wire (docs/sip.md "Dialogs"). Pure.
 *
 * RFC 3261 §8.1.2 sends a request to its first Route when it has one, else to its Request-URI.
 * The site follows the first half: a proxy that Record-Routed the dialog (Kamailio in front of
 * a carrier, an SBC) gets every later request of it, wherever the INVITE itself came from. It
 * does not follow the second: with no route set a request goes back over the address the
 * dialog was set up over (the trunk the INVITE came from, the phone's registered flow), not to
 * the far end's Contact, which for a phone behind NAT is an inside address and for a carrier
 * often a media gateway the trunk's access list never named. A Route the site cannot reach
 * without DNS (a host name) or over a transport it does not speak also falls back to that
 * address, as does a strict router (its URI is the Request-URI, no Route header names it).
 */
import { isIP } from 'node:net';
import { headerValues, type SipRequest } from '../message.js';
import type { SipTarget } from '../stack/transaction-user.js';
import { parseSipUri } from '../uri.js';

/** The URI inside a Route value's `<>` (a Route always has them: RFC 3261 §20.34). */
const routeUri = (value: string): string | undefined => /<([^>]*)>/.exec(value)?.[1];

export function nextHop(request: SipRequest, flow: SipTarget): SipTarget {
  const first = headerValues(request, 'Route')[0]?.split(/,(?=\s*<)/)[0];
  const uri = first === undefined ? undefined : routeUri(first);
  const parsed = uri === undefined ? undefined : parseSipUri(uri);
  if (!parsed) return flow;
  const host = parsed.host.replace(/^\[|\]$/g, '');
  if (isIP(host) === 0) return flow;
  const port = parsed.port ?? 5060;
  const transport = parsed.transport ?? 'udp';
  // The same hop as the flow: keep the flow (its TCP connection, its transport).
  if (host === flow.host.replace(/^\[|\]$/g, '') && port === flow.port) return flow;
  return { host, port, transport };
}
