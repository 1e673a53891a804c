/**
 * One run of a scenario's day, in virtual time, in this process (docs/operations.md §12): one
 * real ACD core per full site (site-node/acd), fed the day's arrivals, shifts, answers and
 * hang-ups from an event queue, the way the site's adapter feeds it with timers; with
 * federation on, the federation's part (federation-play.ts: the asks, the hub's routing, the
 * targets' books, the moves) is played on the same queue. Nothing here decides what the cores
 * decide; this file only carries their commands out.
 *
 * Simplifications (docs/operations.md §12 lists them): agents answer an offer at once; no IVR,
 * callbacks or transfers; messages are neither lost nor reordered; a cut link carries no new
 * asks, snapshots or offers, while messages already on their way arrive.
 */
import { acdStep, createAcdState } from '../../site-node/acd/index.js';
import type { AcdCommand, AcdEvent } from '../../site-node/acd/index.js';
import {
  DEFAULT_RESERVATION_OPTIONS,
  emptyBook,
  reservationStep,
  type ReservationOptions,
} from '../../site-node/overflow/reservation.js';
import { drawCalls } from './arrivals.js';
import { EventQueue } from './event-queue.js';
import { federationPlay } from './federation-play.js';
import type { CallRt, Item, RunHooks, RunResult, Site } from './run-state.js';
import { DAY_MS, HOUR_MS, type CompiledScenario } from './scenario.js';
import { Tally } from './tally.js';

export type { RoutingCounts, RunHooks, RunResult } from './run-state.js';

export function runProvince(s: CompiledScenario, federation: boolean, hooks: RunHooks = {}): RunResult {
  const calls = drawCalls(s);
  const q = new EventQueue<Item>();
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
  const t = { now: start };
  let ended = 0;
  let timerGen = 0;

  const cut = (siteId: string, at: number): boolean =>
    s.linkCuts.some((c) => c.siteId === siteId && at - start >= c.fromMs && at - start < c.toMs);

  // ---- the ACD adapter: feed an event, carry out its commands -------------------------------

  const step = (site: Site, ev: AcdEvent): AcdCommand[] => {
    const { commands } = acdStep(site.acd, ev, t.now);
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
        q.push(t.now, {
          k: 'acd',
          site,
          ev: { type: 'agent-answered', agentId: c.agentId, callId: c.callId },
        });
        return;
      case 'call-connected': {
        const rt = rts.get(c.callId)!;
        rt.answered = true;
        rt.answeredWaitMs = t.now - rt.call.arriveMs;
        q.push(t.now + rt.call.talkMs, {
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
          q.push(t.now, {
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

  const play = federationPlay({ s, q, t, sites, siteById, rts, result, resOpts, cut, step });

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
    t.now = Math.max(t.now, q.peekAt()!);
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
        q.push(t.now + it.call.patienceMs, { k: 'patience', rt });
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
        play.tick();
        if (t.now < dayEnd || ended < calls.length)
          q.push(t.now + s.federation.snapshotEveryMs, { k: 'tick' });
        break;
      case 'hour':
        // Forget old answers now and then, as the target's adapter does.
        for (const site of sites) reservationStep(site.book, { type: 'sweep' }, t.now, resOpts);
        hooks.onHour?.(it.hour, result);
        break;
      case 'snapshot':
        it.site.snapshot = it.snap;
        break;
      case 'hub-request':
        play.hubRequest(it);
        break;
      case 'offer':
        play.onOffer(it.ask);
        break;
      case 'answer':
        play.onAnswer(it.ask, it.msg);
        break;
      case 'to-target':
        play.onToTarget(it.ask, it.msg);
        break;
      case 'hold-timer':
        reservationStep(it.site.book, { type: 'timer-fired', id: it.id }, t.now, resOpts);
        break;
    }
    if (t.now >= dayEnd && ended === calls.length) break;
  }
  result.virtualMs = t.now - start;
  return result;
}
