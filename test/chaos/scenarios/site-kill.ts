/** kill -9 of a site, five times at random moments, each time restarted on its database. */
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { waitHubLinks } from '../measure.js';
import { measureRecovery } from './common.js';

const SITE = 'chongqing';

export const siteKill: Scenario = {
  name: 'site-kill',
  summary: 'chongqing killed with SIGKILL five times at random moments, restarted each time',
  async run(ctx) {
    const kills = Math.max(1, Math.round(5 * ctx.scale));
    const restartMs: number[] = [];
    const rejoinMs: number[] = [];
    for (let i = 0; i < kills; i++) {
      // A random moment: 2 to 8 s into the run of the (re)started site.
      await hold(ctx.rng.int(2_000, 8_000));
      const killedAt = Date.now();
      await ctx.p.stopSite(SITE, 'SIGKILL');
      ctx.obs.markKilled(SITE);
      await ctx.p.startSite(SITE);
      const readyAt = Date.now();
      restartMs.push(readyAt - killedAt);
      const up = await waitHubLinks(
        ctx.p,
        `${SITE} up at the hub after restart ${i + 1}`,
        [SITE],
        (l) => l === 'up',
        60_000,
      );
      rejoinMs.push(up - readyAt);
      ctx.note(
        `kill ${i + 1}/${kills}: ready again ${readyAt - killedAt} ms after the kill, link up ${up - readyAt} ms later`,
      );
    }
    ctx.figures.kills = kills;
    ctx.figures.restartMs = restartMs;
    ctx.figures.rejoinMsEach = rejoinMs;
    await measureRecovery(ctx, Date.now(), [SITE]);
    ctx.figures.rejoinMs = Math.max(...rejoinMs);
  },
};
