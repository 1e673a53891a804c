/**
 * A phone's Contact as the location service stores it, and where to send a request to reach it
 * (docs/sip.md "The location service"). Pure.
 *
 * Stored form: the scheme and host lower-cased, the user as sent, the port when given, and of the
 * parameters only the ones that change how the phone is reached: `transport` (lower-cased) and
 * `ob` (RFC 5626: reach it over the flow it registered on). Other parameters (`rinstance`,
 * `+sip.instance`, `line`) and URI headers are dropped; RFC 3261 §19.1.4 ignores parameters
 * present in only one URI when comparing, so a phone still finds its Contact in our 200.
 */
import { isIP } from 'node:net';
import { isPrivateIp } from './cidr.js';

export interface SipTarget {
  transport: 'udp' | 'tcp';
  host: string;
  port: number;
}

interface ContactParts {
  user: string | undefined;
  /** Lower-case; IPv6 with its brackets. */
  host: string;
  port: number | undefined;
  transport: 'udp' | 'tcp' | undefined;
  ob: boolean;
}

const HOSTPORT = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+)(?::(\d{1,5}))?$/;

function parseContact(uri: string): ContactParts | undefined {
  // The site speaks SIP over UDP and TCP only: a sips: or TLS contact could not be reached.
  const m = /^sip:(.*)$/i.exec(uri);
  if (!m) return undefined;
  const rest = m[1]!.split('?')[0]!;
  const at = rest.lastIndexOf('@');
  const user = at >= 0 ? rest.slice(0, at) : undefined;
  if (user === '') return undefined;
  const [hostport = '', ...params] = rest.slice(at + 1).split(';');
  const hp = HOSTPORT.exec(hostport);
  if (!hp) return undefined;
  const port = hp[2] === undefined ? undefined : Number(hp[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return undefined;
  let transport: string | undefined;
  let ob = false;
  for (const p of params) {
    const [name = '', value] = p.split('=');
    if (name.toLowerCase() === 'transport' && value) transport = value.toLowerCase();
    if (name.toLowerCase() === 'ob') ob = true;
  }
  if (transport !== undefined && transport !== 'udp' && transport !== 'tcp') return undefined;
  return { user, host: hp[1]!.toLowerCase(), port, transport: transport as ContactParts['transport'], ob };
}

/** The stored form of a Contact URI, or undefined when it is not a sip: URI over UDP or TCP. */
export function normalizeContact(uri: string): string | undefined {
  const c = parseContact(uri);
  if (!c) return undefined;
  return (
    `sip:${c.user === undefined ? '' : `${c.user}@`}${c.host}` +
    `${c.port === undefined ? '' : `:${c.port}`}` +
    `${c.transport === undefined ? '' : `;transport=${c.transport}`}${c.ob ? ';ob' : ''}`
  );
}

/**
 * Where to send a request for a phone: to its Contact, unless the phone asked to be reached over
 * its flow (`ob`), or its Contact names a private address other than the one its REGISTER came
 * from (it is behind a NAT and wrote its inside address); then to that source address, which
 * the NAT maps back to the phone while the phone keeps registering.
 */
export function phoneTarget(storedContact: string, received: SipTarget): SipTarget {
  const c = parseContact(storedContact);
  if (!c || c.ob) return received;
  const bare = c.host.replace(/^\[|\]$/g, '');
  if (isIP(bare) !== 0 && isPrivateIp(bare) && bare !== received.host.replace(/^\[|\]$/g, ''))
    return received;
  return { transport: c.transport ?? 'udp', host: bare, port: c.port ?? 5060 };
}
