/**
 * The origin's side of overflow and cover, wired (docs/architecture.md §5.9): the thin adapter
 * around the pure trigger (overflow/trigger.ts), the cover asks (overflow/cover-asks.ts) and
 * one origin machine per call (overflow/origin.ts). It decides nothing itself:
 *
 * - a tick (every `tickMs` of the protocol clock, and soon after a call joins a queue) builds
 *   the trigger's views from the ACD (`movableCalls`, queue statistics, calendar) and asks for
 *   every call `overflowAsks` names under the policies `from` this site, then, under each active
 *   cover entry serving this site (the hub's `CoverState`, not stale), for the calls
 *   `coverAsks` names; nothing while the link cannot carry overflow;
 * - it carries out the machine's commands: `send` on the hub link (a send that cannot go is
 *   the link being down for that request), `take-call` / `return-call` on the ACD (whose
 *   answers come back through the call flow's hook), `record-commit` in the site's store
 *   (`moves.record`, bounded by the time the machine allows: the move is durable before the
 *   commit is sent, so a crash cannot make the origin forget it), after the commit-ack the voice's
 *   `handOver` on the media port and then `call-moved` on the ACD (the call flow ends the record
 *   `overflowed` with the target and the token), `alarm` logged once, timers;
 * - it feeds the machine what happens: messages relayed by the hub (the machine judges who may
 *   send them: anything else is logged once and dropped), the caller hanging up, the call
 *   ending at home, the link dropping. Each ask tells the machine where the call waits (its
 *   queue and the ACD's `moves`) and which sites its policy or cover entry names; the ACD's
 *   answer to a take says where it took the call from, so a call transferred since its ask
 *   is never moved under the old request.
 *
 * A settled call's machine is kept `SETTLED_KEPT_MS` after the call left: a late duplicate
 * (the target acked a resent commit twice, a refusal that crossed the ask's timeout) then
 * meets the machine that knows it is honest (at most a debug line) and a late accept is
 * still cancelled; only a message for a request this site never made, or forgot, is a
 * refusal to log.
 *
 * A clean stop (`stop()`) asks nothing more and waits, up to `settleAtStopMs` (default
 * `DEFAULT_SETTLE_AT_STOP_MS`, 2 s), for the target's word on the moves whose commit went:
 * those answered end as usual (moved, or back home); it returns the calls still unanswered,
 * which the site's stop leaves open for the next start to settle.
 *
 * Two clocks, on purpose: the machines' timers (ask timeout, commit resends, the alarm) measure
 * the network, so they run on the protocol clock, the wall clock the hub link speaks (a site
 * simulated at x20 still talks to the hub in real time); the call's own figures in a request
 * (time waited, the caller's patience, the call's age) are the site's scheduler's, as the ACD
 * counts them.
 *
 * A restarted site hands it the moves crash recovery left open (`resume`): calls no longer in
 * the ACD or the call flow, only in the store. Their machines resend the commit until the
 * target's word, and the word ends the stored call directly (`moves.endMoved`: `overflowed`;
 * `moves.endRefused`: as recovery ends other calls), since there is nothing live to move.
 *
 * Events are fed one at a time (a queue): a command's answer (the ACD's `call-taken` arriving
 * while the `take-call` is still being carried out) is stepped after the step that caused it,
 * so the machine never re-enters itself.
 */
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type { Topology } from '../../shared/topology/schema.js';
import type { AcdCommand } from '../acd/index.js';
import type { CoverView } from '../link/hub-link.js';
import { coverAsks, type CoverQueueView } from '../overflow/cover-asks.js';
import type { OverflowMessage } from '../overflow/messages.js';
import {
  DEFAULT_ORIGIN_OPTIONS,
  inFlight,
  initialOrigin,
  originStep,
  resumeCommit,
  type RecordedMove,
  type OriginCommand,
  type OriginEvent,
  type OriginMachine,
  type OriginOptions,
} from '../overflow/origin.js';
import { overflowAsks, type WaitingCall } from '../overflow/trigger.js';
import { simCallerAttached, type SimCallerState } from '../sim/sim-hand-over.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import type { MovableCallData } from './call-flow.js';
import type { WriteOutcome } from './durable-writes.js';

/** What the origin needs of the hub link (GrpcHubLink; a fake in unit tests). */
export interface OverflowLinkPort {
  readonly overflowReady: boolean;
  sendOverflow(m: OverflowMessage): boolean;
  readonly topology: Topology | null;
  readonly cover: CoverView;
}

/** The origin's moves in the site's store (overflow-wiring.ts; a fake in unit tests). */
export interface OriginMoveStore {
  /** Commit the move (call, request, target, token) within `waitMs`, or not at all. */
  record(
    m: { callId: string; requestId: string; toSiteId: string; token: string },
    waitMs: number,
  ): Promise<WriteOutcome>;
  /** A resumed move the target acked: the stored call ends `overflowed` (target, token). */
  endMoved(callId: string, toSiteId: string, token: string): void;
  /** A resumed move the target refused: the stored call ends as crash recovery ends calls. */
  endRefused(callId: string): void;
}

/** How long a clean stop waits for the target's word on moves whose commit went (header). */
export const DEFAULT_SETTLE_AT_STOP_MS = 2_000;

/** How long a settled call's machine is kept for late duplicates (header); as long as a target keeps a released token. */
export const SETTLED_KEPT_MS = 10 * 60_000;

export interface OverflowOriginDeps {
  siteId: string;
  /** The site's clock: the call's figures (waited, patience, age). */
  scheduler: Scheduler;
  /** The protocol's clock: the machines' timers and the tick (see the header). */
  protocolClock: Scheduler;
  engine: AcdEngine;
  /** The live call's data and leg (CallFlow.movedCall). */
  callOf(callId: string): MovableCallData | undefined;
  link: OverflowLinkPort;
  moves: OriginMoveStore;
  media: MediaPort;
  /** A simulated caller's state, to travel in the request (sim-hand-over.ts); none with real voice. */
  simCaller?: ((leg: CallLeg) => SimCallerState | undefined) | undefined;
  /** The customer's home site, for the target's bank routing; undefined = not known. */
  homeOf(customerId: string): Promise<string | undefined>;
  log: Logger;
  options?: OriginOptions;
  /** Default 250 ms. */
  tickMs?: number;
  /** How long a clean stop waits for the target's word on committed moves (protocol clock); default 2 s. */
  settleAtStopMs?: number;
}

interface CallRt {
  machine: OriginMachine;
  timers: Map<string, Cancel>;
  /** An ask is being prepared (the customer's home site is being read). */
  preparing: boolean;
  /** The call has left the ACD: forget it once the machine has settled (and kept a while). */
  ended: boolean;
  /** Settled after the call left: kept for late duplicates until then (protocol clock). */
  keptUntilMs: number | undefined;
  /** Why a record did not land, for the line that says the call stays home. */
  notRecorded: Record<string, unknown> | undefined;
  /** A cancel of this step could not be sent (link down): said by the step's line, never as sent. */
  cancelNotSent: { requestId: string; toSiteId: string | null } | undefined;
  /** A move taken over after a restart (`resume`): the call is only in the store. */
  resumed: boolean;
}

/** `<callId>#<attempt>` -> the call id (origin.ts names requests so). */
export function callIdOfRequest(requestId: string): string | undefined {
  const i = requestId.lastIndexOf('#');
  return i > 0 ? requestId.slice(0, i) : undefined;
}

export class OverflowOrigin {
  private readonly calls = new Map<string, CallRt>();
  /** Settled machines of calls that left, in the order they expire (`keptUntilMs`). */
  private readonly kept: Array<{ callId: string; untilMs: number }> = [];
  private readonly queue: Array<{ callId: string; event: OriginEvent }> = [];
  private draining = false;
  private tickTimer: Cancel | undefined;
  private running = false;
  private stopping: Promise<string[]> | undefined;
  /** Hand-overs under way after a commit-ack (the ACD ends the call when each is done). */
  private readonly handingOver = new Set<Promise<void>>();
  /** Called after every step while a stop waits for the moves in transit. */
  private onSettle: (() => void) | undefined;
  private readonly o: OriginOptions;

  constructor(private readonly d: OverflowOriginDeps) {
    this.o = d.options ?? DEFAULT_ORIGIN_OPTIONS;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopping = undefined;
    this.schedule();
  }

  /**
   * Asks nothing more, waits (bounded) for the target's word on the moves whose commit went,
   * then stops every timer (header). Resolves with the live calls whose commit is still
   * unanswered: the site's stop leaves them open (their move is recorded) for the next start.
   */
  stop(): Promise<string[]> {
    this.stopping ??= this.stopNow();
    return this.stopping;
  }

  private async stopNow(): Promise<string[]> {
    this.running = false;
    this.tickTimer?.();
    this.tickTimer = undefined;
    await this.settleInTransit();
    const left = this.committingCallIds();
    for (const rt of this.calls.values()) for (const c of rt.timers.values()) c();
    this.calls.clear();
    this.kept.length = 0;
    return left;
  }

  /** Moves whose commit went and whose target has not answered, and hand-overs under way. */
  private unsettled(): number {
    let n = this.handingOver.size;
    for (const rt of this.calls.values()) if (rt.machine.state === 'committing') n++;
    return n;
  }

  private settleInTransit(): Promise<void> {
    const waitMs = this.d.settleAtStopMs ?? DEFAULT_SETTLE_AT_STOP_MS;
    if (waitMs <= 0 || this.unsettled() === 0) return Promise.resolve();
    this.d.log.info("overflow: stopping; waiting for the targets' word on moves in transit", {
      calls: [...this.calls.values()]
        .filter((rt) => rt.machine.state === 'committing')
        .map((rt) => rt.machine.callId),
      waitMs,
    });
    return new Promise((resolve) => {
      const done = (): void => {
        cancel();
        this.onSettle = undefined;
        resolve();
      };
      const cancel = this.d.protocolClock.after(waitMs, done);
      this.onSettle = () => {
        if (this.unsettled() === 0) done();
      };
    });
  }

  /** Whether a stop is under way: no new request is made, moves in transit are still settled. */
  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * The moves crash recovery left open (site-node/store/recovery.ts): each commit is sent
   * again, and resent until the target's word, which ends the stored call (header).
   */
  resume(moves: readonly RecordedMove[]): void {
    for (const r of moves) {
      if (this.calls.has(r.callId)) continue;
      const { machine, commands } = resumeCommit(this.d.siteId, r, this.d.protocolClock.now(), this.o);
      // `ended`: nothing live here; the machine is forgotten once the word settled it.
      const rt: CallRt = {
        machine,
        timers: new Map(),
        preparing: false,
        ended: true,
        keptUntilMs: undefined,
        notRecorded: undefined,
        cancelNotSent: undefined,
        resumed: true,
      };
      this.calls.set(r.callId, rt);
      this.d.log.info('overflow: resuming a move committed before the restart', {
        callId: r.callId,
        requestId: r.requestId,
        toSiteId: r.toSiteId,
        token: r.token,
      });
      for (const c of commands) this.run(rt, c);
    }
  }

  /** Calls whose commit has gone, waiting for the target's word (a stop leaves them open). */
  committingCallIds(): string[] {
    return [...this.calls.entries()]
      .filter(([, rt]) => rt.machine.state === 'committing' && !rt.resumed)
      .map(([callId]) => callId);
  }

  /** Calls with a request in flight now (status, tests). */
  get inFlightCount(): number {
    let n = 0;
    for (const rt of this.calls.values()) if (inFlight(rt.machine)) n++;
    return n;
  }

  private schedule(): void {
    if (!this.running) return;
    this.tickTimer = this.d.protocolClock.after(this.d.tickMs ?? 250, () => {
      try {
        this.tick();
      } catch (e) {
        this.d.log.error('overflow tick failed', { err: e });
      }
      this.schedule();
    });
  }

  // ---- asking ----------------------------------------------------------------------------

  /** One look at the queues: ask for every call the policies or the active cover name. */
  tick(): void {
    this.forgetKept();
    const { link, engine, siteId } = this.d;
    const topology = link.topology;
    if (!this.running || !topology || !link.overflowReady) return;
    const now = this.d.scheduler.now();
    const cover = link.cover;
    const activeCover = cover.stale ? [] : cover.activeEntryIds;
    const asked = new Set<string>();
    const queues = new Set<string>([
      ...topology.overflow.filter((p) => p.from === siteId).flatMap((p) => p.queues),
      ...topology.cover
        .filter((c) => c.serves.site === siteId && activeCover.includes(c.id))
        .flatMap((c) => c.serves.queues),
    ]);
    const views: CoverQueueView[] = [];
    for (const queueId of engine.queueIds()) {
      if (!queues.has(queueId)) continue;
      const stats = engine.stats(queueId);
      views.push({
        queueId,
        waiting: engine.movableCalls(queueId).map((c) => this.waitingCall(c)),
        agentsLoggedIn: stats.agentsStaffed,
        serviceLevel: stats.serviceLevel,
        inHours: engine.queueOpen(queueId),
        agentsReady: stats.agentsReady,
      });
    }
    if (views.length === 0) return;
    for (const a of overflowAsks(siteId, topology.overflow, views, now)) {
      asked.add(a.callId);
      // Only the sites the policy sends to may take the call (origin.ts).
      const to = topology.overflow.find((p) => p.id === a.policyId)?.to ?? [];
      void this.ask(
        a.callId,
        a.queueId,
        { policyId: a.policyId, coverEntryId: null, targetSiteIds: to },
        a.trigger,
      );
    }
    for (const a of coverAsks(siteId, topology.cover, activeCover, views, now)) {
      if (asked.has(a.callId)) continue;
      void this.ask(
        a.callId,
        a.queueId,
        { policyId: null, coverEntryId: a.coverEntryId, targetSiteIds: [a.coveringSiteId] },
        'cover',
      );
    }
  }

  private waitingCall(c: {
    callId: string;
    priority: number;
    enqueueMs: number;
    visitedSiteIds: readonly string[];
    hops: number;
  }): WaitingCall {
    const rt = this.calls.get(c.callId);
    const m = rt?.machine;
    return {
      callId: c.callId,
      priority: c.priority,
      enqueueMs: c.enqueueMs,
      visitedSiteIds: c.visitedSiteIds,
      hops: c.hops,
      inFlight: rt !== undefined && (rt.preparing || inFlight(rt.machine)),
      // The machine's times are the protocol clock's; the trigger compares in the site's.
      lastAskEndedMs:
        m?.state === 'home' ? this.d.scheduler.now() - (this.d.protocolClock.now() - m.changedAtMs) : null,
    };
  }

  private async ask(
    callId: string,
    queueId: string,
    /** The policy or cover entry, and the sites it names (its `to`, or the covering site). */
    under: { policyId: string | null; coverEntryId: string | null; targetSiteIds: readonly string[] },
    trigger: string,
  ): Promise<void> {
    const data = this.d.callOf(callId);
    if (!data || data.callerGone || data.callbackPending) return;
    let rt = this.calls.get(callId);
    if (!rt) {
      rt = {
        machine: initialOrigin(this.d.siteId, callId, queueId, this.d.protocolClock.now()),
        timers: new Map(),
        preparing: false,
        ended: false,
        keptUntilMs: undefined,
        notRecorded: undefined,
        cancelNotSent: undefined,
        resumed: false,
      };
      this.calls.set(callId, rt);
    } else if (rt.ended || rt.preparing || inFlight(rt.machine) || rt.machine.state === 'moved') return;
    rt.preparing = true;
    let home: string | undefined;
    try {
      home = data.customerId ? await this.d.homeOf(data.customerId) : undefined;
    } catch (e) {
      // The target's bank routing then finds the home itself (its own cache or the hub).
      this.d.log.warn('overflow: customer home site not read', { callId, err: e });
    } finally {
      rt.preparing = false;
    }
    // Still waiting here, and still ours, after the read?
    const acd = this.d.engine.call(callId);
    const now = this.d.scheduler.now();
    if (!this.running || rt.ended || !acd || (acd.state !== 'queued' && acd.state !== 'closed-wait')) return;
    if (inFlight(rt.machine) || rt.machine.state === 'moved') return;
    if (this.d.callOf(callId)?.callbackPending) return; // the key was pressed during the read
    // Transferred during the read: the trigger's policy was for the queue it left.
    if (acd.queueId !== queueId) return;
    const sim = this.d.simCaller?.(data.leg);
    this.feed(callId, {
      type: 'ask',
      queueId,
      queueMoves: acd.moves,
      targetSiteIds: under.targetSiteIds,
      priority: acd.priority,
      waitedMs: Math.max(0, Math.round(now - acd.enqueueMs)),
      remainingPatienceMs: sim ? Math.round(sim.remainingPatienceMs) : null,
      visitedSiteIds: acd.visitedSiteIds,
      hops: acd.hops,
      policyId: under.policyId,
      coverEntryId: under.coverEntryId,
      callAgeMs: Math.max(0, Math.round(now - data.createdAtMs)),
      ani: data.ani,
      dnis: data.dnis,
      customerId: data.customerId ?? '',
      customerHomeSiteId: home ?? '',
      ivrPath: [...data.ivrPath],
      attached: { ...data.attached, ...(sim ? simCallerAttached(sim) : {}) },
    });
    const m = this.calls.get(callId)?.machine;
    if (m?.state === 'asked') {
      this.d.log.info('overflow asked', {
        callId,
        requestId: m.requestId,
        queueId,
        ...(under.policyId ? { policyId: under.policyId } : { coverEntryId: under.coverEntryId }),
        trigger,
      });
    }
  }

  // ---- what happens to the calls ---------------------------------------------------------

  /** The ACD's answer to a take-call (through the call flow's hook): where it took the call from. */
  acdAnswer(cmd: Extract<AcdCommand, { type: 'call-taken' | 'call-not-waiting' }>): void {
    this.feed(
      cmd.callId,
      cmd.type === 'call-taken'
        ? { type: 'call-taken', requestId: cmd.requestId, queueId: cmd.queueId, queueMoves: cmd.moves }
        : { type: 'call-not-waiting', requestId: cmd.requestId },
    );
  }

  /** The caller hung up (waiting, or in transit). */
  callerLeft(callId: string): void {
    this.feed(callId, { type: 'call-left' });
  }

  /** The call left the ACD: whatever its machine was doing, the call is not here to move. */
  callEnded(callId: string): void {
    const rt = this.calls.get(callId);
    if (!rt) return;
    rt.ended = true;
    this.feed(callId, { type: 'call-left' });
  }

  linkDown(): void {
    for (const callId of this.calls.keys()) this.feed(callId, { type: 'link-down' });
  }

  /** A message relayed by the hub for a request of this site (accept, refuse, commit-ack). */
  message(m: OverflowMessage): void {
    const callId = callIdOfRequest(m.requestId);
    const rt = callId === undefined ? undefined : this.calls.get(callId);
    if (!rt || !callId) {
      // A request this site never made, or one settled long ago: nothing here to act on. An
      // accept still holds a reservation there: let it go now rather than at its deadline.
      if (m.kind !== 'accept') {
        this.refused(m, 'no call of this site is asking under this request');
        return;
      }
      const sent = this.d.link.sendOverflow({
        kind: 'cancel',
        requestId: m.requestId,
        fromSiteId: this.d.siteId,
        toSiteId: m.fromSiteId,
        token: m.token,
      });
      this.refused(
        m,
        sent
          ? 'no call of this site is asking under this request; its reservation cancelled'
          : 'no call of this site is asking under this request; the cancel could not be sent (link down), the reservation lapses at its deadline',
      );
      return;
    }
    const mm = rt.machine;
    if (
      m.kind === 'commit-ack' &&
      mm.state === 'moved' &&
      m.requestId === mm.requestId &&
      m.token === mm.token &&
      m.fromSiteId === mm.toSiteId
    ) {
      // The target answered a resent commit again: honest, and the move is done.
      this.d.log.debug('overflow: late duplicate commit-ack; the call has moved already', {
        callId,
        requestId: m.requestId,
        fromSiteId: m.fromSiteId,
      });
    }
    // Who may send what is the machine's to judge (origin.ts): one line for a wrong sender.
    this.feed(callId, { type: 'message', message: m });
  }

  private refused(m: Pick<OverflowMessage, 'fromSiteId' | 'requestId' | 'kind'>, why: string): void {
    this.d.log.warn('overflow message refused', {
      fromSiteId: m.fromSiteId,
      requestId: m.requestId,
      kind: m.kind,
      why,
    });
  }

  // ---- the machines ----------------------------------------------------------------------

  private feed(callId: string, event: OriginEvent): void {
    this.queue.push({ callId, event });
    if (this.draining) return;
    this.draining = true;
    try {
      while (this.queue.length > 0) {
        const next = this.queue.shift()!;
        this.step(next.callId, next.event);
      }
    } finally {
      this.draining = false;
    }
  }

  private step(callId: string, event: OriginEvent): void {
    const rt = this.calls.get(callId);
    if (!rt) return;
    const before = rt.machine;
    let r;
    try {
      r = originStep(before, event, this.d.protocolClock.now(), this.o);
    } catch (e) {
      this.d.log.error('overflow origin refused an event', { callId, event: event.type, err: e });
      return;
    }
    rt.machine = r.machine;
    for (const c of r.commands) this.run(rt, c);
    const m = rt.machine;
    const unsent = rt.cancelNotSent;
    rt.cancelNotSent = undefined;
    const lapses = 'not sent (link down): the reservation lapses at its deadline';
    if (m.state !== before.state && m.state === 'home' && before.state !== 'waiting' && !rt.resumed) {
      // The refusal that sent it home is this event's message (a wrong sender's is not acted on).
      const refusal = event.type === 'message' && event.message.kind === 'refuse' ? event.message : undefined;
      this.d.log.info('overflow: call stays home', {
        callId,
        requestId: m.requestId,
        reason: m.homeReason,
        ...(m.toSiteId ? { toSiteId: m.toSiteId } : {}),
        ...(refusal ? { refusedBy: refusal.byHub ? 'hub' : refusal.fromSiteId, why: refusal.reason } : {}),
        ...(m.homeReason === 'not-recorded' ? rt.notRecorded : {}),
        ...(unsent ? { cancel: lapses } : {}),
      });
    } else if (unsent) {
      // A stray accept's cancel: no other line speaks of it.
      this.d.log.info('overflow: cancel not sent', {
        callId,
        requestId: unsent.requestId,
        ...(unsent.toSiteId ? { toSiteId: unsent.toSiteId } : {}),
        cancel: lapses,
      });
    }
    rt.notRecorded = undefined;
    if (
      rt.ended &&
      rt.keptUntilMs === undefined &&
      (m.state === 'home' || m.state === 'moved' || m.state === 'waiting')
    ) {
      this.keep(callId, rt);
    }
    this.onSettle?.();
  }

  /** A settled call that left: its timers stop, its machine is kept a while for late duplicates (header). */
  private keep(callId: string, rt: CallRt): void {
    for (const c of rt.timers.values()) c();
    rt.timers.clear();
    const untilMs = this.d.protocolClock.now() + SETTLED_KEPT_MS;
    rt.keptUntilMs = untilMs;
    this.kept.push({ callId, untilMs });
    this.forgetKept();
  }

  private forgetKept(): void {
    const now = this.d.protocolClock.now();
    while (this.kept.length > 0 && this.kept[0]!.untilMs <= now) {
      const { callId, untilMs } = this.kept.shift()!;
      if (this.calls.get(callId)?.keptUntilMs === untilMs) this.calls.delete(callId);
    }
  }

  private run(rt: CallRt, c: OriginCommand): void {
    const { log } = this.d;
    const callId = rt.machine.callId;
    switch (c.type) {
      case 'send':
        if (!this.d.link.sendOverflow(c.message)) {
          // Never said as sent: a request's failure is the call staying home (link-down), a
          // commit's is resent; a cancel that cannot go leaves the reservation to its deadline,
          // which the step's line says (step).
          if (c.message.kind === 'cancel') {
            rt.cancelNotSent = { requestId: c.message.requestId, toSiteId: c.message.toSiteId };
          }
          this.feed(callId, { type: 'link-down' });
        }
        return;
      case 'take-call':
        // A key press being committed keeps the call here (MovableCallData.callbackPending).
        if (this.d.callOf(c.callId)?.callbackPending) {
          this.feed(callId, { type: 'call-not-waiting', requestId: c.requestId });
          return;
        }
        this.dispatch({ type: 'take-call', callId: c.callId, requestId: c.requestId });
        return;
      case 'return-call':
        if (rt.resumed) {
          // The target refused the token: the call never left this crashed site.
          log.info('overflow: resumed move refused by the target; the call ends as recovered', {
            callId,
            toSiteId: rt.machine.toSiteId,
            token: rt.machine.token,
          });
          this.d.moves.endRefused(callId);
          return;
        }
        this.dispatch({ type: 'return-call', callId: c.callId });
        return;
      case 'record-commit':
        void this.record(c);
        return;
      case 'call-moved':
        log.info('overflow: call moved', { callId, toSiteId: c.toSiteId, token: c.token });
        if (rt.resumed) {
          this.d.moves.endMoved(callId, c.toSiteId, c.token);
          return;
        }
        this.trackHandOver(this.handOver(c));
        return;
      case 'alarm':
        log.error('overflow: target silent with a call in transit', {
          callId: c.callId,
          requestId: c.requestId,
          toSiteId: c.toSiteId,
          token: c.token,
          silentMs: c.silentMs,
        });
        return;
      case 'start-timer': {
        rt.timers.get(c.id)?.();
        const delay = Math.max(0, c.atMs - this.d.protocolClock.now());
        rt.timers.set(
          c.id,
          this.d.protocolClock.after(delay, () => {
            rt.timers.delete(c.id);
            this.feed(callId, { type: 'timer-fired', id: c.id });
          }),
        );
        return;
      }
      case 'cancel-timer':
        rt.timers.get(c.id)?.();
        rt.timers.delete(c.id);
        return;
      case 'wrong-sender':
        // The machine's own check (origin.ts): the one line for this message.
        this.refused(c, c.reason);
        return;
    }
  }

  /** A stop waits for a hand-over under way: the call ends `overflowed` only once it is done. */
  private trackHandOver(p: Promise<void>): void {
    this.handingOver.add(p);
    void p.finally(() => {
      this.handingOver.delete(p);
      this.onSettle?.();
    });
  }

  /** The move goes to the store before its commit may be sent (header); the outcome comes back as an event. */
  private async record(c: Extract<OriginCommand, { type: 'record-commit' }>): Promise<void> {
    const waitMs = Math.max(0, c.byMs - this.d.protocolClock.now());
    let outcome: WriteOutcome;
    try {
      outcome = await this.d.moves.record(
        { callId: c.callId, requestId: c.requestId, toSiteId: c.toSiteId, token: c.token },
        waitMs,
      );
    } catch (e) {
      this.d.log.error('overflow: recording the move failed', { callId: c.callId, err: e });
      outcome = 'failed';
    }
    // Said once, by the line that says the call stays home (step), if this answer sends it there.
    const rt = this.calls.get(c.callId);
    if (outcome !== 'written' && rt) rt.notRecorded = { outcome, waitMs };
    this.feed(c.callId, {
      type: outcome === 'written' ? 'commit-recorded' : 'commit-not-recorded',
      requestId: c.requestId,
    });
  }

  /**
   * The target admitted the call: the caller's voice goes there, then the ACD ends the call
   * here (`overflowed`). A hand-over that fails leaves the caller's leg here, but the call is
   * the target's now (its record is there and its answer never changes): the leg is released
   * and the failure logged, rather than a second live copy of the call kept here.
   */
  private async handOver(c: Extract<OriginCommand, { type: 'call-moved' }>): Promise<void> {
    const data = this.d.callOf(c.callId);
    if (data && !data.callerGone) {
      try {
        await this.d.media.handOver(data.leg, { toSiteId: c.toSiteId, token: c.token });
      } catch (e) {
        this.d.log.error('overflow: voice hand-over failed; the caller is released', {
          callId: c.callId,
          toSiteId: c.toSiteId,
          token: c.token,
          err: e,
        });
        await this.d.media.hangup(data.leg).catch(() => undefined);
      }
    }
    this.dispatch({ type: 'call-moved', callId: c.callId, toSiteId: c.toSiteId, token: c.token });
  }

  private dispatch(e: Parameters<AcdEngine['dispatch']>[0]): void {
    try {
      this.d.engine.dispatch(e);
    } catch (err) {
      this.d.log.error('overflow: the ACD refused a move command', { event: e.type, err });
    }
  }
}
