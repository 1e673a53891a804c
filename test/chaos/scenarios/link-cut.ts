/** A site's WAN link cut for 30 s under load (toxiproxy proxy disabled: connections close). */
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { measureRecovery, watchLink } from './common.js';

const SITE = 'fuling';

export const linkCut: Scenario = {
  name: 'link-cut',
  summary: "fuling's link to the hub cut for 30 s while calls go on",
  async run(ctx) {
    const cutMs = Math.round(30_000 * ctx.scale);
    const cutAt = Date.now();
    await ctx.p.setLink(SITE, false);
    try {
      const w = await watchLink(ctx, SITE, cutMs, (seen) => seen.has('down'));
      ctx.figures.detectionMs = w.firstNotUpAt === null ? null : w.firstNotUpAt - cutAt;
      ctx.figures.hubSaw = w.seen.join(',');
      await hold(Math.max(0, cutAt + cutMs - Date.now()));
    } finally {
      await ctx.p.setLink(SITE, true);
    }
    ctx.figures.cutMs = cutMs;
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
