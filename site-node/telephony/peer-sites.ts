/**
 * The other sites of the province as SIP peers (docs/sip.md "Handing a caller to another site"):
 * where the origin sends a hand-over's INVITE (the target's `endpoints.sip` in the topology the
 * site runs, shared/topology/schema.ts), and which site an INVITE carrying a hand-over token
 * came from (its source address is one of the other sites' SIP hosts). Read fresh on every
 * look-up from the topology the site runs now, so a version the hub pushes takes effect at the
 * next call without a restart.
 *
 * By host only, not host and port: over TCP a peer's requests leave from a port of the
 * kernel's, not its listening port. Only full sites are peers (overflow and cover move calls
 * between them; an access gateway's calls arrive on a trunk), and never the site itself.
 */
import { isIP } from 'node:net';
import type { Topology } from '../../shared/topology/schema.js';
import type { SipTarget } from '../../shared/sip/stack/transaction-user.js';

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

/** The peers of `selfId` in whatever topology `current` returns when asked (null: none known). */
export function peerSites(selfId: string, current: () => Topology | null): PeerSites {
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
      return { ok: true, target: { host: at.host, port: at.port, transport: 'udp' } };
    },
    siteAt(host) {
      const topology = current();
      if (!topology) return undefined;
      for (const s of topology.sites) {
        if (s.id !== selfId && s.kind === 'full' && splitHostPort(s.endpoints.sip)?.host === host)
          return s.id;
      }
      return undefined;
    },
  };
}
