/** Steps several scenarios share: measure the rejoin and the replay after a fault is healed. */
import type { Proxy, Toxic, ToxicType } from 'toxiproxy-node-client';
import type { ScenarioContext } from '../harness.js';
import { allUp, hubLinks, waitCaughtUp } from '../measure.js';
import { PROVINCE_POLL_MS } from '../../support/province.js';

/** From the heal: every link up at the hub (rejoinMs), then the backlog at the hub (replay). */
export async function measureRecovery(
  ctx: ScenarioContext,
  healedAt: number,
  siteIds: readonly string[],
): Promise<void> {
  const up = await allUp(ctx.p, 90_000);
  ctx.figures.rejoinMs = up - healedAt;
  const replay = await waitCaughtUp(ctx.p, siteIds);
  ctx.figures.replayEventsPerS = replay.ratePerS;
  ctx.figures.backlogEvents = replay.backlog;
  ctx.note(`rejoined in ${ctx.figures.rejoinMs} ms; ${replay.backlog} events replayed in ${replay.ms} ms`);
}

/**
 * Poll the hub's view of one site's link for `ms`: the states it showed, and when it first
 * showed one that is not `up` (null if it never did).
 */
export async function watchLink(
  ctx: ScenarioContext,
  siteId: string,
  ms: number,
  stopWhen?: (seen: ReadonlySet<string>) => boolean,
): Promise<{ seen: string[]; firstNotUpAt: number | null }> {
  const seen = new Set<string>();
  let firstNotUpAt: number | null = null;
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const link = await hubLinks(ctx.p)
      .then((l) => l.get(siteId) ?? 'unknown')
      .catch(() => 'unreachable');
    seen.add(link);
    if (link !== 'up' && firstNotUpAt === null) firstNotUpAt = Date.now();
    if (stopWhen?.(seen)) break;
    await new Promise((r) => setTimeout(r, PROVINCE_POLL_MS));
  }
  return { seen: [...seen], firstNotUpAt };
}

/**
 * The same toxic on both directions of a proxy (`<name>-upstream`, `<name>-downstream`);
 * resolves with the function that removes both.
 */
export async function toxicBothWays(
  proxy: Proxy,
  name: string,
  type: ToxicType,
  attributes: Record<string, unknown>,
): Promise<() => Promise<void>> {
  const toxics: Array<Toxic<unknown>> = [];
  for (const stream of ['upstream', 'downstream'] as const)
    toxics.push(
      await proxy.addToxic<unknown>({ name: `${name}-${stream}`, type, stream, toxicity: 1, attributes }),
    );
  return async () => {
    for (const t of toxics) await t.remove();
  };
}
