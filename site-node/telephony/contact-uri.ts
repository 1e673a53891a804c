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
import { parseSipUri as parseContact } from '../../shared/sip/uri.js';
import { isPrivateIp } from './cidr.js';

export interface SipTarget {
  transport: 'udp' | 'tcp';
  host: string;
  port: number;
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
