/**
 * Agents' phones rung as their call is offered (docs/sip.md "The site over SIP"), by the caller's
 * leg: at most one per caller. A ring is started with the offer, waited on by `bridgeToAgent`
 * when the offer is answered (at the desk or by the phone's own answer) and settled once bridged,
 * or stopped when the offer is withdrawn or the caller leaves before the bridge: then the phone's
 * leg is hung up, whether it still rings (a CANCEL) or has just answered (a BYE), so no phone
 * rings on, or is left off-hook, with nobody on the line. Generic over the leg so
 * the bookkeeping is tested without sockets.
 */

interface Ring<L> {
  agentId: string;
  /** The phone's leg once its INVITE is out (to hang it up while it rings). */
  leg: L | undefined;
  answered: Promise<L>;
  stopped: boolean;
}

export class AgentRings<L> {
  private readonly rings = new Map<string, Ring<L>>();

  constructor(private readonly hangup: (leg: L) => void) {}

  /**
   * Rings through `place` (which reports the leg as soon as it exists); a ring already going for
   * this caller (to another agent) is stopped first. Resolves with the answered leg.
   */
  start(callerLegId: string, agentId: string, place: (started: (leg: L) => void) => Promise<L>): Promise<L> {
    this.stop(callerLegId);
    const ring: Ring<L> = {
      agentId,
      leg: undefined,
      answered: Promise.resolve(undefined as L),
      stopped: false,
    };
    ring.answered = place((leg) => {
      ring.leg = leg;
      if (ring.stopped) this.hangup(leg);
    }).then((leg) => {
      // Answered after the offer was withdrawn: the phone is hung up, the answer comes too late.
      if (ring.stopped) this.hangup(leg);
      return leg;
    });
    this.rings.set(callerLegId, ring);
    ring.answered.catch(() => {
      if (this.rings.get(callerLegId) === ring) this.rings.delete(callerLegId);
    });
    return ring.answered;
  }

  /**
   * The ring for this caller and agent, for the bridge to wait on; undefined when there is none.
   * It can still be stopped (the caller leaving) until the bridge `settle`s it.
   */
  take(callerLegId: string, agentId: string): Promise<L> | undefined {
    const ring = this.rings.get(callerLegId);
    return ring && ring.agentId === agentId ? ring.answered : undefined;
  }

  /** The bridge has the answered leg: stopping the offer no longer touches it. */
  settle(callerLegId: string): void {
    this.rings.delete(callerLegId);
  }

  /** The offer is gone: hang up the phone rung for it (now, or as soon as its leg exists). */
  stop(callerLegId: string): void {
    const ring = this.rings.get(callerLegId);
    if (!ring) return;
    this.rings.delete(callerLegId);
    ring.stopped = true;
    if (ring.leg !== undefined) this.hangup(ring.leg);
  }

  get size(): number {
    return this.rings.size;
  }
}
