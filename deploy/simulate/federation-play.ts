/**
 * The federation's part of a simulated day (docs/operations.md §12), with federation on: the
 * asks, the hub's routing, the targets' reservation books and the moves. The day loop
 * (province-run.ts) owns the clock, the event queue and each site's ACD adapter, and hands
 * this play the items that are its own.
 *
 * The sites' asks come from the real trigger (site-node/overflow/trigger.ts), the hub's
 * decisions from the real routing core (hub/routing), the targets' answers from the real
 * reservation books (site-node/overflow/reservation.ts), and the moves are the ACD's own move
 * events (move-events.ts). The ORIGIN's side is re-implemented here, not run: origin.ts is a
 * machine per call with its timers, resends and alarms for lost and duplicated messages, and
 * this simulator loses, duplicates and reorders nothing, so the origin is the few steps it
 * takes on a clean network: ask, take the call on the accept (or cancel when it is too late
 * or no longer waiting), commit, end its copy on the ack, and put the call back on a refused
 * commit. Its commit margin is origin.ts's own.
 *
 * Per tick (`snapshotEveryMs`), each site whose link is up sends its snapshot (its ACD's queue
 * statistics, as site-node/link/snapshot-mapping.ts maps them) and asks for the calls
 * `overflowAsks` names, plus, under an active cover entry serving it, every waiting call of
 * the covered queues (cover asks without a trigger). Every message takes `linkLatencyMs` per
 * hop (site -> hub -> site is two). The hub routes on the snapshots it has received (their
 * age on its clock) and forwards the offer; the target's book accepts or refuses on the
 * target's own ACD state now; on an accept the origin takes the call out of its queue (if it
 * is still waiting) and commits; on the commit the target admits it at its original enqueue
 * time, ranked as the book says (a covered call below the target's own callers unless its
 * entry says `by-wait`, docs/architecture.md §5.9; the offer judged on the expected wait at that
 * rank, as a real target does); on the ack the origin ends its copy (`call-moved`). A refusal, a lapsed hold or a call
 * no longer waiting leaves the call at home in its place. A caller who hangs up after the
 * commit is not admitted: the simulator sees both ends and turns the commit into a cancel (the
 * real sites settle it with `caller-left`, docs/architecture.md §5.9).
 */
import { queueStats, expectedWaitMs, type AcdCommand, type AcdEvent } from '../../site-node/acd/index.js';
import { overflowAsks, DEFAULT_REASK_AFTER_MS } from '../../site-node/overflow/trigger.js';
import { DEFAULT_ORIGIN_OPTIONS } from '../../site-node/overflow/origin.js';
import {
  reservationStep,
  type ReservationCommand,
  type ReservationOptions,
} from '../../site-node/overflow/reservation.js';
import {
  NO_CALL_DATA,
  type OverflowMessage,
  type RequestMessage,
} from '../../site-node/overflow/messages.js';
import { routeOverflow } from '../../hub/routing/overflow.js';
import { routeCover } from '../../hub/routing/cover.js';
import { activeCoverEntries } from '../../hub/routing/cover-windows.js';
import type { SiteLiveView } from '../../hub/routing/site-view.js';
import type { RoutingDecision } from '../../hub/routing/decision.js';
import type { CoverRank } from '../../shared/topology/schema.js';
import { snapshotOf, triggerViews, type CallPlace } from './site-views.js';
import type { EventQueue } from './event-queue.js';
import { admitOverflow, callMoved, returnCall, takeCall } from './move-events.js';
import type { CompiledScenario } from './scenario.js';
import type { Ask, CallRt, Item, RunResult, Site } from './run-state.js';

/** The origin commits only this long before its hold would end (origin.ts, §5.9). */
const COMMIT_MARGIN_MS = DEFAULT_ORIGIN_OPTIONS.commitMarginMs;

/** The queue's max wait for the target's check (docs/architecture.md §5.9); null = none. */
function maxWaitOf(site: Site, queueId: string): number | null {
  const q = site.acd.config.queueById.get(queueId);
  return q && Number.isFinite(q.maxWaitMs) ? q.maxWaitMs : null;
}

/** What the day loop shares with the play. */
export interface PlayContext {
  s: CompiledScenario;
  q: EventQueue<Item>;
  /** The virtual clock, moved by the day loop. */
  t: { now: number };
  sites: Site[];
  siteById: Map<string, Site>;
  rts: Map<string, CallRt>;
  result: RunResult;
  resOpts: ReservationOptions;
  /** Whether a site's link is cut at a moment (a scenario event). */
  cut: (siteId: string, atMs: number) => boolean;
  /** Feed the site's ACD an event and carry out its commands (the day loop's ACD adapter). */
  step: (site: Site, ev: AcdEvent) => AcdCommand[];
}

export interface FederationPlay {
  /** Snapshots and asks of every site whose link is up. */
  tick(): void;
  hubRequest(it: Extract<Item, { k: 'hub-request' }>): void;
  onOffer(ask: Ask): void;
  onAnswer(ask: Ask, msg: OverflowMessage): void;
  onToTarget(ask: Ask, msg: OverflowMessage): void;
}

export function federationPlay(ctx: PlayContext): FederationPlay {
  const { s, q, t, sites, siteById, rts, result, resOpts, cut, step } = ctx;
  const tally = result.tally;
  const L = s.federation.linkLatencyMs;
  const patienceMean = new Map(s.callers.map((c) => [c.cityId, c.patienceMeanMs]));
  let asks = 0;
  /** Requests on their way to the hub, not decided yet; and the asks of this tick, to send. */
  let undecided = 0;
  const outbox: Item[] = [];

  /** The rank the scenario's topology gives a cover entry (the sites run that topology). */
  const coverRankOf = (entryId: string | null): CoverRank | null =>
    entryId === null ? null : (s.topology.cover.find((c) => c.id === entryId)?.rank ?? null);

  const hubViews = (): Map<string, SiteLiveView> =>
    new Map(
      sites.map((x) => [
        x.id,
        { link: cut(x.id, t.now) ? 'down' : 'up', drained: false, overflow: true, snapshot: x.snapshot },
      ]),
    );

  const home = (ask: Ask): void => {
    ask.rt.inFlight = null;
    ask.rt.lastAskEndedMs = t.now;
  };

  const ask = (
    site: Site,
    rt: CallRt,
    queueId: string,
    rule: { policy: string } | { cover: string },
  ): void => {
    const waitedMs = t.now - rt.call.arriveMs;
    // What a site can know of its callers: their mean patience. Patience is exponential, so
    // the expected patience left is that mean whatever the caller has waited.
    const patience = patienceMean.get(rt.call.cityId)!;
    const requestId = `${rt.call.callId}#${++asks}`;
    const request: RequestMessage = {
      kind: 'request',
      requestId,
      callId: rt.call.callId,
      fromSiteId: site.id,
      toSiteId: null,
      queueId,
      priority: rt.call.priority,
      waitedMs,
      remainingPatienceMs: patience,
      visitedSiteIds: rt.visited,
      policyId: 'policy' in rule ? rule.policy : null,
      coverEntryId: 'cover' in rule ? rule.cover : null,
      hops: rt.hops,
      callAgeMs: waitedMs,
      ...NO_CALL_DATA,
    };
    const a: Ask = { requestId, rt, origin: site, target: null, token: null, askedAtMs: t.now, request };
    rt.inFlight = a;
    result.routing.asked++;
    if ('cover' in rule) result.routing.cover++;
    undecided++;
    outbox.push({
      k: 'hub-request',
      ask: a,
      cover: 'cover' in rule ? rule.cover : null,
      policy: 'policy' in rule ? rule.policy : null,
    });
  };

  /** The queues a site ever asks for: those of its overflow policies and of cover entries serving it. */
  const askQueues = new Map(
    sites.map((x) => [
      x.id,
      new Set([
        ...s.topology.overflow.filter((p) => p.from === x.id).flatMap((p) => p.queues),
        ...s.topology.cover.filter((c) => c.serves.site === x.id).flatMap((c) => c.serves.queues),
      ]),
    ]),
  );

  const placeOf = (callId: string): CallPlace => {
    const rt = rts.get(callId)!;
    return {
      priority: rt.call.priority,
      arriveMs: rt.call.arriveMs,
      visited: rt.visited,
      hops: rt.hops,
      inFlight: rt.inFlight !== null,
      lastAskEndedMs: rt.lastAskEndedMs,
    };
  };

  /**
   * Every site whose link is up sends its snapshot and makes its asks. A snapshot is only read
   * by the hub for a request it has not decided yet, so one is taken only when such a request
   * exists or is being made now: the decisions are the same as with a snapshot every tick,
   * at a fraction of the cost (queueStats is the run's most expensive call).
   */
  const tick = (): void => {
    const active = activeCoverEntries(s.topology, new Map(), t.now);
    const up = sites.filter((x) => !cut(x.id, t.now));
    for (const site of up) {
      const views = triggerViews(site.acd, askQueues.get(site.id)!, t.now, placeOf);
      if (views.length === 0) continue;
      for (const a of overflowAsks(site.id, s.topology.overflow, views, t.now)) {
        ask(site, rts.get(a.callId)!, a.queueId, { policy: a.policyId });
      }
      // Cover asks without a trigger: every waiting call of a covered queue not already asked.
      for (const entry of active) {
        const c = s.topology.cover.find((x) => x.id === entry.entryId)!;
        if (c.serves.site !== site.id) continue;
        for (const v of views) {
          if (!c.serves.queues.includes(v.queueId)) continue;
          for (const w of v.waiting) {
            const rt = rts.get(w.callId)!;
            if (rt.inFlight || rt.hops >= 1 || rt.visited.includes(c.agentsOf)) continue;
            if (rt.lastAskEndedMs !== null && t.now - rt.lastAskEndedMs < DEFAULT_REASK_AFTER_MS) continue;
            ask(site, rt, v.queueId, { cover: c.id });
          }
        }
      }
    }
    if (undecided === 0) return;
    // Snapshots first: at the same instant the hub receives them before the requests.
    for (const site of up)
      q.push(t.now + L, { k: 'snapshot', site, snap: snapshotOf(site.acd, t.now, t.now + L) });
    for (const it of outbox) q.push(t.now + L, it);
    outbox.length = 0;
  };

  const decide = (it: Extract<Item, { k: 'hub-request' }>): RoutingDecision => {
    const r = it.ask.request;
    const base = {
      originSiteId: r.fromSiteId,
      callId: r.callId,
      queueId: r.queueId,
      priority: r.priority,
      waitedMs: r.waitedMs,
      remainingPatienceMs: r.remainingPatienceMs,
      visitedSiteIds: r.visitedSiteIds,
    };
    const options = { maxSnapshotAgeMs: s.federation.maxSnapshotAgeMs };
    return it.cover !== null
      ? routeCover({
          request: { ...base, coverEntryId: it.cover },
          topology: s.topology,
          sites: hubViews(),
          started: new Map(),
          nowMs: t.now,
          options,
        })
      : routeOverflow({
          request: { ...base, policyId: it.policy! },
          topology: s.topology,
          sites: hubViews(),
          nowMs: t.now,
          options,
        });
  };

  const reserve = (site: Site, ask: Ask, cmds: ReservationCommand[]): void => {
    for (const c of cmds) {
      if (c.type === 'send') q.push(t.now + 2 * L, { k: 'answer', ask, msg: c.message });
      else if (c.type === 'start-timer') q.push(c.atMs, { k: 'hold-timer', site, id: c.id });
      else if (c.type === 'admit-call') {
        const rt = ask.rt;
        step(
          site,
          admitOverflow({
            callId: c.callId,
            queueId: c.queueId,
            priority: c.priority,
            enqueueMs: rt.takenEnqueueMs!,
            belowOwn: c.rank === 'below-own',
            fromSiteId: c.fromSiteId,
            token: c.token,
            hops: c.hops,
            visitedSiteIds: c.visitedSiteIds,
          }),
        );
        tally.moved(ask.origin.id, site.id);
        result.routing.moved++;
        rt.hops++;
        rt.visited = [...rt.visited, site.id];
        rt.at = site;
        // The ACD took it (there is no store here): the book may now ack the commit.
        reserve(
          site,
          ask,
          reservationStep(site.book, { type: 'admit-done', token: c.token }, t.now, resOpts).commands,
        );
      }
    }
  };

  const onOffer = (ask: Ask): void => {
    const site = ask.target!;
    const r = ask.request;
    const has = site.acd.queueById.has(r.queueId);
    const rows = has ? queueStats(site.acd, r.queueId, t.now) : null;
    ask.token = `${r.requestId}@${site.id}`;
    const { commands } = reservationStep(
      site.book,
      {
        type: 'offer',
        request: r,
        token: ask.token,
        local: {
          offersQueue: has,
          agentsReady: rows?.agentsReady ?? 0,
          agentsServing: rows?.agentsStaffed ?? 0,
          expectedWaitMs: has ? expectedWaitMs(site.acd, r.queueId, r.priority, t.now) : null,
          expectedWaitBelowOwnMs: has ? expectedWaitMs(site.acd, r.queueId, r.priority, t.now, true) : null,
          maxWaitMs: maxWaitOf(site, r.queueId),
        },
        coverRank: coverRankOf(r.coverEntryId),
      },
      t.now,
      resOpts,
    );
    reserve(site, ask, commands);
  };

  const onAnswer = (ask: Ask, msg: OverflowMessage): void => {
    const rt = ask.rt;
    const origin = ask.origin;
    const toTarget = (m: OverflowMessage): void => q.push(t.now + 2 * L, { k: 'to-target', ask, msg: m });
    switch (msg.kind) {
      case 'refuse':
        if (msg.token === null) {
          if (!msg.byHub) result.routing.refusedByTarget++; // the hub's are counted where it decided
          home(ask);
        } else if (!rt.ended && rt.at === origin) {
          // The commit was refused: the taken call goes back to its very place.
          step(origin, returnCall(rt.call.callId));
          home(ask);
        }
        return;
      case 'accept': {
        const late = t.now >= ask.askedAtMs + msg.holdMs - COMMIT_MARGIN_MS;
        const cancel: OverflowMessage = {
          kind: 'cancel',
          requestId: ask.requestId,
          fromSiteId: origin.id,
          toSiteId: msg.fromSiteId,
          token: msg.token,
        };
        if (late || rt.ended || rt.at !== origin) {
          toTarget(cancel);
          home(ask);
          return;
        }
        const out = step(origin, takeCall(rt.call.callId, ask.requestId));
        const taken = out.find((c) => c.type === 'call-taken');
        if (!taken || taken.type !== 'call-taken') {
          result.routing.notWaiting++;
          toTarget(cancel);
          home(ask);
          return;
        }
        rt.takenEnqueueMs = taken.enqueueMs;
        toTarget({
          kind: 'commit',
          requestId: ask.requestId,
          fromSiteId: origin.id,
          toSiteId: msg.fromSiteId,
          token: msg.token,
        });
        return;
      }
      case 'commit-ack':
        step(origin, callMoved(rt.call.callId, msg.fromSiteId, msg.token));
        rt.inFlight = null;
        return;
      default:
        return;
    }
  };

  const onToTarget = (ask: Ask, msg: OverflowMessage): void => {
    const site = ask.target!;
    // The caller hung up while the call was on its way: the origin ended it; do not admit.
    const m: OverflowMessage =
      msg.kind === 'commit' && ask.rt.ended
        ? {
            kind: 'cancel',
            requestId: msg.requestId,
            fromSiteId: msg.fromSiteId,
            toSiteId: msg.toSiteId,
            token: msg.token,
          }
        : msg;
    reserve(site, ask, reservationStep(site.book, { type: 'message', message: m }, t.now, resOpts).commands);
  };

  /** The hub decides a request: an offer to the target, or its own refuse to the origin. */
  const hubRequest = (it: Extract<Item, { k: 'hub-request' }>): void => {
    undecided--;
    const d = decide(it);
    if (d.target === null) {
      const why = d.noTarget!.reason;
      result.routing.noTarget[why] = (result.routing.noTarget[why] ?? 0) + 1;
      q.push(t.now + L, {
        k: 'answer',
        ask: it.ask,
        msg: {
          kind: 'refuse',
          requestId: it.ask.requestId,
          fromSiteId: '',
          toSiteId: it.ask.origin.id,
          token: null,
          reason: why,
          byHub: true,
        },
      });
    } else {
      it.ask.target = siteById.get(d.target)!;
      q.push(t.now + L, { k: 'offer', ask: it.ask });
    }
  };

  return { tick, hubRequest, onOffer, onAnswer, onToTarget };
}
