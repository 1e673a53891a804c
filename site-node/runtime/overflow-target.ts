/**
 * The target's side of overflow and cover, wired (docs/architecture.md §5.9): the thin adapter
 * around the reservation book (overflow/reservation.ts). It decides nothing itself:
 *
 * - an offer (a `request` the hub forwarded) is judged by the book on this site's own state
 *   for the queue, read from the ACD when it arrives (agents ready and logged in, the expected
 *   wait for the caller's priority, at its own rank and below the site's own callers, the
 *   queue's max wait), the call flow's free trunks, and the rank the topology the site runs
 *   gives the request's cover entry (the book decides the call's rank, reservation.ts
 *   `rankOf`), with a fresh token (node:crypto);
 * - `admit-call` (a commit in time): `admitOverflow` writes the call's record and the admitted
 *   reservation in one transaction (committed before anyone hears of it, durable-writes.ts
 *   `commit`), the call becomes a live call of the call flow (`adoptMovedIn`: queued, with the
 *   origin's data and the caller's leg, holding a trunk), then the ACD admits it at its
 *   original place (`admit-overflow`); only then `admit-done`, which sends the commit-ack. No
 *   trunk free (checked before the write and again just before the adoption: an inbound call
 *   may take the last one meanwhile), a store that does not take the admit in time, or an ACD
 *   that refuses it, is `admit-failed` (the origin gets a refusal naming the token and keeps
 *   the call); a call stored but not adopted or not admitted is ended `failed`,
 *   `overflow-not-admitted`, so no record is left open;
 * - `end-admitted`: the caller hung up at the origin while the call moved: it ends here as a
 *   caller's hang-up; timers on the protocol clock; a `sweep` every minute.
 *
 * The voice: a simulated caller travels in the request across processes (sim-hand-over.ts), so
 * with `simHandOver` the caller is placed on this site's media when the call is admitted,
 * before the ack; otherwise the leg arrives through the media port's `onHandedOver` with the
 * token (after the ack: the SIP adapter's INVITE), and until then the live call holds a
 * stand-in leg that nothing rings.
 *
 * A restart: no call admitted here outlives the process that admitted it. The call flow and
 * the ACD are memory only, and its caller cannot come back: a simulated caller was placed on
 * the old process's media at the admit, and a real leg is handed over once, right after the
 * ack (overflow-origin.ts `handOver`: a failure releases the caller, never a retry), so it
 * either reached the old process and died with it or never comes. Crash recovery has already
 * ended such calls in a site (store/recovery.ts); `start` ends any admitted call it still finds
 * open (`failed`, `site-restart`, logged naming the call), and the book starts empty: a resent
 * commit for it is refused naming the token (unknown here now), so an origin that never heard
 * the ack keeps its caller, and a hand-over under it finds no call waiting.
 *
 * Logging: every answer this site sends is logged once (who: the origin; why: the reason a
 * refusal carries); the same answer sent again to a repeated request or commit is a debug
 * line, and an answer the link could not carry is logged as not sent (the origin asks again,
 * or its call stays home). Every message from a site that is not the reservation's origin is
 * logged once too (dropped unanswered: the hub relays by `toSiteId` after losing its memory,
 * so the site checks).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type { CoverRank, Topology } from '../../shared/topology/schema.js';
import type { AcdEngine } from './acd-engine.js';
import type { MovedInCall } from './call-flow.js';
import type { DurableWrites } from './durable-writes.js';
import { movedCallAttached } from '../overflow/call-data.js';
import type { OverflowMessage, RequestMessage } from '../overflow/messages.js';
import {
  DEFAULT_RESERVATION_OPTIONS,
  emptyBook,
  reservationStep,
  type ReservationBook,
  type ReservationCommand,
  type ReservationEvent,
  type ReservationOptions,
} from '../overflow/reservation.js';
import { simCallerFromRequest, type SimCallerState } from '../sim/sim-hand-over.js';
import { admitOverflow, endCall, readAdmittedReservations, type AdmitResult } from '../store/index.js';
import { RESTART_REASON } from '../store/recovery.js';
import type { StoreContext } from '../store/context.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import { callIdOfRequest } from './overflow-origin.js';

export interface OverflowTargetDeps {
  siteId: string;
  /** The site's clock (the ACD's, the records'). */
  scheduler: Scheduler;
  /** The protocol's clock (reservation deadlines: the wall clock the link speaks). */
  protocolClock: Scheduler;
  engine: AcdEngine;
  flow: {
    adoptMovedIn(m: MovedInCall): void;
    dropMovedIn(callId: string): void;
    attachLeg(callId: string, leg: CallLeg): boolean;
    callerLeftElsewhere(callId: string): void;
    /** Trunks not held by a call now (a moved-in call holds one like any call). */
    readonly trunksFree: number;
    /** Why the site takes no moved-in call now: stopping, or its store down (null: it does). */
    readonly movedInRefusal: 'site-stopping' | 'store-backlog' | null;
  };
  link: {
    sendOverflow(m: OverflowMessage): boolean;
    readonly drained: boolean;
    /** The topology the site runs (its cover entries' ranks); null before the first. */
    readonly topology: Topology | null;
  };
  media: MediaPort;
  store: StoreContext;
  writes: DurableWrites;
  /** How long the admit's transaction may take before the admit fails (store.recordWait). */
  admitWaitMs: number;
  /** A simulated caller carried in the request is placed on this site's media (see the header). */
  simHandOver?: { receive(token: string, caller: SimCallerState): Promise<void> } | undefined;
  log: Logger;
  options?: ReservationOptions;
  /** Default node:crypto's randomUUID. */
  newToken?: () => string;
}

/** What an offer left for its admit: the request and the caller's place in this site's clock. */
interface Offer {
  request: RequestMessage;
  /** The caller's original enqueue time here (site clock). */
  enqueueMs: number;
  /** When the offer arrived (site clock), for the patience a simulated caller has left. */
  atMs: number;
  protocolAtMs: number;
}

const SWEEP_EVERY_MS = 60_000;

export class OverflowTarget {
  private book: ReservationBook;
  private readonly o: ReservationOptions;
  private readonly timers = new Map<string, Cancel>();
  private readonly offers = new Map<string, Offer>();
  /** Token -> this site's record of the admitted call (for end-admitted). */
  private readonly admittedCalls = new Map<string, string>();
  /** Token -> the admitted call still waiting for its caller's leg (onHandedOver). */
  private readonly legsAwaited = new Map<string, string>();
  /** Each answer and dropped message logged, by what it says (protocol clock): logged once. */
  private readonly logged = new Map<string, number>();
  private sweepTimer: Cancel | undefined;
  private running = false;
  /** The calls an earlier process admitted are settled at the first start only (header). */
  private startedOnce = false;

  constructor(private readonly d: OverflowTargetDeps) {
    this.o = d.options ?? DEFAULT_RESERVATION_OPTIONS;
    this.book = emptyBook(d.siteId);
  }

  /** End the calls an earlier process admitted (header), take handed-over legs, start the sweep. */
  async start(): Promise<void> {
    if (this.running) return;
    if (!this.startedOnce) await this.endEarlierAdmits();
    this.startedOnce = true;
    this.d.media.onHandedOver((token, leg) => this.legArrived(token, leg));
    this.running = true;
    this.scheduleSweep();
  }

  /**
   * An admitted call still open at start belongs to a process that is gone: ended, and left
   * out of the book, so a resent commit for it is refused rather than acked into nothing.
   */
  private async endEarlierAdmits(): Promise<void> {
    const { scheduler, store, log } = this.d;
    const rows = await readAdmittedReservations(store.pool, scheduler.now() - this.o.retainAdmittedMs);
    for (const r of rows) {
      if (!r.callOpen) continue;
      log.warn(
        "overflow: a call admitted before the restart is ended (its caller's leg cannot reach this process)",
        {
          callId: r.callId,
          fromSiteId: r.originSiteId,
          originCallId: r.originCallId,
          token: r.token,
        },
      );
      await endCall(store, { callId: r.callId, state: 'failed', reason: RESTART_REASON });
    }
  }

  stop(): void {
    this.running = false;
    this.sweepTimer?.();
    for (const c of this.timers.values()) c();
    this.timers.clear();
  }

  /**
   * A call of this site ended: a moved-in one is forgotten here (the book keeps its token for
   * repeats until its retention ends; a caller-left for it then finds no call to end).
   */
  callEnded(callId: string): void {
    for (const [token, id] of this.admittedCalls) if (id === callId) this.admittedCalls.delete(token);
    for (const [token, id] of this.legsAwaited) if (id === callId) this.legsAwaited.delete(token);
  }

  /** Moved-in calls this adapter still follows (admitted, or waiting for their leg); for tests. */
  get followedCount(): number {
    return this.admittedCalls.size + this.legsAwaited.size;
  }

  /** Held reservations now (status, tests). */
  get heldCount(): number {
    let n = 0;
    for (const r of this.book.byToken.values()) if (r.status === 'held') n++;
    return n;
  }

  private scheduleSweep(): void {
    if (!this.running) return;
    this.sweepTimer = this.d.protocolClock.after(SWEEP_EVERY_MS, () => {
      this.step({ type: 'sweep' });
      const cutoff = this.d.protocolClock.now() - this.o.retainMs;
      for (const [id, o] of this.offers) if (o.protocolAtMs < cutoff) this.offers.delete(id);
      for (const [key, atMs] of this.logged) if (atMs < cutoff) this.logged.delete(key);
      this.scheduleSweep();
    });
  }

  /** A message relayed by the hub for this site as a target (request, commit, cancel, caller-left). */
  message(m: OverflowMessage): void {
    if (!this.running) return;
    if (m.kind === 'request') return this.offer(m);
    if (m.kind !== 'commit' && m.kind !== 'cancel' && m.kind !== 'caller-left') return;
    const answer = this.book.byRequest.get(m.requestId);
    const token = m.token ?? (answer && 'token' in answer ? answer.token : null);
    const r = token === null ? undefined : this.book.byToken.get(token);
    if (r && r.fromSiteId !== m.fromSiteId) {
      this.refusedUnanswered(m, `the reservation is ${r.fromSiteId}'s, not ${m.fromSiteId}'s`);
      return;
    }
    // A commit or caller-left under a token this site never issued (or has forgotten) is
    // refused by the book, `unknown token`: that refusal is its one log line (send()).
    this.step({ type: 'message', message: m });
  }

  private offer(req: RequestMessage): void {
    const { engine, scheduler } = this.d;
    // The sender is the hub's stamp of the link it came on: the origin itself must be asking.
    const origin = req.visitedSiteIds[req.visitedSiteIds.length - 1];
    if (origin !== req.fromSiteId || callIdOfRequest(req.requestId) !== req.callId) {
      this.refusedUnanswered(
        req,
        origin !== req.fromSiteId
          ? `the request's origin is ${String(origin)}, but ${req.fromSiteId} sent it`
          : `request id ${req.requestId} does not name call ${req.callId}`,
      );
      return;
    }
    // The hub routes nothing to a drained site; one that arrives anyway is turned down here. A
    // stopping site, or one whose store is down, takes no new call from anywhere (call-flow.ts).
    const closed = this.d.link.drained ? 'is drained' : this.closedForMovedIn();
    if (closed && !this.book.byRequest.has(req.requestId)) {
      this.send({
        kind: 'refuse',
        requestId: req.requestId,
        fromSiteId: this.d.siteId,
        toSiteId: req.fromSiteId,
        token: null,
        reason: `site ${this.d.siteId} ${closed}`,
        byHub: false,
      });
      return;
    }
    const offers = engine.queueIds().includes(req.queueId);
    const stats = offers ? engine.stats(req.queueId) : undefined;
    const now = scheduler.now();
    if (!this.offers.has(req.requestId)) {
      this.offers.set(req.requestId, {
        request: req,
        enqueueMs: now - req.waitedMs,
        atMs: now,
        protocolAtMs: this.d.protocolClock.now(),
      });
    }
    let token = (this.d.newToken ?? randomUUID)();
    while (this.book.byToken.has(token)) token = (this.d.newToken ?? randomUUID)();
    this.step({
      type: 'offer',
      request: req,
      token,
      local: {
        offersQueue: offers,
        agentsReady: stats?.agentsReady ?? 0,
        agentsServing: stats?.agentsStaffed ?? 0,
        expectedWaitMs: offers ? engine.expectedWaitMs(req.queueId, req.priority) : null,
        expectedWaitBelowOwnMs: offers ? engine.expectedWaitMs(req.queueId, req.priority, true) : null,
        maxWaitMs: offers ? engine.maxWaitMs(req.queueId) : null,
        trunksFree: this.d.flow.trunksFree,
      },
      coverRank: this.coverRankOf(req),
    });
  }

  /** The rank the topology this site runs gives the request's cover entry (null: none, or unknown here). */
  private coverRankOf(req: RequestMessage): CoverRank | null {
    if (req.coverEntryId === null) return null;
    return this.d.link.topology?.cover.find((c) => c.id === req.coverEntryId)?.rank ?? null;
  }

  private refusedUnanswered(
    m: Pick<OverflowMessage, 'fromSiteId' | 'requestId' | 'kind'>,
    why: string,
  ): void {
    const fields = { fromSiteId: m.fromSiteId, requestId: m.requestId, kind: m.kind, why };
    if (this.firstTime(`dropped|${m.kind}|${m.requestId}|${m.fromSiteId}|${why}`)) {
      this.d.log.warn('overflow message refused', fields);
    } else this.d.log.debug('overflow message refused again (a repeat)', fields);
  }

  /** True the first time `key` is logged (within the retention the book keeps answers for). */
  private firstTime(key: string): boolean {
    if (this.logged.has(key)) return false;
    this.logged.set(key, this.d.protocolClock.now());
    return true;
  }

  private step(e: ReservationEvent): void {
    let r;
    try {
      r = reservationStep(this.book, e, this.d.protocolClock.now(), this.o);
    } catch (err) {
      this.d.log.error('overflow reservations refused an event', { event: e.type, err });
      return;
    }
    this.book = r.book;
    for (const c of r.commands) this.run(c);
  }

  /**
   * Send an answer and log it once (header). A token's answer and a request's never change
   * (reservation.ts), so what an answer says (its kind, request and token) tells a repeat.
   */
  private send(m: OverflowMessage): void {
    const token = 'token' in m ? m.token : null;
    const fields = {
      toSiteId: m.toSiteId,
      requestId: m.requestId,
      ...(token ? { token } : {}),
      ...(m.kind === 'refuse' ? { reason: m.reason } : {}),
      ...(m.kind === 'accept' ? { holdMs: m.holdMs } : {}),
    };
    if (!this.d.link.sendOverflow(m)) {
      // The origin asks again (its resends, or a new request) or its call stays home.
      this.d.log.info('overflow answer not sent: the link cannot carry it', { kind: m.kind, ...fields });
      return;
    }
    if (m.kind !== 'refuse' && m.kind !== 'accept') return; // an ack: the admit was logged
    if (!this.firstTime(`${m.kind}|${m.requestId}|${token ?? ''}`)) {
      this.d.log.debug('overflow answer repeated', { kind: m.kind, ...fields });
    } else this.d.log.info(m.kind === 'refuse' ? 'overflow refused' : 'overflow accepted', fields);
  }

  private run(c: ReservationCommand): void {
    switch (c.type) {
      case 'send':
        this.send(c.message);
        return;
      case 'admit-call':
        void this.admit(c);
        return;
      case 'end-admitted': {
        const callId = this.admittedCalls.get(c.token);
        this.d.log.info('overflow: caller left at the origin; the admitted call ends', {
          fromSiteId: c.fromSiteId,
          token: c.token,
          callId,
        });
        if (callId) this.d.flow.callerLeftElsewhere(callId);
        return;
      }
      case 'start-timer': {
        this.timers.get(c.id)?.();
        const delay = Math.max(0, c.atMs - this.d.protocolClock.now());
        this.timers.set(
          c.id,
          this.d.protocolClock.after(delay, () => {
            this.timers.delete(c.id);
            this.step({ type: 'timer-fired', id: c.id });
          }),
        );
        return;
      }
      case 'cancel-timer':
        this.timers.get(c.id)?.();
        this.timers.delete(c.id);
        return;
      case 'wrong-sender':
        // The book's own check (reservation.ts): the one line for this message.
        this.refusedUnanswered(c, c.reason);
        return;
    }
  }

  /** The commit's admit: stored with its reservation, adopted, admitted by the ACD (header). */
  private async admit(c: Extract<ReservationCommand, { type: 'admit-call' }>): Promise<void> {
    const { scheduler, engine, flow, log } = this.d;
    const offer = this.offers.get(c.row.requestId);
    const enqueueMs = offer?.enqueueMs ?? c.enqueueMs;
    const attached = movedCallAttached(c.data.attached, c.fromSiteId);
    // Held since before the site began to stop (or its store went down): it takes no call now.
    const closed = this.closedForMovedIn();
    if (closed) {
      this.step({ type: 'admit-failed', token: c.token, reason: `site ${this.d.siteId} ${closed}` });
      return;
    }
    // Held, its trunk was promised; an inbound call may still have taken it (never a row then).
    if (flow.trunksFree <= 0) {
      this.step({ type: 'admit-failed', token: c.token, reason: this.noTrunk() });
      return;
    }
    let result: AdmitResult | undefined;
    const outcome = await this.d.writes.commit(
      `admit ${c.callId} from ${c.fromSiteId}`,
      async () => {
        result = await admitOverflow(this.d.store, {
          token: c.token,
          requestId: c.row.requestId,
          originSiteId: c.fromSiteId,
          originCallId: c.callId,
          queueId: c.queueId,
          priority: c.priority,
          // The caller's whole wait so far, the protocol's own time included.
          waitedMs: Math.max(0, Math.round(scheduler.now() - enqueueMs)),
          hops: c.hops - 1,
          visitedSiteIds: [...c.visitedSiteIds],
          ani: c.data.ani,
          dnis: c.data.dnis,
          ...(c.data.customerId ? { customerId: c.data.customerId } : {}),
          ivrPath: [...c.data.ivrPath],
          attached,
        });
      },
      this.d.admitWaitMs,
      // Under the origin's call id: nothing else of this site is written under it before the admit lands.
      c.callId,
    );
    if (outcome !== 'written' || !result) {
      log.warn('overflow admit failed: the store did not take it', { token: c.token, outcome });
      this.step({ type: 'admit-failed', token: c.token, reason: `the store did not take it (${outcome})` });
      return;
    }
    const localId = result.call.callId;
    this.admittedCalls.set(c.token, localId);
    if (engine.call(localId)) {
      this.step({ type: 'admit-done', token: c.token }); // admitted before (a repeat)
      return;
    }
    // Checked again with no wait before the adoption takes the trunk: an inbound call may have
    // taken the last one while the row was written.
    if (flow.trunksFree <= 0) {
      this.notAdmitted(localId, c.token, this.noTrunk());
      return;
    }
    const standIn: CallLeg = {
      legId: `handover-${c.token}`,
      callId: localId,
      role: 'caller',
      endpoint: { transport: 'sim', id: `handover-${c.token}` },
    };
    flow.adoptMovedIn({
      callId: localId,
      ani: c.data.ani,
      dnis: c.data.dnis,
      leg: standIn,
      customerId: c.data.customerId || undefined,
      ivrPath: [...c.data.ivrPath],
      attached,
      queueId: c.queueId,
      queuedAtMs: enqueueMs,
    });
    this.legsAwaited.set(c.token, localId);
    const carried = this.d.simHandOver;
    if (carried && offer && offer.request.remainingPatienceMs !== null) {
      try {
        await carried.receive(c.token, simCallerFromRequest(offer.request, scheduler.now() - offer.atMs));
      } catch (e) {
        log.warn('overflow: the simulated caller did not arrive with the admit', { token: c.token, err: e });
      }
    }
    try {
      engine.dispatch({
        type: 'admit-overflow',
        callId: localId,
        queueId: c.queueId,
        priority: c.priority,
        attached,
        enqueueMs: Math.min(enqueueMs, scheduler.now()),
        fromSiteId: c.fromSiteId,
        token: c.token,
        hops: c.hops,
        visitedSiteIds: [...c.visitedSiteIds],
        belowOwn: c.rank === 'below-own',
      });
    } catch (e) {
      log.error('overflow admit failed: the ACD refused the call', {
        token: c.token,
        callId: localId,
        err: e,
      });
      this.legsAwaited.delete(c.token);
      flow.dropMovedIn(localId);
      this.notAdmitted(localId, c.token, 'the ACD refused it');
      return;
    }
    log.info('overflow admitted', {
      fromSiteId: c.fromSiteId,
      originCallId: c.callId,
      callId: localId,
      queueId: c.queueId,
      token: c.token,
      rank: c.rank,
    });
    this.step({ type: 'admit-done', token: c.token });
  }

  /** Why the site takes no moved-in call now, as the end of "site X ..." (null: it does). */
  private closedForMovedIn(): string | null {
    const why = this.d.flow.movedInRefusal;
    if (why === 'site-stopping') return 'is stopping';
    if (why === 'store-backlog') return 'cannot record calls now (its store is down or behind)';
    return null;
  }

  private noTrunk(): string {
    return `no-trunk: site ${this.d.siteId} has no trunk free`;
  }

  /** A call stored for an admit but not live here: its record is ended, the commit refused. */
  private notAdmitted(localId: string, token: string, reason: string): void {
    this.admittedCalls.delete(token);
    void this.d.writes.push(
      `end ${localId} (not admitted)`,
      () => endCall(this.d.store, { callId: localId, state: 'failed', reason: 'overflow-not-admitted' }),
      localId,
    );
    this.step({ type: 'admit-failed', token, reason });
  }

  /** The media port's hand-over arrives: the leg of an admitted call, or refused. */
  private legArrived(token: string, leg: CallLeg): boolean {
    const callId = this.legsAwaited.get(token);
    if (callId === undefined) {
      this.d.log.warn('overflow hand-over refused', {
        token,
        why: 'no call admitted here is waiting for a leg under this token',
      });
      return false;
    }
    this.legsAwaited.delete(token);
    return this.d.flow.attachLeg(callId, leg);
  }
}
