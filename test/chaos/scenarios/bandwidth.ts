/** A site's link throttled to 10 KB/s each way for 30 s. */
import type { Scenario } from '../harness.js';
import { measureRecovery, toxicBothWays, watchLink } from './common.js';
import { hubEventCount, unshipped } from '../measure.js';

const SITE = 'chongqing';

export const bandwidth: Scenario = {
  name: 'bandwidth',
  summary: "chongqing's link throttled to 10 KB/s for 30 s",
  async run(ctx) {
    const ms = Math.round(30_000 * ctx.scale);
    const proxy = ctx.p.proxy(SITE);
    const before = await hubEventCount(ctx.p, SITE);
    const at = Date.now();
    const heal = await toxicBothWays(proxy, 'slow', 'bandwidth', { rate: 10 });
    try {
      const w = await watchLink(ctx, SITE, ms);
      ctx.figures.detectionMs = w.firstNotUpAt === null ? null : w.firstNotUpAt - at;
      ctx.figures.hubSaw = w.seen.join(',');
      ctx.figures.eventsPerSThrottled = Math.round(
        ((await hubEventCount(ctx.p, SITE)) - before) / (ms / 1000),
      );
      ctx.figures.backlogAtEnd = await unshipped(ctx.p, SITE);
    } finally {
      await heal();
    }
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
