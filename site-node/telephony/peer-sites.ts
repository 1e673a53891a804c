/**
 * The other sites of the province as SIP peers (docs/sip.md "Handing a caller to another site"):
 * where the origin sends a hand-over's INVITE (the target's `endpoints.sip` over its
 * `endpoints.sipTransport` in the topology the site runs, shared/topology/schema.ts), and which
 * site an INVITE carrying a hand-over token came from (its source address is one of the other
 * sites' SIP hosts). Read fresh on every look-up from the topology the site runs now, so a
 * version the hub pushes takes effect at the next call without a restart.
 *
 * The INVITE leaves from the origin's own socket of the target's transport, so a target reached
 * over a transport this site does not listen on (its `sip.listen`) has no route from here.
 *
 * By host only, not host and port, nor transport: over TCP a peer's requests leave from a port
 * of the kernel's, not its listening port, and a site may hand over by a transport other than
 * the one it is reached by. Hosts are compared as addresses (`::ffff:10.0.0.5`, what a
 * dual-stack socket reports for an IPv4 peer, is `10.0.0.5`). Only full sites are peers
 * (overflow and cover move calls between them; an access gateway's calls arrive on a trunk),
 * and never the site itself.
 */
import { isIP } from 'node:net';
import type { Topology } from '../../shared/topology/schema.js';
import type { SipTarget } from '../../shared/sip/stack/transaction-user.js';
import type { SipTransportName } from '../../shared/sip/transport/types.js';
import { parseIp } from './cidr.js';

/** Where a site's SIP listens, or why it cannot be reached. */
export type PeerRoute = { ok: true; target: SipTarget } | { ok: false; why: string };

export interface PeerSites {
  /** The target's SIP address for a hand-over. */
  routeTo(siteId: string): PeerRoute;
  /** The other site whose SIP host this is, if any. */
  siteAt(host: string): string | undefined;
}

/** `10.0.0.5:5060` or `[fd00::5]:5060` (the topology checked the form) to host and port. */
export function splitHostPort(s: string): { host: string; port: number } | undefined {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:[\]]+):(\d+)$/.exec(s);
  if (!m) return undefined;
  const port = Number(m[2]);
  return Number.isInteger(port) && port > 0 && port < 65536 ? { host: m[1]!, port } : undefined;
}

const sameAddress = (a: string, b: string): boolean => {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && x.family === y.family && x.value === y.value;
};

/**
 * The peers of `selfId`, a site whose SIP listens on `listens`, in whatever topology `current`
 * returns when asked (null: none known).
 */
export function peerSites(
  selfId: string,
  listens: readonly SipTransportName[],
  current: () => Topology | null,
): PeerSites {
  return {
    routeTo(siteId) {
      if (siteId === selfId) return { ok: false, why: `site ${siteId} is this site` };
      const topology = current();
      if (!topology) return { ok: false, why: `no topology yet: site ${siteId}'s SIP address is unknown` };
      const site = topology.sites.find((s) => s.id === siteId);
      if (!site) return { ok: false, why: `site ${siteId} is not in topology version ${topology.version}` };
      if (site.kind !== 'full') return { ok: false, why: `site ${siteId} is an access site, not a full one` };
      const at = splitHostPort(site.endpoints.sip);
      if (!at)
        return { ok: false, why: `site ${siteId}'s SIP endpoint ${site.endpoints.sip} is not host:port` };
      // The stack does no DNS (docs/sip.md "Transports").
      if (isIP(at.host) === 0) {
        return { ok: false, why: `site ${siteId}'s SIP host ${at.host} is not an IP address (no DNS here)` };
      }
      const transport = site.endpoints.sipTransport;
      if (!listens.includes(transport)) {
        return {
          ok: false,
          why:
            `site ${siteId}'s SIP is reached over ${transport} (endpoints.sipTransport), ` +
            `but this site's SIP listens only on ${listens.join(', ') || 'nothing'} (sip.listen)`,
        };
      }
      return { ok: true, target: { host: at.host, port: at.port, transport } };
    },
    siteAt(host) {
      const topology = current();
      if (!topology) return undefined;
      for (const s of topology.sites) {
        if (s.id === selfId || s.kind !== 'full') continue;
        const at = splitHostPort(s.endpoints.sip);
        if (at && sameAddress(at.host, host)) return s.id;
      }
      return undefined;
    },
  };
}
