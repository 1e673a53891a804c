/**
 * `routeOverflow`: where an overflowing call should go (docs/architecture.md §5.8). Pure: the
 * request, the topology, the live view of each site and `nowMs` in, a {@link RoutingDecision}
 * out; no I/O, no clock. The hub's relay (hub/overflow/) runs it on each request a site sends.
 *
 * The request must name a policy of the topology whose `from` is the asking site and whose
 * queues include the call's queue; anything else is refused whole (invalid-argument naming
 * the field). A call that has already moved `maxHops` times gets no target (`max-hops`).
 * Otherwise every site of the policy's `to`, in that order, is judged (candidates.ts for the
 * shared checks and the ranking):
 *
 * - `does-not-offer-queue`: the topology does not list it as a full site with the queue, or
 *   (checked once its state is usable) its snapshot has no row for the queue: its ACD does not
 *   run it, whatever the topology says.
 * - `no-capacity`: its snapshot shows no ready agent for the queue and either no agent serving
 *   it at all, or no expected wait (null: the site's ACD has no estimate, which it has only
 *   when nobody serves the queue; never read as "at once"), or an expected wait beyond the
 *   caller's remaining patience. With the patience unknown, a site with agents serving and an
 *   estimate is eligible (ranked after the ready ones).
 *
 * `is-origin` and `already-visited` cannot come up under today's file format (`to` never
 * names `from`; maxHops is 1, so a call that was elsewhere is `max-hops` first); the checks
 * stay so that the core's promise does not rest on the validator.
 */
import type { Topology } from '../../shared/topology/schema.js';
import { judge, rank, skipped } from './candidates.js';
import { concluded, type RoutingDecision } from './decision.js';
import { checkRequest, movesSoFar, type OverflowRequest, type RoutingOptions } from './request.js';
import { viewOf, type SiteLiveView } from './site-view.js';

export interface OverflowInput {
  request: OverflowRequest;
  topology: Topology;
  /** The live view of each site by id; a site missing here was never heard from. */
  sites: ReadonlyMap<string, SiteLiveView>;
  nowMs: number;
  options?: RoutingOptions;
}

const versionOf = (t: Topology): string =>
  t.version === null ? 'the current topology' : `topology version ${t.version}`;

export function routeOverflow(input: OverflowInput): RoutingDecision {
  const { request: req, topology, sites, nowMs } = input;
  let found: Topology['overflow'][number] | undefined;
  const maxAge = checkRequest(req, nowMs, input.options ?? {}, (problems) => {
    found = topology.overflow.find((p) => p.id === req.policyId);
    if (!found) {
      problems.push(
        `request.policyId: no overflow policy "${String(req.policyId)}" in ${versionOf(topology)}`,
      );
      return;
    }
    if (found.from !== req.originSiteId) {
      problems.push(
        `request.originSiteId: policy "${found.id}" overflows from "${found.from}", not from "${req.originSiteId}"`,
      );
    }
    if (!found.queues.includes(req.queueId)) {
      problems.push(
        `request.queueId: policy "${found.id}" does not cover queue "${req.queueId}" (it covers ${found.queues.join(', ')})`,
      );
    }
  });
  const policy = found!;
  const base = {
    kind: 'overflow' as const,
    callId: req.callId,
    ruleId: policy.id,
    originSiteId: req.originSiteId,
    queueId: req.queueId,
    decidedAtMs: nowMs,
    maxSnapshotAgeMs: maxAge,
  };
  const moves = movesSoFar(req);
  if (moves >= policy.maxHops) {
    return {
      ...base,
      target: null,
      targetState: null,
      noTarget: {
        reason: 'max-hops',
        why: `the call has moved ${moves} time(s); policy "${policy.id}" allows ${policy.maxHops}`,
      },
      candidates: [],
    };
  }
  const q = req.queueId;
  const patience = req.remainingPatienceMs;
  const judged = policy.to.map((siteId) =>
    judge(
      siteId,
      req,
      viewOf(sites, siteId),
      nowMs,
      maxAge,
      () => {
        const site = topology.sites.find((s) => s.id === siteId);
        return site && site.kind === 'full' && site.queues.includes(q)
          ? null
          : { reason: 'does-not-offer-queue', why: `the topology does not list queue "${q}" at it` };
      },
      (view, state) => {
        // liveSkip passed, so the view has a snapshot.
        const row = view.snapshot!.queues.find((r) => r.queueId === q);
        if (!row) return skipped(siteId, state, 'does-not-offer-queue', `its snapshot has no queue "${q}"`);
        if (row.agentsReady > 0) return { agentReady: true, why: `${row.agentsReady} agent(s) ready` };
        if (row.agentsServing === 0) {
          return skipped(siteId, state, 'no-capacity', `no agent ready or serving queue "${q}"`, false);
        }
        if (row.expectedWaitMs === null) {
          return skipped(
            siteId,
            state,
            'no-capacity',
            `no agent ready and no expected wait for queue "${q}"`,
            false,
          );
        }
        if (patience !== null && row.expectedWaitMs > patience) {
          return skipped(
            siteId,
            state,
            'no-capacity',
            `no agent ready; expected wait ${row.expectedWaitMs} ms beyond the caller's remaining patience ${patience} ms`,
            false,
          );
        }
        return {
          agentReady: false,
          why: `no agent ready; expected wait ${row.expectedWaitMs} ms${patience === null ? ' (patience unknown)' : ` within patience ${patience} ms`}`,
        };
      },
    ),
  );
  return concluded(base, rank(judged));
}
