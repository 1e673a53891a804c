/**
 * Does a topology pushed by the hub describe this site as it is? The hub validates a
 * topology on its own (every reference, every cover window), but only the site knows its
 * ACD and its SIP: a version that says this site offers a queue its ACD does not have would
 * have other sites overflow calls, and agents cover, into a queue that is not there; one that
 * says the other sites reach its SIP over a transport it does not listen on
 * (`endpoints.sipTransport`) would have every caller handed to it fail. The site refuses such
 * a version (the reason goes back in its ack and shows in `fedctl status`) and keeps the one
 * it runs. Pure: the adapter is GrpcHubLink's `onTopology`.
 */
import type { SipTransportName } from '../../shared/sip/transport/types.js';
import type { Topology } from '../../shared/topology/schema.js';

export interface SiteShape {
  siteId: string;
  /** The queues the site's ACD has. */
  queues: readonly string[];
  /** The transports its SIP listens on (`sip.listen`); absent: no SIP (a simulated site). */
  sipListens?: readonly SipTransportName[];
}

/**
 * What does not fit, one line each; empty when it fits. Sites are named by id: the hub's
 * compiled topology orders them its own way, so an index would not match the admin's file.
 */
export function topologyMisfits(topology: Topology, site: SiteShape): string[] {
  const entry = topology.sites.find((s) => s.id === site.siteId);
  if (!entry) return [`site ${site.siteId} is not in the topology`];
  if (entry.kind !== 'full')
    return [`site ${site.siteId} is a site node with its own ACD, not an ${entry.kind} gateway`];
  const out: string[] = [];
  const missing = entry.queues.filter((q) => !site.queues.includes(q));
  if (missing.length > 0) {
    out.push(
      `site ${site.siteId} offers queue ${missing.join(', ')} in the topology, but its ACD has no ` +
        `such queue (it has ${site.queues.join(', ') || 'none'})`,
    );
  }
  const transport = entry.endpoints.sipTransport;
  if (site.sipListens && !site.sipListens.includes(transport)) {
    out.push(
      `site ${site.siteId} is reached over ${transport} in the topology (endpoints.sipTransport), ` +
        `but its SIP listens only on ${site.sipListens.join(', ')} (sip.listen)`,
    );
  }
  return out;
}
