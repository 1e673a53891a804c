/**
 * How the chaos suite takes the hub leader away, behind one small interface: the province runs
 * two hubs on one database (docs/architecture.md §6.6), `hub-a` leading and `hub-b` standing by;
 * "kill -9 of the hub leader" kills whichever holds the lease and measures the standby's
 * takeover, until every site is linked to it.
 */
import type { Province } from '../support/province.js';
import { waitFor } from '../support/wait.js';
import { allUp } from './measure.js';

export interface HubControl {
  /** What the hub side is, for the verdict. */
  readonly kind: string;
  /** kill -9 the hub that leads now; resolves with the time of the kill (Date.now()). */
  killLeader(): Promise<number>;
  /** Resolves once another hub leads and every site is linked to it, with that time. */
  waitForLeader(): Promise<number>;
  /** Start the killed hub again (it comes back as the standby): the province whole for the checks. */
  restoreKilled(): Promise<void>;
}

/** How often the lease row is read while a takeover is awaited (a cheap local query). */
const LEASE_POLL_MS = 50;

export function leaderAndStandby(p: Province): HubControl {
  let killed: string | undefined;
  return {
    kind: 'leader and standby: the standby takes over',
    async killLeader() {
      const leader = await waitFor('a hub leading', async () => (await p.leaderHub()) ?? false, 30_000);
      killed = leader.id;
      const at = Date.now();
      await p.killHub(leader.id);
      return at;
    },
    async waitForLeader() {
      if (killed === undefined) throw new Error('waitForLeader before killLeader');
      const gone = killed;
      await waitFor(
        'another hub leading',
        async () => {
          const l = await p.leaderHub();
          return l !== undefined && l.id !== gone;
        },
        30_000,
        LEASE_POLL_MS,
      );
      return allUp(p, 60_000);
    },
    async restoreKilled() {
      if (killed !== undefined) await p.startHub(killed);
      killed = undefined;
    },
  };
}
