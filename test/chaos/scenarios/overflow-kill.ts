/**
 * kill -9 mid-overflow (issue 11, docs/architecture.md §5.9): wanzhou gets more callers than its
 * eight agents can take and chongqing and fuling few, so the policy `wanzhou-busy` moves
 * wanzhou's callers continuously (to chongqing first). Then the origin, wanzhou, is killed just
 * after it asks for a move, and later the target, chongqing, just after it accepts one: each
 * time restarted on its database and let back on its link, the moves going on throughout. The
 * strike is a few ms after the line that says a move is under way, so it lands between the
 * ask, the accept, the commit and the ack (a move takes some ms on loopback); which step it hits
 * is seeded, not chosen. The harness then checks the move invariants (moves.ts) with the others.
 */
import type { Scenario, ScenarioContext } from '../harness.js';
import { hold } from '../harness.js';
import { waitHubLinks } from '../measure.js';
import type { OverflowStep } from '../observe.js';
import { waitFor } from '../../support/wait.js';
import { measureRecovery } from './common.js';

const ORIGIN = 'wanzhou';
const TARGET = 'chongqing';
/** Calls per simulated hour: wanzhou well beyond its agents, the others with agents to spare. */
const RATES = { wanzhou: 1_500, chongqing: 300, fuling: 300 };
/** How long a busy wanzhou may take to ask again, or to move a call, before the run fails. */
const STEP_WAIT_MS = 120_000;

/** Resolves when `siteId` logs `step` again (after the count seen now). */
async function next(ctx: ScenarioContext, siteId: string, step: OverflowStep): Promise<void> {
  const seen = ctx.obs.overflowSteps(siteId, step);
  // A tight poll: the kill should land while the move the line announced is still in flight.
  await waitFor(
    `${siteId} to log "${step}" again`,
    () => ctx.obs.overflowSteps(siteId, step) > seen,
    STEP_WAIT_MS,
    5,
  );
}

async function killWhenMoving(
  ctx: ScenarioContext,
  victim: string,
  watch: { siteId: string; step: OverflowStep },
  label: string,
): Promise<{ restartMs: number; rejoinMs: number }> {
  await next(ctx, watch.siteId, watch.step);
  await hold(ctx.rng.int(0, 30));
  const killedAt = Date.now();
  await ctx.p.stopSite(victim, 'SIGKILL');
  ctx.obs.markKilled(victim);
  await ctx.p.startSite(victim);
  const readyAt = Date.now();
  const up = await waitHubLinks(
    ctx.p,
    `${victim} up at the hub after ${label}`,
    [victim],
    (l) => l === 'up',
    60_000,
  );
  ctx.note(
    `${label}: ${victim} killed after "${watch.step}" at ${watch.siteId}, ready again in ${readyAt - killedAt} ms`,
  );
  return { restartMs: readyAt - killedAt, rejoinMs: up - readyAt };
}

export const overflowKill: Scenario = {
  name: 'overflow-kill',
  summary: 'wanzhou overflowing to chongqing; the origin, then the target, killed with SIGKILL mid-move',
  rates: RATES,
  async run(ctx) {
    const kills = Math.max(1, Math.round(3 * ctx.scale));
    await next(ctx, ORIGIN, 'overflow: call moved');
    ctx.note('wanzhou is moving calls; striking');
    const movedBefore = ctx.obs.overflowSteps(ORIGIN, 'overflow: call moved');
    const restartMs: number[] = [];
    const rejoinMs: number[] = [];
    for (let i = 0; i < kills; i++) {
      const r = await killWhenMoving(
        ctx,
        ORIGIN,
        { siteId: ORIGIN, step: 'overflow asked' },
        `origin kill ${i + 1}/${kills}`,
      );
      restartMs.push(r.restartMs);
      rejoinMs.push(r.rejoinMs);
    }
    for (let i = 0; i < kills; i++) {
      const r = await killWhenMoving(
        ctx,
        TARGET,
        { siteId: TARGET, step: 'overflow accepted' },
        `target kill ${i + 1}/${kills}`,
      );
      restartMs.push(r.restartMs);
      rejoinMs.push(r.rejoinMs);
    }
    // Settled: the moves go on after the last restart.
    await next(ctx, ORIGIN, 'overflow: call moved');
    ctx.figures.kills = kills * 2;
    ctx.figures.restartMs = restartMs;
    ctx.figures.rejoinMsEach = rejoinMs;
    ctx.figures.movesLogged = ctx.obs.overflowSteps(ORIGIN, 'overflow: call moved');
    ctx.figures.movesLoggedDuringKills = ctx.figures.movesLogged - movedBefore;
    ctx.figures.asksLogged = ctx.obs.overflowSteps(ORIGIN, 'overflow asked');
    await measureRecovery(ctx, Date.now(), [ORIGIN, TARGET]);
    ctx.figures.rejoinMs = Math.max(...rejoinMs);
  },
};
