/**
 * A half-open link: the TCP connection stays open but nothing crosses it either way (toxiproxy
 * `timeout` toxics with no timeout), as when a NAT or firewall drops a flow silently. Only the
 * heartbeats' silence can tell; held until both ends called the link down (30 s at most).
 */
import type { Scenario } from '../harness.js';
import { measureRecovery, toxicBothWays, watchLink } from './common.js';

const SITE = 'wanzhou';

export const halfOpen: Scenario = {
  name: 'half-open',
  summary: "wanzhou's link silent both ways with the connection left open",
  async run(ctx) {
    const proxy = ctx.p.proxy(SITE);
    const at = Date.now();
    const heal = await toxicBothWays(proxy, 'silent', 'timeout', { timeout: 0 });
    try {
      const w = await watchLink(
        ctx,
        SITE,
        Math.max(15_000, Math.round(30_000 * ctx.scale)),
        (seen) => seen.has('down') && ctx.obs.siteSaw(SITE, ['down'], at) !== undefined,
      );
      ctx.figures.detectionMs = w.firstNotUpAt === null ? null : w.firstNotUpAt - at;
      ctx.figures.hubSaw = w.seen.join(',');
      // Noticed (suspect) and given up on (down, redialled), as the site saw it.
      const siteNoticed = ctx.obs.siteSaw(SITE, ['suspect', 'down'], at);
      const siteDown = ctx.obs.siteSaw(SITE, ['down'], at);
      ctx.figures.siteDetectionMs = siteNoticed === undefined ? null : siteNoticed - at;
      ctx.figures.siteDownMs = siteDown === undefined ? null : siteDown - at;
      if (w.firstNotUpAt === null) throw new Error('the hub never saw the silent link as not up');
    } finally {
      await heal();
    }
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
