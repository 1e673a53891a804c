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
    for (const h of ctx.p.hubs) {
      if (!h.process.running)
        throw new Error(`${h.id} exited while its database was away: ${JSON.stringify(h.process.exit)}`);
    }
    await measureRecovery(ctx, Date.now(), ctx.p.siteIds);
  },
};
