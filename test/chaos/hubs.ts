/**
 * How the chaos suite starts the hub side and takes its leader away, behind one small
 * interface, so "kill -9 of the hub leader" can be switched from today's single hub (killed,
 * then restarted) to a leader and a standby (the standby takes over) by giving the suite
 * another HubControl, without touching the scenario or the invariants.
 */
import type { Province } from '../support/province.js';

export interface HubControl {
  /** What the hub side is, for the verdict (e.g. `single hub, restarted`). */
  readonly kind: string;
  /** kill -9 the hub that leads now; resolves with the time of the kill (Date.now()). */
  killLeader(): Promise<number>;
  /**
   * Resolves once a hub leads again (serves the sites), with the time it was ready: today the
   * killed hub restarted on its database and port; with a standby, the standby's takeover.
   */
  waitForLeader(): Promise<number>;
}

/** Today's hub: one process; after a kill it is started again on the same port. */
export function singleHub(p: Province): HubControl {
  return {
    kind: 'single hub, restarted after the kill',
    async killLeader() {
      const at = Date.now();
      await p.stopHub('SIGKILL');
      return at;
    },
    async waitForLeader() {
      await p.startHub();
      return Date.now();
    },
  };
}
