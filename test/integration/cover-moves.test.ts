/**
 * Scheduled cover moving calls between real sites (docs/architecture.md §5.8, §5.9; issue 11):
 * the real hub on its own Postgres and two real sites (wanzhou and chongqing, their example
 * configs) in this process, each on its own database and linked to the hub over mTLS through a
 * toxiproxy proxy of its own (test/support/federated-site.ts). The topology is the example
 * province's, unchanged: `night-wanzhou-retail` (chongqing's agents take wanzhou's retail
 * callers from 22:00 to 08:00 at +08:00, `rank` left at its default, below-own) and the
 * `wanzhou-busy` overflow policy with its real thresholds (5 waiting, 60 s, service level 0.8),
 * none of which a test here reaches. The hub's cover clock is a VirtualScheduler starting at
 * Wednesday 21:59 local, one minute before the window; the sites and the links keep the wall
 * clock. Chongqing's a08 is given no retail skill, so an agent who must not take a retail call
 * can be ready beside one who may. Callers are simulated; agents are driven through each
 * site's desk.
 *
 * "Nobody asked" is shown by a positive condition: the origin's looks at its queues (its 250 ms
 * tick, counted by a wrapper) while the call waits at home and the site knows its current cover
 * set; after eight of them no ask was made.
 *
 * Proves, each on a fresh province: (a) before the window a wanzhou caller with no wanzhou
 * agent ready is not asked for, though chongqing has an agent ready; (b) the clock crosses
 * 22:00: both sites are told, the waiting call is asked under the entry, routed by the hub,
 * answered once at chongqing by its retail agent (not the ready agent without the skill), and
 * both sites' records show the move; (c) inside the window, wanzhou's agents all logged out, a
 * new caller reaches chongqing at once, under the entry and no overflow trigger; (d) a covered
 * call ranks below chongqing's own: one chongqing agent, a chongqing caller who came after the
 * covered one is answered first; (e) the clock crosses 08:00: both sites are told it ended and a
 * new wanzhou caller stays home, though chongqing's agent is ready.
 */
import { afterEach, beforeEach, test } from 'vitest';
import assert from 'node:assert/strict';
import { pgSkip } from '../../hub/store/testing.js';
import { seedProvinceDirectory } from '../../deploy/demo/layout.js';
import { VirtualScheduler } from '../../shared/scheduler.js';
import { startTestProvince, type TestProvince } from '../support/federation.js';
import { startFederatedSite, type FederatedSite } from '../support/federated-site.js';
import {
  asksFor,
  customerPhone,
  logged,
  logLines,
  movedIn,
  row,
  type LogLine as Line,
} from '../support/overflow-checks.js';
import { waitFor } from '../support/wait.js';

const skip = pgSkip || !process.env.TOXIPROXY_URL;
const CUSTOMERS = 3;
const SEED = 5; // every caller of this seed's first three is a retail customer, none VIP
const ENTRY = 'night-wanzhou-retail';
/** Wednesday 2 December 2026, 21:59 at +08:00 (the example province's offset). */
const WED_2159 = Date.UTC(2026, 11, 2, 13, 59);
/** Thursday 08:00 at +08:00: the window's end. */
const THU_0800 = Date.UTC(2026, 11, 3, 0, 0);
/** The origin's looks at a waiting call that show it was not asked for (2 s of its ticks). */
const LOOKS = 8;

let p: TestProvince;
let clock: VirtualScheduler;
let wz: FederatedSite;
let cq: FederatedSite;

beforeEach(async () => {
  if (skip) return;
  clock = new VirtualScheduler(WED_2159);
  p = await startTestProvince({ label: 'cvm_hub', coverScheduler: clock });
  // The directory before the sites: wanzhou recognises its callers, chongqing reads them roaming.
  await seedProvinceDirectory(p.hubDb.pool, ['wanzhou', 'chongqing'], CUSTOMERS, SEED);
  [wz, cq] = await Promise.all([
    startFederatedSite(p, 'wanzhou'),
    startFederatedSite(p, 'chongqing', { edit: withoutRetail('a08') }),
  ]);
  await waitFor('both sites linked, speaking overflow, running the topology, told their cover', () =>
    [wz, cq].every((s) => {
      const l = s.site.hubLink!;
      return l.overflowReady && l.topology !== null && !l.cover.stale;
    }),
  );
}, 120_000);

afterEach(async () => {
  await wz?.close();
  await cq?.close();
  await p?.close();
});

/** A site config edit: the agent keeps its other skills and loses retail. */
function withoutRetail(agentId: string): (doc: Record<string, unknown>) => void {
  return (doc) => {
    const agents = doc.agents as Array<{ id: string; skills: Record<string, number> }>;
    const a = agents.find((x) => x.id === agentId)!;
    delete a.skills.retail;
    assert.ok(Object.keys(a.skills).length > 0, `${agentId} keeps a skill`);
  };
}

const phoneOf = (siteId: string, i: number): string => customerPhone(siteId, i, CUSTOMERS, SEED);
const parsed = logLines;

/** The hub's routing decisions for a call's requests (`<callId>#<n>`). */
const decisionsFor = (callId: string): Line[] =>
  [...parsed(p.hubLog, 'overflow routed'), ...parsed(p.hubLog, 'overflow not routed')].filter((l) =>
    String(l.requestId).startsWith(`${callId}#`),
  );
const toldOf = (s: FederatedSite): readonly string[] | undefined => {
  const c = s.site.hubLink!.cover;
  return c.stale ? undefined : c.activeEntryIds;
};

const queuedInRetail = (s: FederatedSite, callId: string): boolean => {
  const c = s.site.engine.call(callId);
  return c?.state === 'queued' && c.queueId === 'retail';
};

/**
 * A caller queued in wanzhou's retail line: its call id once the ACD has it queued, or once
 * wanzhou asked to move it from there (inside the window a call may be asked for, and gone,
 * between two looks of this wait).
 */
async function queuedAtWanzhou(phone: string): Promise<string> {
  const leg = wz.placeRetailCall(phone);
  return waitFor('the call to wait in wanzhou retail', () => {
    const id = leg.callId;
    if (!id) return undefined;
    const askedFromRetail = asksFor(wz, id).some((l) => l.queueId === 'retail');
    return queuedInRetail(wz, id) || askedFromRetail ? id : undefined;
  });
}

/**
 * From now on, count the origin's looks at its queues (its ticks) that could have asked for
 * `callId`: the link carrying overflow, the site knowing its current cover set, the call queued
 * at home. The tick is wrapped on the instance, as the origin schedules `this.tick()`.
 */
function countLooks(s: FederatedSite, callId: string): () => number {
  const origin = s.site.overflow!.origin;
  const tick = origin.tick.bind(origin);
  let n = 0;
  origin.tick = () => {
    const link = s.site.hubLink!;
    const couldAsk =
      link.overflowReady && !link.cover.stale && s.site.engine.call(callId)?.state === 'queued';
    tick();
    if (couldAsk) n++;
  };
  return () => n;
}

/** Cross 22:00 on the hub's cover clock; both sites told the entry is on. */
async function windowOpens(): Promise<void> {
  await clock.advance(60_000);
  await waitFor('both sites told the night cover is on', () =>
    [wz, cq].every((s) => toldOf(s)?.includes(ENTRY)),
  );
}

/**
 * The agent ends its call and its wrap-up: ready again, or (`next`) straight on to the next
 * offer, which the ACD makes as the wrap-up ends when a call waits.
 */
async function finish(s: FederatedSite, agentId: string, callId: string, next = false): Promise<void> {
  await s.site.desk.hangup(agentId, callId);
  await s.site.desk.completeWrapup(agentId, callId, 'resolved');
  if (!next) await waitFor(`${agentId} ready again`, () => s.site.engine.agent(agentId)?.state === 'ready');
}

/** The call moved from wanzhou to chongqing: the records at both sites, and the ask's entry. */
async function assertMoved(callId: string): Promise<{ targetId: string; token: string }> {
  const out = await waitFor('the origin CDR', () =>
    row<{ outcome: string; overflow_out: { toSiteId: string; token: string } }>(
      wz,
      `SELECT outcome, overflow_out FROM cdrs WHERE call_id = $1`,
      [callId],
    ),
  );
  assert.equal(out.outcome, 'overflowed');
  assert.equal(out.overflow_out.toSiteId, 'chongqing');
  const mine = await movedIn(cq, callId);
  assert.equal(mine.length, 1, 'admitted once at chongqing');
  const targetId = mine[0]!.id;
  const inn = await row<{ overflow_in: { originSiteId: string; token: string }; visited_site_ids: string[] }>(
    cq,
    `SELECT overflow_in, visited_site_ids FROM calls WHERE id = $1`,
    [targetId],
  );
  assert.equal(inn!.overflow_in.originSiteId, 'wanzhou');
  assert.equal(inn!.overflow_in.token, out.overflow_out.token);
  assert.deepEqual(inn!.visited_site_ids, ['wanzhou', 'chongqing']);
  const asks = asksFor(wz, callId);
  assert.ok(asks.length > 0);
  assert.ok(
    asks.every((l) => l.coverEntryId === ENTRY && l.trigger === 'cover' && l.policyId === undefined),
    'asked under the cover entry only, by no overflow trigger',
  );
  const admitted = logged(cq, 'overflow admitted').filter((l) => l.originCallId === callId);
  assert.deepEqual(
    admitted.map((l) => [l.fromSiteId, l.callId, l.rank]),
    [['wanzhou', targetId, 'below-own']],
    "admitted once, at the entry's default rank",
  );
  return { targetId, token: out.overflow_out.token };
}

/** After LOOKS of the origin's looks the call is still queued at wanzhou and nobody was asked. */
async function assertStaysHome(callId: string, looks: () => number): Promise<void> {
  await waitFor(`${LOOKS} of wanzhou's looks at the waiting call`, () => looks() >= LOOKS, 20_000);
  assert.equal(wz.site.engine.call(callId)?.state, 'queued', 'still queued at home');
  assert.deepEqual(asksFor(wz, callId), [], 'wanzhou asked nothing');
  assert.deepEqual(decisionsFor(callId), [], 'the hub routed nothing');
  assert.deepEqual(await movedIn(cq, callId), [], 'chongqing admitted nothing');
}

test.skipIf(skip)(
  '(a) before the window a waiting wanzhou caller is not asked for, though chongqing has an agent ready',
  async () => {
    const pops = await cq.readyAgent('a03');
    assert.deepEqual(toldOf(wz), [], 'wanzhou told no cover is on');
    const callId = await queuedAtWanzhou(phoneOf('wanzhou', 0));
    assert.equal(wz.site.engine.stats('retail').agentsReady, 0, 'no wanzhou agent ready');
    await assertStaysHome(callId, countLooks(wz, callId));
    assert.deepEqual(pops, [], 'nothing offered at chongqing');
    assert.equal(cq.site.engine.agent('a03')?.state, 'ready');
  },
  90_000,
);

test.skipIf(skip)(
  "(b) the clock crosses the window's start: sites told, the waiting call answered once at chongqing by a retail agent, both records show the move",
  async () => {
    // a08 (no retail skill) is ready first, so it is the longest idle: it must still get nothing.
    const pops08 = await cq.readyAgent('a08');
    const pops03 = await cq.readyAgent('a03');
    const callId = await queuedAtWanzhou(phoneOf('wanzhou', 0));
    const looks = countLooks(wz, callId);
    await waitFor('wanzhou to look at the call before the window', () => looks() >= 2);
    assert.deepEqual(asksFor(wz, callId), []);

    await windowOpens();
    assert.deepEqual(
      parsed(p.hubLog, 'cover started')
        .filter((l) => l.entryId === ENTRY)
        .map((l) => [l.servedSiteId, l.coveringSiteId, l.why]),
      [['wanzhou', 'chongqing', 'schedule']],
    );
    const pop = await waitFor('the call offered at chongqing', () => pops03[0] ?? pops08[0], 20_000);
    assert.deepEqual(pops08, [], 'never to the agent without the skill');
    await waitFor('a03 on the call', () => cq.site.engine.agent('a03')?.state === 'on-call');
    assert.equal(pop.attached.overflowFromSite, 'wanzhou');
    const { targetId } = await assertMoved(callId);
    assert.equal(pop.callId, targetId);
    const routed = decisionsFor(callId);
    assert.deepEqual(
      routed.map((l) => [l.msg, l.kind, l.ruleId, l.target]),
      [['overflow routed', 'cover', ENTRY, 'chongqing']],
      'the hub routed one cover request, to the covering site',
    );

    await finish(cq, 'a03', targetId);
    const cdr = await waitFor('the target CDR', () =>
      row<{ outcome: string; agent_id: string }>(
        cq,
        `SELECT outcome, agent_id FROM cdrs WHERE call_id = $1`,
        [targetId],
      ),
    );
    assert.deepEqual([cdr.outcome, cdr.agent_id], ['answered', 'a03']);
    assert.equal(pops03.length, 1, 'offered once');
    assert.deepEqual(pops08, []);
    assert.equal(wz.site.engine.call(callId), undefined, 'gone from wanzhou');
  },
  90_000,
);

test.skipIf(skip)(
  "(c) inside the window, wanzhou's agents all logged out: a new caller reaches chongqing without an overflow threshold",
  async () => {
    await windowOpens();
    await wz.readyAgent('w07');
    await wz.readyAgent('w02');
    await wz.logoutAll();
    await waitFor('no wanzhou agent logged in', () => wz.site.engine.stats('retail').agentsStaffed === 0);
    const pops = await cq.readyAgent('a03');

    const callId = await queuedAtWanzhou(phoneOf('wanzhou', 1));
    const pop = await waitFor('the call offered at chongqing', () => pops[0], 20_000);
    const { targetId } = await assertMoved(callId);
    assert.equal(pop.callId, targetId);
    // No threshold of wanzhou-busy was met: one caller, a short wait, nothing answered yet.
    const inn = await row<{ overflow_in: { waitedMs: number } }>(
      cq,
      `SELECT overflow_in FROM calls WHERE id = $1`,
      [targetId],
    );
    assert.ok(inn!.overflow_in.waitedMs < 60_000, `asked after ${inn!.overflow_in.waitedMs} ms of waiting`);
    assert.equal(wz.site.engine.stats('retail').serviceLevel, null);
  },
  90_000,
);

test.skipIf(skip)(
  "(d) a covered call ranks below chongqing's own: with one agent, a chongqing caller who came later is answered first",
  async () => {
    await windowOpens();
    const pops = await cq.readyAgent('a03');
    cq.placeRetailCall(phoneOf('chongqing', 0));
    const first = await waitFor('a03 on a first chongqing call', () => pops[0], 20_000);
    await waitFor('a03 on the call', () => cq.site.engine.agent('a03')?.state === 'on-call');

    // The covered caller joins first (at wanzhou), and is admitted while a03 is busy.
    const callId = await queuedAtWanzhou(phoneOf('wanzhou', 0));
    const { targetId } = await waitFor(
      'the covered call admitted at chongqing',
      async () => {
        const r = await movedIn(cq, callId);
        return r.length === 1 && queuedInRetail(cq, r[0]!.id) ? { targetId: r[0]!.id } : undefined;
      },
      20_000,
    );
    const own = cq.placeRetailCall(phoneOf('chongqing', 1));
    const ownId = await waitFor('the own caller queued at chongqing', () =>
      own.callId && queuedInRetail(cq, own.callId) ? own.callId : undefined,
    );
    const covered = cq.site.engine.call(targetId)!;
    assert.ok(
      covered.enqueueMs < cq.site.engine.call(ownId)!.enqueueMs,
      'the covered caller has waited longer: by wait alone it would go first',
    );

    await finish(cq, 'a03', first.callId, true);
    const second = await waitFor('the next offer', () => pops[1], 20_000);
    assert.equal(second.callId, ownId, "chongqing's own caller first");
    await waitFor('a03 on the call', () => cq.site.engine.agent('a03')?.state === 'on-call');
    await finish(cq, 'a03', ownId, true);
    const third = await waitFor('the covered call offered', () => pops[2], 20_000);
    assert.equal(third.callId, targetId);
    await assertMoved(callId);
  },
  90_000,
);

test.skipIf(skip)(
  "(e) the clock crosses the window's end: sites told, a new wanzhou caller stays home",
  async () => {
    await windowOpens();
    const pops = await cq.readyAgent('a03');
    // Inside the window a caller moves, so what follows is the end's doing.
    const before = await queuedAtWanzhou(phoneOf('wanzhou', 0));
    const pop = await waitFor('the call offered at chongqing', () => pops[0], 20_000);
    await assertMoved(before);
    await waitFor('a03 on the call', () => cq.site.engine.agent('a03')?.state === 'on-call');
    await finish(cq, 'a03', pop.callId);

    await clock.runUntil(THU_0800);
    await waitFor('both sites told the night cover ended', () =>
      [wz, cq].every((s) => {
        const told = toldOf(s);
        return told !== undefined && !told.includes(ENTRY);
      }),
    );
    assert.deepEqual(
      parsed(p.hubLog, 'cover ended')
        .filter((l) => l.entryId === ENTRY)
        .map((l) => l.why),
      ['schedule'],
    );
    const callId = await queuedAtWanzhou(phoneOf('wanzhou', 1));
    await assertStaysHome(callId, countLooks(wz, callId));
    assert.equal(pops.length, 1, 'nothing more offered at chongqing');
    assert.equal(cq.site.engine.agent('a03')?.state, 'ready');
  },
  120_000,
);
