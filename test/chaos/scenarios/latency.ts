/** 2 s of added latency both ways on a site's link for 30 s. */
import type { Scenario } from '../harness.js';
import { measureRecovery, toxicBothWays, watchLink } from './common.js';
import { hubEventCount } from '../measure.js';

const SITE = 'chongqing';

export const latency: Scenario = {
  name: 'latency',
  summary: "2 s latency each way on chongqing's link for 30 s",
  async run(ctx) {
    const ms = Math.round(30_000 * ctx.scale);
    const proxy = ctx.p.proxy(SITE);
    const before = await hubEventCount(ctx.p, SITE);
    const at = Date.now();
    const heal = await toxicBothWays(proxy, 'latency', 'latency', { latency: 2000, jitter: 0 });
    try {
      const w = await watchLink(ctx, SITE, ms);
      ctx.figures.detectionMs = w.firstNotUpAt === null ? null : w.firstNotUpAt - at;
      ctx.figures.hubSaw = w.seen.join(',');
      ctx.figures.eventsPerSDuringLatency = Math.round(
        ((await hubEventCount(ctx.p, SITE)) - before) / (ms / 1000),
      );
    } finally {
      await heal();
    }
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
