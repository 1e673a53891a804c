/** The hub's PostgreSQL server stopped for 10 s and started again, under load. */
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { measureRecovery } from './common.js';

export const hubPgRestart: Scenario = {
  name: 'hub-pg-restart',
  summary: "the hub's PostgreSQL down for 10 s while the sites keep shipping events",
  async run(ctx) {
    const downMs = Math.round(10_000 * Math.max(ctx.scale, 0.5));
    const at = Date.now();
    ctx.env.hubPg.stop();
    await hold(Math.max(0, at + downMs - Date.now()));
    ctx.env.hubPg.start();
    ctx.figures.pgDownMs = Date.now() - at;
    if (!ctx.p.hub.running)
      throw new Error(`the hub exited while its database was away: ${JSON.stringify(ctx.p.hub.exit)}`);
    await measureRecovery(ctx, Date.now(), ctx.p.siteIds);
  },
};
