/**
 * Connections reset in the middle of a batch: a backlog is built by a 10 s cut, then the link
 * returns with a toxiproxy `limit_data` toxic that closes every connection after 16 KB from the
 * site, i.e. part-way through the backlog's batches, until the link has been reset three times.
 */
import type { Toxic } from 'toxiproxy-node-client';
import type { Scenario } from '../harness.js';
import { hold } from '../harness.js';
import { waitFor } from '../../support/wait.js';
import { measureRecovery } from './common.js';

const SITE = 'wanzhou';
const RESETS = 3;

export const resetMidBatch: Scenario = {
  name: 'reset-mid-batch',
  summary: "wanzhou's backlog replayed over connections reset after 16 KB, three times",
  async run(ctx) {
    await ctx.p.setLink(SITE, false);
    await hold(Math.round(10_000 * Math.max(ctx.scale, 0.5)));
    const proxy = ctx.p.proxy(SITE);
    const toxics: Array<Toxic<unknown>> = [];
    toxics.push(
      await proxy.addToxic<unknown>({
        name: 'reset',
        type: 'limit_data',
        stream: 'upstream',
        toxicity: 1,
        attributes: { bytes: 16_384 },
      }),
    );
    const at = Date.now();
    await ctx.p.setLink(SITE, true);
    const downs = () =>
      ctx.obs.siteLink.filter((c) => c.siteId === SITE && c.atMs >= at && c.state === 'down').length;
    try {
      await waitFor(`${RESETS} resets of ${SITE}'s link`, () => downs() >= RESETS, 60_000, 100);
    } finally {
      ctx.figures.resets = downs();
      for (const t of toxics) await t.remove();
    }
    await measureRecovery(ctx, Date.now(), [SITE]);
  },
};
