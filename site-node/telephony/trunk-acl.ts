/**
 * The trunk access list (docs/sip.md "Trunks: the access list"): which carrier's trunk a
 * signalling source address belongs to, from the `sources` of the site config's trunks. Pure.
 * The config refuses overlapping blocks, so an address is in at most one trunk.
 */
import type { SipTrunkConfig } from '../config-sip.js';
import { cidrContains, parseIp } from './cidr.js';

export class TrunkAcl {
  constructor(private readonly trunks: readonly SipTrunkConfig[]) {}

  /** The trunk whose sources hold `sourceIp`, or undefined (also for text that is not an IP). */
  trunkOf(sourceIp: string): SipTrunkConfig | undefined {
    const ip = parseIp(sourceIp);
    if (!ip) return undefined;
    return this.trunks.find((t) => t.sources.some((b) => cidrContains(b, ip)));
  }
}
