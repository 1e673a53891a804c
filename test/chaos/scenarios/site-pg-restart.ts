/** The sites' PostgreSQL server stopped for 10 s and started again, under load. */
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { measureRecovery } from './common.js';

export const sitePgRestart: Scenario = {
  name: 'site-pg-restart',
  summary: "the sites' PostgreSQL down for 10 s while calls go on",
  async run(ctx) {
    const downMs = Math.round(10_000 * Math.max(ctx.scale, 0.5));
    const at = Date.now();
    ctx.env.sitePg.stop();
    await hold(Math.max(0, at + downMs - Date.now()));
    ctx.env.sitePg.start();
    ctx.figures.pgDownMs = Date.now() - at;
    const alive = ctx.p.siteIds.filter((id) => ctx.p.site(id).process?.running);
    ctx.figures.sitesAliveAfter = alive.length;
    if (alive.length < ctx.p.siteIds.length)
      throw new Error(
        `site processes exited while their database was away: ${ctx.p.siteIds.filter((id) => !alive.includes(id)).join(', ')}`,
      );
    await measureRecovery(ctx, Date.now(), ctx.p.siteIds);
  },
};
