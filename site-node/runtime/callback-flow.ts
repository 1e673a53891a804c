/**
 * Callbacks that keep the caller's place (docs/architecture.md §4.7): the adapter between the
 * ACD's virtual calls and the tickets, the media and the site's clock.
 *
 * Where a callback comes from, and the place it takes (always its ticket's `callback_at`):
 * - a caller waiting in a queue presses the queue's callback key (announced with the expected
 *   wait): the request is committed, then the ACD swaps the call for a virtual one in the very
 *   same place, and only then does the caller hear the confirmation;
 * - the queue's `callback-offer` fallback (full, or waited too long): a place in that queue at
 *   the time the caller first queued;
 * - the IVR's callback node: a place at the promised time, in the request's queue or the site's
 *   default (`callbacks.queue`).
 *
 * Time is the site's (the Scheduler), so a sped-up simulation places its callbacks: a request
 * due later waits on a site timer; the ticket row is the durable record. After a restart every
 * open request comes back from its ticket (`restore`) and takes its place again by its
 * `callback_at`, with the tries it had. The request's pg-boss job is a second path to the same
 * hand-over (`due`), which ignores a request the site already holds.
 *
 * At the front of its queue the virtual call reserves an agent and the site dials the customer.
 * Answered: the call flow takes the customer's leg and the call is offered to that agent like
 * any call, and the request is closed `callback-placed`. Not answered: the agent is released
 * and the ACD brings the call back to its place after the queue's `callback.retryDelayMs`;
 * after `callback.maxTries` the request is closed `callback-failed`.
 *
 * The virtual call has a call record of its own (dnis `callback`), created `queued` when it
 * takes its place; each dial is in its timeline (`callback-dial`, then `callback-no-answer` or
 * `callback-answered`), and a callback that runs out of tries ends `failed`.
 */
import type { SiteConfig } from '../config.js';
import type { AcdCommand, AcdCallView } from '../acd/index.js';
import type { Logger } from '../../shared/log.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import { newCallId } from '../../shared/ids.js';
import {
  callbacksAwaiting,
  closeCallbackRequest,
  closeTicket,
  createCall,
  endCall,
  getTicket,
  recordCallbackTries,
  transition,
  type CallLeg as StoredLeg,
  type CallbackToPlace,
  type JobScheduler,
  type StoreContext,
  type TicketRecord,
} from '../store/index.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import type { WriteOutcome } from './durable-writes.js';
import type { SiteTally } from './tally.js';

/** How long the site rings a customer it calls back. */
const CALLBACK_RING_MS = 30_000;
/** How long one wait for the callback key lasts before the site listens again. */
const LISTEN_MS = 60_000;
/** The longest single timer: setTimeout fires at once past 2^31 - 1 ms, so a later time is re-armed. */
const MAX_TIMER_MS = 86_400_000;

/** A caller on the line, as the call flow knows it. */
export interface CallerOnLine {
  callId: string;
  ani: string;
  leg: CallLeg;
  customerId: string | undefined;
  attached: Record<string, string>;
}

/** What the callback flow needs of the call flow that owns it. */
export interface CallbackHost {
  readonly engine: AcdEngine;
  tally(): SiteTally;
  /** Queue a store write behind the others of its key (CallContext.write). */
  write(key: string, label: string, fn: (store: StoreContext) => Promise<unknown>): void;
  /**
   * A write the caller is about to be told about: queued like `write`, waited for at most
   * `store.recordWait` (DurableWrites.commit); not `written` means it never lands.
   */
  commit(key: string, label: string, fn: (store: StoreContext) => Promise<unknown>): Promise<WriteOutcome>;
  /** The caller of a live call, while they are on the line. */
  caller(callId: string): CallerOnLine | undefined;
  /** The customer answered a callback: the call flow owns the call from here (it waits, queued). */
  adopt(c: CallerOnLine & { queueId: string; queuedAtMs: number }): void;
  /** The caller's leg ended while the site was listening for the callback key. */
  hungUp(leg: CallLeg): void;
  /** Whether a trunk is free for an outgoing call ('stopping' while the site shuts down). */
  trunk(): 'free' | 'busy' | 'stopping';
  storedLeg(leg: CallLeg, atMs: number): StoredLeg;
}

export interface CallbackFlowDeps {
  config: SiteConfig;
  scheduler: Scheduler;
  media: MediaPort;
  store: StoreContext;
  jobs: JobScheduler;
  log: Logger;
}

/** An open callback request the site holds: waiting for its time, or in its queue. */
interface Held {
  ticketId: string;
  phone: string;
  queueId: string;
  priority: number;
  attached: Record<string, string>;
  customerId: string | undefined;
  /** Its place: the time it entered (or enters) the queue. */
  enqueueMs: number;
  tries: number;
  /** The virtual call, once it has its place. */
  callId: string | undefined;
  timer: Cancel | undefined;
}

export class CallbackFlow {
  /** Open requests by ticket id, and the ones in a queue by their virtual call id. */
  private readonly held = new Map<string, Held>();
  private readonly byCall = new Map<string, Held>();
  private readonly listening = new Set<string>();
  /** Key presses whose request is being committed, by the caller's call id (see joinRequest). */
  private readonly requesting = new Map<string, Promise<TicketRecord | undefined>>();
  /**
   * How the move of a caller who pressed the key while taken for it ended, by call id: the
   * request waits for it (a failed move brings the caller back to the queue, where the request
   * takes their place; a move that happened means the caller is served elsewhere).
   */
  private readonly moveSettled = new Map<string, (how: 'moved' | 'back' | 'gone') => void>();
  /** Callers whose key press was being committed when they moved to another site. */
  private readonly movedWhileRequesting = new Set<string>();
  /** Set by `restore()`: before it the site is still starting, and holds no request yet. */
  private restored = false;
  private stopped = false;

  constructor(
    private readonly d: CallbackFlowDeps,
    private readonly host: CallbackHost,
  ) {}

  /** Virtual calls in the queues and requests waiting for their time (for the snapshot and tests). */
  get pending(): { waiting: number; scheduled: number } {
    return { waiting: this.byCall.size, scheduled: this.held.size - this.byCall.size };
  }

  /** The virtual call holding a request's place, if it has one. */
  virtualCallOf(ticketId: string): string | undefined {
    return this.held.get(ticketId)?.callId;
  }

  // ---------------------------------------------------------------------------------------
  // Requests in, from the tickets

  /**
   * Hold an open callback request: a place in its queue now when it is due, else a timer on
   * the site's clock. A request already held, or closed, changes nothing.
   */
  track(t: TicketRecord): void {
    if (this.stopped || t.status === 'closed' || t.kind !== 'callback-request' || this.held.has(t.ticketId))
      return;
    const h = this.fromTicket(t);
    if (!h) return;
    this.held.set(h.ticketId, h);
    this.arm(h);
  }

  /** Admit the request when its time has come, else wait for it (a day at most per timer). */
  private arm(h: Held): void {
    h.timer = undefined;
    const wait = h.enqueueMs - this.d.scheduler.now();
    if (wait > 0) h.timer = this.d.scheduler.after(Math.min(wait, MAX_TIMER_MS), () => this.arm(h));
    else this.admit(h);
  }

  /** Every open request comes back after a start, with its place and its tries. */
  async restore(): Promise<number> {
    const open = await callbacksAwaiting(this.d.store.pool);
    this.restored = true;
    for (const t of open) this.track(t);
    if (open.length > 0) this.d.log.info('callback requests restored', { count: open.length });
    return open.length;
  }

  /** The pg-boss path (jobs.ts): a due request the site may already hold. */
  async due(cb: CallbackToPlace): Promise<void> {
    // Before restore() the site is rebuilding its figures; restore() takes every open request.
    if (!this.restored || this.stopped || this.held.has(cb.ticketId)) return;
    // The caller is still on the line, being turned into this callback: that path places it.
    if (cb.callId !== undefined && this.host.caller(cb.callId)) return;
    const t = await getTicket(this.d.store.pool, cb.ticketId);
    if (t) this.track(t);
  }

  private fromTicket(t: TicketRecord): Held | undefined {
    const { config, log } = this.d;
    const data = t.data;
    const phone = typeof data.phone === 'string' ? data.phone : '';
    if (phone === '') {
      log.error('callback request without a phone number; closed as failed', { ticketId: t.ticketId });
      this.close(t.ticketId, 'failed', { reason: 'no-phone' });
      return undefined;
    }
    let queueId = typeof data.queueId === 'string' ? data.queueId : config.callbacks.queueId;
    if (!config.acd.queueById.has(queueId)) {
      log.warn(
        'callback request names a queue this site has not got; it takes its place in the default queue',
        {
          ticketId: t.ticketId,
          queueId,
          defaultQueue: config.callbacks.queueId,
        },
      );
      queueId = config.callbacks.queueId;
    }
    const attached: Record<string, string> = {};
    const fromCall = data.attached;
    if (typeof fromCall === 'object' && fromCall !== null) {
      for (const [k, v] of Object.entries(fromCall)) if (typeof v === 'string') attached[k] = v;
    }
    Object.assign(attached, {
      intent: 'callback',
      callbackTicketId: t.ticketId,
      ...(t.callId ? { originalCallId: t.callId } : {}),
      ...(t.customerId ? { customerId: t.customerId } : {}),
    });
    const maxTries = config.acd.queueById.get(queueId)!.callback.maxTries;
    const tries = typeof data.tries === 'number' ? Math.max(0, Math.floor(data.tries)) : 0;
    if (tries >= maxTries) {
      this.close(t.ticketId, 'failed', { reason: 'no-answer', tries });
      return undefined;
    }
    return {
      ticketId: t.ticketId,
      phone,
      queueId,
      priority: typeof data.priority === 'number' ? data.priority : config.callbacks.priority,
      attached,
      customerId: t.customerId,
      enqueueMs: t.callbackAtMs ?? t.openedAtMs,
      tries,
      callId: undefined,
      timer: undefined,
    };
  }

  /** The request takes its place: a virtual call in its queue, with a call record of its own. */
  private admit(h: Held): void {
    if (this.stopped) return;
    const { config, scheduler } = this.d;
    const now = scheduler.now();
    const callId = newCallId(config.siteId, now);
    try {
      this.openRecord(h, callId);
      this.host.engine.dispatch({
        type: 'callback-arrived',
        callId,
        queueId: h.queueId,
        priority: h.priority,
        attached: h.attached,
        enqueueMs: Math.min(h.enqueueMs, now),
        tries: h.tries,
      });
    } catch (e) {
      // A bug or a config the request no longer fits: it stays open for the next start.
      this.d.log.error('acd refused a callback; the request stays open', { ticketId: h.ticketId, err: e });
      this.byCall.delete(callId);
      this.host.write(callId, `end ${callId}`, (s) =>
        endCall(s, { callId, state: 'failed', reason: 'acd-refused' }),
      );
    }
  }

  private openRecord(h: Held, callId: string): void {
    h.callId = callId;
    this.byCall.set(callId, h);
    this.host.tally().queued++;
    this.host.write(callId, `callback ${callId}`, (s) =>
      createCall(s, {
        callId,
        ani: h.phone,
        dnis: 'callback',
        state: 'queued',
        queueId: h.queueId,
        priority: h.priority,
        attached: h.attached,
        ...(h.customerId ? { customerId: h.customerId } : {}),
      }),
    );
  }

  // ---------------------------------------------------------------------------------------
  // The offer to a caller waiting in a queue

  /**
   * The caller is waiting in a queue that offers callbacks: announce the key with the expected
   * wait, and listen for it while the caller waits.
   */
  private listen(callId: string): void {
    const { engine } = this.host;
    const v = engine.call(callId);
    const caller = this.host.caller(callId);
    if (!v || v.virtual || v.callback || !caller || this.listening.has(callId)) return;
    const key = engine.config.queueById.get(v.queueId)?.callback.key;
    if (key === undefined || key === false) return;
    this.listening.add(callId);
    const { media } = this.d;
    const waiting = (): boolean =>
      engine.call(callId)?.state === 'queued' && this.host.caller(callId) !== undefined;
    void (async () => {
      // The expected wait is the hold announcement's to tell (queue-announcement.ts).
      await media.play(caller.leg, 'acd.callback_option', { key });
      while (!this.stopped && waiting()) {
        const r = await media.collectDigits(caller.leg, { maxDigits: 1, timeoutMs: LISTEN_MS });
        if (r === 'hung-up') return this.host.hungUp(caller.leg);
        if (r !== key || !waiting()) continue;
        let done: boolean;
        try {
          done = await this.requestInQueue(caller, engine.call(callId)!);
        } catch (e) {
          this.d.log.warn('callback request in queue failed', { callId, err: e });
          done = false;
        }
        if (done) return;
        // Not recorded: the caller hears so, keeps waiting in the queue and may press again.
        if (waiting()) await media.play(caller.leg, 'callback.not_scheduled').catch(() => {});
      }
    })()
      .catch((e: unknown) => this.d.log.warn('callback offer in queue failed', { callId, err: e }))
      .finally(() => this.listening.delete(callId));
  }

  /**
   * The queue's fallback took a caller whose key press is still being committed: the fallback
   * waits for that request rather than opening a second one (two requests would reserve two
   * agents and dial the customer twice). Resolves with the committed request, which this flow
   * places, or undefined if it was not recorded; undefined at once when no key press is pending.
   */
  joinRequest(callId: string): Promise<TicketRecord | undefined> | undefined {
    return this.requesting.get(callId);
  }

  /**
   * The key was pressed: commit the request, then swap the caller for a virtual call in place.
   * False when the request was not recorded (the caller is still waiting, and is told so).
   */
  private async requestInQueue(caller: CallerOnLine, v: AcdCallView): Promise<boolean> {
    const { media, log, config, scheduler } = this.d;
    const committing = this.commitRequest(caller, v);
    this.requesting.set(caller.callId, committing);
    let ticket: TicketRecord | undefined;
    try {
      ticket = await committing;
    } finally {
      this.requesting.delete(caller.callId);
    }
    if (!ticket) return false;
    // Counted once committed, as its `callback.scheduled` event is (stats-rebuild.ts), whatever
    // becomes of it next; a request not recorded is not counted.
    this.counted();
    const h = this.fromTicket(ticket);
    if (!h || this.held.has(ticket.ticketId)) return true;
    this.held.set(h.ticketId, h);
    const callbackId = newCallId(config.siteId, scheduler.now());
    for (;;) {
      try {
        this.host.engine.dispatch({ type: 'callback-requested', callId: caller.callId, callbackId });
        break;
      } catch (e) {
        const acd = this.host.engine.call(caller.callId);
        if (acd?.state === 'taken') {
          // Taken for a move to another site while the request was written: its outcome decides.
          const how = await new Promise<'moved' | 'back' | 'gone'>((resolve) =>
            this.moveSettled.set(caller.callId, resolve),
          );
          if (how === 'back') continue; // the move failed: the request takes the caller's place now
          if (how === 'moved') return this.servedElsewhere(h, caller.callId);
        } else if (acd) {
          // An agent took the caller while the request was being written: no callback needed.
          this.held.delete(h.ticketId);
          log.info('callback request withdrawn: the caller was answered first', {
            callId: caller.callId,
            ticketId: h.ticketId,
          });
          await closeTicket(this.d.store, h.ticketId, 'served-while-waiting');
          return true;
        } else if (this.movedWhileRequesting.delete(caller.callId)) {
          return this.servedElsewhere(h, caller.callId);
        }
        // The caller hung up after asking, or the queue's fallback took them meanwhile (it uses
        // this request, joinRequest): the committed request stands, at the caller's place.
        this.held.delete(h.ticketId);
        log.info('caller left the queue after asking for a callback; the request keeps its place', {
          callId: caller.callId,
          ticketId: h.ticketId,
          err: e,
        });
        this.track(ticket);
        return true;
      }
    }
    this.openRecord(h, callbackId);
    await media.play(caller.leg, 'acd.callback_confirmed').catch(() => {});
    await media.hangup(caller.leg).catch(() => {});
    return true;
  }

  /**
   * The caller asked for a callback but another site admitted the call (it ended `overflowed`):
   * they are served there, so the request is closed, never dialled (docs/architecture.md §5.9).
   */
  private async servedElsewhere(h: Held, callId: string): Promise<boolean> {
    this.held.delete(h.ticketId);
    this.d.log.info('callback request withdrawn: the call moved to another site', {
      callId,
      ticketId: h.ticketId,
    });
    await closeTicket(this.d.store, h.ticketId, 'served-elsewhere');
    return true;
  }

  /** The key press's request, committed within `store.recordWait`; undefined if it was not. */
  private async commitRequest(caller: CallerOnLine, v: AcdCallView): Promise<TicketRecord | undefined> {
    let ticket: TicketRecord | undefined;
    const outcome = await this.host.commit(caller.callId, `callback for ${caller.callId} (key)`, async () => {
      // The request only (keyed by the call, so a retried write finds it again); its job is
      // armed behind it as a write of its own (jobs.ts `arm`; the start's sweep arms any missed).
      ticket = await this.d.jobs.recordCallback({
        phone: caller.ani,
        atMs: v.enqueueMs,
        callId: caller.callId,
        queueId: v.queueId,
        ...(caller.customerId ? { customerId: caller.customerId } : {}),
        data: { reason: 'in-queue', priority: v.priority, attached: caller.attached },
      });
    });
    if (outcome === 'written' && ticket) {
      const ticketId = ticket.ticketId;
      this.host.write(ticketId, `arm ${ticketId}`, () => this.d.jobs.arm(ticketId));
      return ticket;
    }
    this.d.log.warn('callback request from the queue not recorded; the caller is told so', {
      callId: caller.callId,
      queueId: v.queueId,
      outcome,
    });
    return undefined;
  }

  /** A request committed: the day's tally counts it. */
  private counted(): void {
    const tally = this.host.tally();
    tally.callbacksScheduled++;
    tally.ticketsOpened++;
  }

  // ---------------------------------------------------------------------------------------
  // ACD commands about callbacks

  /**
   * Take the ACD's commands about callbacks; returns true when the command was one (the call
   * flow then does nothing more with it).
   */
  onAcdCommand(cmd: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>): boolean {
    if ('callId' in cmd && cmd.type !== 'agent-state-changed') {
      this.settleMove(cmd.type, cmd.callId, cmd.type === 'call-ended' && cmd.outcome === 'overflowed');
    }
    switch (cmd.type) {
      case 'dial-callback':
        void this.dial(cmd).catch((e: unknown) =>
          this.d.log.error('callback dial failed', { callId: cmd.callId, err: e }),
        );
        return true;
      case 'callback-retry':
        return this.retry(cmd);
      case 'call-queued':
        if (this.byCall.has(cmd.callId)) return true; // a place, with nobody on the line to hold
        this.listen(cmd.callId);
        return false;
      case 'call-ended':
        if (cmd.outcome !== 'callback-failed') return false;
        this.failed(cmd.callId);
        return true;
      default:
        return false;
    }
  }

  /** A key press waiting on a move (requestInQueue) learns how it ended. */
  private settleMove(type: AcdCommand['type'], callId: string, moved: boolean): void {
    if (moved && this.requesting.has(callId)) this.movedWhileRequesting.add(callId);
    const settle = this.moveSettled.get(callId);
    if (!settle || type === 'call-taken') return;
    if (type !== 'call-ended' && this.host.engine.call(callId)?.state === 'taken') return;
    this.moveSettled.delete(callId);
    settle(moved ? 'moved' : type === 'call-ended' ? 'gone' : 'back');
  }

  private async dial(cmd: Extract<AcdCommand, { type: 'dial-callback' }>): Promise<void> {
    const h = this.byCall.get(cmd.callId);
    const { engine } = this.host;
    if (!h) {
      this.d.log.error('acd asked to dial a callback the site does not hold', { callId: cmd.callId });
      return engine.dispatch({ type: 'callback-dialled', callId: cmd.callId, answered: false });
    }
    const callId = cmd.callId;
    const trunk = this.host.trunk();
    // Shutting down: no dial. The reserved agent is released at once for the callers still
    // draining, and no try is counted: the request stays open and comes back, with the tries it
    // had, at the next start.
    if (trunk === 'stopping') {
      return engine.dispatch({ type: 'callback-dialled', callId, answered: false, notDialled: true });
    }
    this.host.write(callId, `dial ${callId}`, (s) =>
      transition(s, {
        callId,
        from: 'queued',
        to: 'offered',
        event: 'callback-dial',
        detail: { agentId: cmd.agentId, try: cmd.tries + 1 },
        patch: { agentId: cmd.agentId },
      }),
    );
    let leg: CallLeg | 'no-answer';
    try {
      if (trunk === 'busy') {
        this.d.log.warn('no free trunk for a callback; counted as not answered', {
          callId,
          ticketId: h.ticketId,
        });
        leg = 'no-answer';
      } else leg = await this.d.media.dial(h.phone, { callerId: 'callback', timeoutMs: CALLBACK_RING_MS });
    } catch (e) {
      this.d.log.warn('callback dial failed; counted as not answered', { callId, err: e });
      leg = 'no-answer';
    }
    if (this.stopped) {
      if (leg !== 'no-answer') await this.d.media.hangup(leg).catch(() => {});
      return;
    }
    if (leg === 'no-answer') {
      this.host.write(callId, `no answer ${callId}`, (s) =>
        transition(s, {
          callId,
          from: 'offered',
          to: 'queued',
          event: 'callback-no-answer',
          detail: { agentId: cmd.agentId, try: cmd.tries + 1 },
          patch: { agentId: null },
        }),
      );
      return engine.dispatch({ type: 'callback-dialled', callId, answered: false });
    }
    const now = this.d.scheduler.now();
    leg.callId = callId;
    this.byCall.delete(callId);
    this.host.adopt({
      callId,
      ani: h.phone,
      leg,
      customerId: h.customerId,
      attached: h.attached,
      queueId: h.queueId,
      queuedAtMs: h.enqueueMs,
    });
    // The customer waits for the agent's answer like any caller: back to queued, then offered.
    this.host.write(callId, `answered ${callId}`, (s) =>
      transition(s, {
        callId,
        from: 'offered',
        to: 'queued',
        event: 'callback-answered',
        detail: { agentId: cmd.agentId, try: cmd.tries + 1 },
        patch: { agentId: null, legs: [this.host.storedLeg(leg, now)] },
      }),
    );
    this.close(h.ticketId, 'placed', { phone: h.phone, callId, customerId: h.customerId ?? null });
    engine.dispatch({ type: 'callback-dialled', callId, answered: true });
  }

  private retry(cmd: Extract<AcdCommand, { type: 'callback-retry' }>): boolean {
    const h = this.byCall.get(cmd.callId);
    if (!h) return false;
    // Released without a dial (the site is stopping): no try to record or to tell of.
    if (cmd.tries === h.tries) return true;
    h.tries = cmd.tries;
    this.d.log.info('callback not answered; it keeps its place and is tried again', {
      ticketId: h.ticketId,
      callId: cmd.callId,
      tries: cmd.tries,
      retryAtMs: cmd.retryAtMs,
    });
    this.host.write(h.ticketId, `tries ${h.ticketId}`, (s) =>
      recordCallbackTries(s.pool, h.ticketId, cmd.tries),
    );
    return true;
  }

  private failed(callId: string): void {
    const h = this.byCall.get(callId);
    this.byCall.delete(callId);
    if (!h) return;
    const tries = h.tries + 1;
    this.d.log.warn('callback closed as failed: the customer did not answer', {
      ticketId: h.ticketId,
      callId,
      tries,
    });
    this.host.write(callId, `end ${callId}`, (s) =>
      endCall(s, { callId, state: 'failed', reason: 'callback-failed:no-answer', detail: { tries } }),
    );
    this.close(h.ticketId, 'failed', { reason: 'no-answer', tries, callId });
  }

  /** Close a request in order behind the call's writes; it leaves the held set once committed. */
  private close(ticketId: string, outcome: 'placed' | 'failed', payload: Record<string, unknown>): void {
    this.host.write(ticketId, `callback ${outcome} ${ticketId}`, async (s) => {
      await closeCallbackRequest(s, ticketId, outcome, payload);
      this.held.delete(ticketId);
    });
  }

  // ---------------------------------------------------------------------------------------

  /**
   * Shutdown: no new places or dials; the records of virtual calls still waiting are closed
   * (their requests stay open and come back at the next start).
   */
  stop(reason: string): void {
    this.stopped = true;
    for (const h of this.held.values()) h.timer?.();
    for (const callId of this.byCall.keys()) {
      this.host.write(callId, `end ${callId}`, (s) => endCall(s, { callId, state: 'failed', reason }));
    }
    this.byCall.clear();
  }
}
