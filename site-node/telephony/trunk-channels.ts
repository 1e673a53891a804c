/**
 * Calls open on each trunk against its `maxChannels` (docs/sip.md "Trunks: the access list").
 * Pure. The carrier sells the trunk by channels: a call past them would be one the carrier's
 * contract (and the site's sizing) does not cover, so it is refused and the carrier routes it
 * elsewhere. A channel is taken when the gate admits the INVITE and given back once, whatever
 * ends the call (refused before the answer, hung up, timed out).
 */
import type { SipTrunkConfig } from '../config-sip.js';

export class TrunkChannels {
  private readonly open = new Map<string, number>();

  /** A channel of `trunk`, or undefined when all are in use; the function gives it back (once). */
  take(trunk: Pick<SipTrunkConfig, 'name' | 'maxChannels'>): (() => void) | undefined {
    const used = this.open.get(trunk.name) ?? 0;
    if (used >= trunk.maxChannels) return undefined;
    this.open.set(trunk.name, used + 1);
    let given = false;
    return () => {
      if (given) return;
      given = true;
      const now = (this.open.get(trunk.name) ?? 1) - 1;
      if (now === 0) this.open.delete(trunk.name);
      else this.open.set(trunk.name, now);
    };
  }

  inUse(trunkName: string): number {
    return this.open.get(trunkName) ?? 0;
  }
}
