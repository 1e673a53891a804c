/**
 * kill -9 of the hub leader. Through HubControl (hubs.ts): the standby takes over; the
 * failover is the time from the kill until every site is linked to the new leader.
 */
import type { Scenario } from '../harness.js';
import { measureRecovery } from './common.js';

export const hubKill: Scenario = {
  name: 'hub-kill',
  summary: 'the hub leader killed with SIGKILL; a hub leads again, every site rejoins',
  async run(ctx) {
    ctx.figures.hubs = ctx.hubs.kind;
    const killedAt = await ctx.hubs.killLeader();
    const leaderAt = await ctx.hubs.waitForLeader();
    ctx.figures.failoverMs = leaderAt - killedAt;
    // Detection is the sites' (the hub is what went away): the first site to call its link down.
    const seen = ctx.p.siteIds
      .map((id) => ctx.obs.siteSaw(id, ['suspect', 'down'], killedAt))
      .filter((t) => t !== undefined);
    ctx.figures.detectionMs = seen.length === 0 ? null : Math.min(...seen) - killedAt;
    await measureRecovery(ctx, leaderAt, ctx.p.siteIds);
    await ctx.hubs.restoreKilled();
  },
};
