/**
 * One run of a scenario's day, in virtual time, in this process: one real ACD core per full
 * site (site-node/acd), and with federation on, the real trigger (site-node/overflow/trigger.ts),
 * the real hub routing core (hub/routing) and the real target reservations
 * (site-node/overflow/reservation.ts) between them. Nothing here decides what those cores
 * decide; this file only carries their commands out on an event queue, the way the site's
 * and the hub's adapters do with timers and links.
 *
 * The federation, per tick (`snapshotEveryMs`, 1 s): each site whose link is up sends its
 * snapshot (its ACD's queue statistics, as site-node/link/snapshot-mapping.ts maps them) and
 * asks for the calls `overflowAsks` names, plus, under an active cover entry serving it, every
 * waiting call of the covered queues (cover asks without a trigger). Every message takes
 * `linkLatencyMs` per hop (site -> hub -> site is two). The hub routes on the snapshots it has
 * received (their age on its clock), forwards the offer to the target, whose reservation book
 * accepts or refuses on the target's own ACD state now; on an accept the origin takes the call
 * out of its queue (if it is still waiting) and commits; on the commit the target admits it at
 * its original enqueue time; on the ack the origin ends its copy (`call-moved`). A refusal, a
 * lapsed hold or a call no longer waiting leaves the call at home in its place.
 *
 * Simplifications (docs/operations.md lists them): agents answer an offer at once; no IVR,
 * callbacks or transfers; a caller who hangs up after the commit left but before the admit is
 * not admitted (the "not covered yet" case of §5.9 is settled here by the simulator, which
 * sees both ends); messages are neither lost nor reordered; a cut link carries no new asks,
 * snapshots or offers, while messages already on their way arrive.
 */
import { queueStats, expectedWaitMs, acdStep, createAcdState } from '../../site-node/acd/index.js';
import type { AcdCommand, AcdEvent, AcdState } from '../../site-node/acd/index.js';
import { overflowAsks, DEFAULT_REASK_AFTER_MS } from '../../site-node/overflow/trigger.js';
import {
  DEFAULT_RESERVATION_OPTIONS,
  emptyBook,
  reservationStep,
  type ReservationBook,
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
import type { SiteLiveView, SnapshotView } from '../../hub/routing/site-view.js';
import type { RoutingDecision } from '../../hub/routing/decision.js';
import { drawCalls, type SimCall } from './arrivals.js';
import { snapshotOf, triggerViews, type CallPlace } from './site-views.js';
import { EventQueue } from './event-queue.js';
import { admitOverflow, callMoved, returnCall, takeCall } from './move-events.js';
import { DAY_MS, HOUR_MS, type CompiledScenario, type CompiledSite } from './scenario.js';
import { Tally } from './tally.js';

/** The origin commits only this long before its hold would end (docs/architecture.md §5.9). */
const COMMIT_MARGIN_MS = 500;

export interface RoutingCounts {
  /** Requests sent to the hub (overflow and cover). */
  asked: number;
  /** Of those, under a cover entry. */
  cover: number;
  /** Decisions with no target, by reason. */
  noTarget: Record<string, number>;
  refusedByTarget: number;
  /** Accepted, but the call was no longer waiting at home (answered or abandoned meanwhile). */
  notWaiting: number;
  moved: number;
}

export interface RunResult {
  federation: boolean;
  tally: Tally;
  routing: RoutingCounts;
  /** Virtual ms from the day's start to the last call's end. */
  virtualMs: number;
  acdSteps: number;
  calls: number;
}

export interface RunHooks {
  /** Called as each simulated hour ends (0..23), and for the drain after the day. */
  onHour?: (hour: number, result: RunResult) => void;
}

interface CallRt {
  call: SimCall;
  /** The site whose ACD holds the call now. */
  at: Site;
  hops: number;
  visited: string[];
  ended: boolean;
  answered: boolean;
  inFlight: Ask | null;
  lastAskEndedMs: number | null;
  /** The enqueue time the origin's ACD reported when it gave the call up (`call-taken`). */
  takenEnqueueMs: number | null;
  /** Its full wait, from its first arrival to its answer (at whichever site). */
  answeredWaitMs: number | null;
}

interface Ask {
  requestId: string;
  rt: CallRt;
  origin: Site;
  target: Site | null;
  token: string | null;
  askedAtMs: number;
  request: RequestMessage;
}

/** The queue's max wait for the target's check (docs/architecture.md §5.9); null = none. */
function maxWaitOf(site: Site, queueId: string): number | null {
  const q = site.acd.config.queueById.get(queueId);
  return q && Number.isFinite(q.maxWaitMs) ? q.maxWaitMs : null;
}

interface Site {
  id: string;
  cfg: CompiledSite;
  acd: AcdState;
  /** timer id -> generation (a fire of an older generation is stale). */
  timers: Map<string, number>;
  book: ReservationBook;
  /** What the hub has received of this site. */
  snapshot: SnapshotView | null;
}

type Item =
  | { k: 'arrive'; call: SimCall }
  | { k: 'acd'; site: Site; ev: AcdEvent }
  | { k: 'timer'; site: Site; id: string; gen: number }
  | { k: 'patience'; rt: CallRt }
  | { k: 'shift-end'; site: Site; agentId: string }
  | { k: 'tick' }
  | { k: 'hour'; hour: number }
  | { k: 'snapshot'; site: Site; snap: SnapshotView }
  | { k: 'hub-request'; ask: Ask; cover: string | null; policy: string | null }
  | { k: 'offer'; ask: Ask }
  | { k: 'answer'; ask: Ask; msg: OverflowMessage }
  | { k: 'to-target'; ask: Ask; msg: OverflowMessage }
  | { k: 'hold-timer'; site: Site; id: string };

export function runProvince(s: CompiledScenario, federation: boolean, hooks: RunHooks = {}): RunResult {
  const calls = drawCalls(s);
  const q = new EventQueue<Item>();
  const L = s.federation.linkLatencyMs;
  const start = s.dayStartMs;
  const dayEnd = start + DAY_MS;
  const resOpts: ReservationOptions = { ...DEFAULT_RESERVATION_OPTIONS, holdMs: s.federation.holdMs };
  const sites = s.sites.map((cfg): Site => ({
    id: cfg.id,
    cfg,
    acd: createAcdState(cfg.acd, start),
    timers: new Map(),
    book: emptyBook(cfg.id),
    snapshot: null,
  }));
  const siteById = new Map(sites.map((x) => [x.id, x]));
  const tally = new Tally(
    sites.map((x) => x.id),
    s.thresholdMs,
  );
  const result: RunResult = {
    federation,
    tally,
    routing: { asked: 0, cover: 0, noTarget: {}, refusedByTarget: 0, notWaiting: 0, moved: 0 },
    virtualMs: 0,
    acdSteps: 0,
    calls: calls.length,
  };
  const rts = new Map<string, CallRt>();
  const patienceMean = new Map(s.callers.map((c) => [c.cityId, c.patienceMeanMs]));
  let now = start;
  let ended = 0;
  let timerGen = 0;
  let asks = 0;
  /** Requests on their way to the hub, not decided yet; and the asks of this tick, to send. */
  let undecided = 0;
  const outbox: Item[] = [];

  const cut = (siteId: string, at: number): boolean =>
    s.linkCuts.some((c) => c.siteId === siteId && at - start >= c.fromMs && at - start < c.toMs);

  // ---- the ACD adapter: feed an event, carry out its commands -------------------------------

  const step = (site: Site, ev: AcdEvent): AcdCommand[] => {
    const { commands } = acdStep(site.acd, ev, now);
    result.acdSteps++;
    for (const c of commands) react(site, c);
    return commands;
  };

  const react = (site: Site, c: AcdCommand): void => {
    switch (c.type) {
      case 'start-timer': {
        const gen = ++timerGen;
        site.timers.set(c.id, gen);
        q.push(c.atMs, { k: 'timer', site, id: c.id, gen });
        return;
      }
      case 'cancel-timer':
        site.timers.delete(c.id);
        return;
      case 'offer-call':
        q.push(now, { k: 'acd', site, ev: { type: 'agent-answered', agentId: c.agentId, callId: c.callId } });
        return;
      case 'call-connected': {
        const rt = rts.get(c.callId)!;
        rt.answered = true;
        rt.answeredWaitMs = now - rt.call.arriveMs;
        q.push(now + rt.call.talkMs, {
          k: 'acd',
          site,
          ev: { type: 'agent-hung-up', agentId: c.agentId, callId: c.callId },
        });
        return;
      }
      case 'call-ended': {
        if (c.outcome === 'overflowed') return; // it lives on at the target: counted there
        const rt = rts.get(c.callId)!;
        if (rt.ended) throw new Error(`call ${c.callId} ended twice`);
        rt.ended = true;
        ended++;
        const hour = Math.min(23, Math.floor((rt.call.arriveMs - start) / HOUR_MS));
        tally.ended(site.id, hour, c.outcome, rt.answeredWaitMs ?? 0);
        return;
      }
      case 'agent-state-changed':
        if (c.to === 'not-ready' && c.reason === 'shift-end') {
          q.push(now, {
            k: 'acd',
            site,
            ev: { type: 'agent-logout', agentId: c.agentId, reason: 'shift-end' },
          });
        }
        return;
      default:
        return;
    }
  };

  // ---- the federation (only with it on) ------------------------------------------------------

  const hubViews = (): Map<string, SiteLiveView> =>
    new Map(
      sites.map((x) => [
        x.id,
        { link: cut(x.id, now) ? 'down' : 'up', drained: false, overflow: true, snapshot: x.snapshot },
      ]),
    );

  const home = (ask: Ask): void => {
    ask.rt.inFlight = null;
    ask.rt.lastAskEndedMs = now;
  };

  const ask = (
    site: Site,
    rt: CallRt,
    queueId: string,
    rule: { policy: string } | { cover: string },
  ): void => {
    const waitedMs = now - rt.call.arriveMs;
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
    const a: Ask = { requestId, rt, origin: site, target: null, token: null, askedAtMs: now, request };
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
    const active = activeCoverEntries(s.topology, new Map(), now);
    const up = sites.filter((x) => !cut(x.id, now));
    for (const site of up) {
      const views = triggerViews(site.acd, askQueues.get(site.id)!, now, placeOf);
      if (views.length === 0) continue;
      for (const a of overflowAsks(site.id, s.topology.overflow, views, now)) {
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
            if (rt.lastAskEndedMs !== null && now - rt.lastAskEndedMs < DEFAULT_REASK_AFTER_MS) continue;
            ask(site, rt, v.queueId, { cover: c.id });
          }
        }
      }
    }
    if (undecided === 0) return;
    // Snapshots first: at the same instant the hub receives them before the requests.
    for (const site of up) q.push(now + L, { k: 'snapshot', site, snap: snapshotOf(site.acd, now, now + L) });
    for (const it of outbox) q.push(now + L, it);
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
          nowMs: now,
          options,
        })
      : routeOverflow({
          request: { ...base, policyId: it.policy! },
          topology: s.topology,
          sites: hubViews(),
          nowMs: now,
          options,
        });
  };

  const reserve = (site: Site, ask: Ask, cmds: ReservationCommand[]): void => {
    for (const c of cmds) {
      if (c.type === 'send') q.push(now + 2 * L, { k: 'answer', ask, msg: c.message });
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
          reservationStep(site.book, { type: 'admit-done', token: c.token }, now, resOpts).commands,
        );
      }
    }
  };

  const onOffer = (ask: Ask): void => {
    const site = ask.target!;
    const r = ask.request;
    const has = site.acd.queueById.has(r.queueId);
    const rows = has ? queueStats(site.acd, r.queueId, now) : null;
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
          expectedWaitMs: has ? expectedWaitMs(site.acd, r.queueId, r.priority, now) : null,
          maxWaitMs: maxWaitOf(site, r.queueId),
        },
      },
      now,
      resOpts,
    );
    reserve(site, ask, commands);
  };

  const onAnswer = (ask: Ask, msg: OverflowMessage): void => {
    const rt = ask.rt;
    const origin = ask.origin;
    const toTarget = (m: OverflowMessage): void => q.push(now + 2 * L, { k: 'to-target', ask, msg: m });
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
        const late = now >= ask.askedAtMs + msg.holdMs - COMMIT_MARGIN_MS;
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
    reserve(site, ask, reservationStep(site.book, { type: 'message', message: m }, now, resOpts).commands);
  };

  // ---- the day's schedule --------------------------------------------------------------------

  for (const c of calls) q.push(c.arriveMs, { k: 'arrive', call: c });
  for (const site of sites) {
    for (const a of site.cfg.agents) {
      for (const [from, to] of a.shifts) {
        q.push(start + from, {
          k: 'acd',
          site,
          ev: { type: 'agent-login', agentId: a.agentId, skills: a.skills, ready: true },
        });
        if (to < DAY_MS) q.push(start + to, { k: 'shift-end', site, agentId: a.agentId });
      }
    }
  }
  for (let h = 1; h <= 24; h++) q.push(start + h * HOUR_MS, { k: 'hour', hour: h - 1 });
  if (federation) q.push(start, { k: 'tick' });

  while (q.size > 0) {
    now = Math.max(now, q.peekAt()!);
    const it = q.pop()!;
    switch (it.k) {
      case 'arrive': {
        const site = siteById.get(it.call.homeSiteId)!;
        const rt: CallRt = {
          call: it.call,
          at: site,
          hops: 0,
          visited: [site.id],
          ended: false,
          answered: false,
          inFlight: null,
          lastAskEndedMs: null,
          takenEnqueueMs: null,
          answeredWaitMs: null,
        };
        rts.set(it.call.callId, rt);
        q.push(now + it.call.patienceMs, { k: 'patience', rt });
        step(site, {
          type: 'call-arrived',
          callId: it.call.callId,
          queueId: it.call.queueId,
          priority: it.call.priority,
        });
        break;
      }
      case 'acd': {
        const ev = it.ev;
        // The desk answers only an offer still ringing for it (the caller may have hung up).
        if (ev.type === 'agent-answered') {
          const a = it.site.acd.agents.get(ev.agentId);
          if (!a || a.state !== 'reserved' || a.callId !== ev.callId) break;
        }
        step(it.site, ev);
        break;
      }
      case 'timer':
        if (it.site.timers.get(it.id) !== it.gen) break;
        it.site.timers.delete(it.id);
        step(it.site, { type: 'timer-fired', id: it.id });
        break;
      case 'patience': {
        const rt = it.rt;
        if (!rt.ended && !rt.answered) step(rt.at, { type: 'caller-hung-up', callId: rt.call.callId });
        break;
      }
      case 'shift-end':
        step(it.site, { type: 'agent-not-ready', agentId: it.agentId, reason: 'shift-end' });
        break;
      case 'tick':
        tick();
        if (now < dayEnd || ended < calls.length) q.push(now + s.federation.snapshotEveryMs, { k: 'tick' });
        break;
      case 'hour':
        // Forget old answers now and then, as the target's adapter does.
        for (const site of sites) reservationStep(site.book, { type: 'sweep' }, now, resOpts);
        hooks.onHour?.(it.hour, result);
        break;
      case 'snapshot':
        it.site.snapshot = it.snap;
        break;
      case 'hub-request': {
        undecided--;
        const d = decide(it);
        if (d.target === null) {
          const why = d.noTarget!.reason;
          result.routing.noTarget[why] = (result.routing.noTarget[why] ?? 0) + 1;
          q.push(now + L, {
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
          q.push(now + L, { k: 'offer', ask: it.ask });
        }
        break;
      }
      case 'offer':
        onOffer(it.ask);
        break;
      case 'answer':
        onAnswer(it.ask, it.msg);
        break;
      case 'to-target':
        onToTarget(it.ask, it.msg);
        break;
      case 'hold-timer':
        reservationStep(it.site.book, { type: 'timer-fired', id: it.id }, now, resOpts);
        break;
    }
    if (now >= dayEnd && ended === calls.length) break;
  }
  result.virtualMs = now - start;
  return result;
}
