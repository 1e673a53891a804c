/**
 * How a call moves through a site: trunk and IVR-port admission, the IVR session, the
 * queue, the agent, the end. This is the adapter layer of docs/architecture.md §3.1: decisions come
 * from the pure cores (the IVR runner, the ACD), and this file carries out their commands
 * against the media port, the agent desks and the store.
 *
 * Persistence runs through the site's durable writes (durable-writes.ts), so a call's rows
 * land in the order its facts happened without the ACD ever waiting on Postgres, and a write
 * the database could not take waits and is retried rather than dropped. Two facts are
 * committed before anyone is told (docs/architecture.md §7.1): a call's first row before the
 * call is admitted (or the caller hears busy), and a ticket or callback request before the
 * caller hears it is recorded (or the caller hears an apology).
 * Callbacks, which keep a caller's place in the queue, are callback-flow.ts. Moves to and from
 * other sites (docs/architecture.md §5.9) are overflow-origin.ts and overflow-target.ts: this
 * file only gives them a few hooks (`overflow`, `movedCall`, `adoptMovedIn`, ...) and ends a
 * call the ACD says has moved as `overflowed` (nothing else ends it).
 */
import type { AcdCommand } from '../acd/index.js';
import type { SiteConfig } from '../config.js';
import type { ScreenPop } from '../cti/agent-desk.js';
import type { BankHost } from '../../shared/bank-host/port.js';
import type { CustomerDirectory } from '../../shared/domain/customer.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import { newCallId } from '../../shared/ids.js';
import { DomainError } from '../../shared/errors.js';
import type { Flow } from '../ivr/flow.js';
import {
  runIvrSession,
  type CallerChannel,
  type CallbackRequest,
  type TicketRequest,
} from '../ivr/session.js';
import type { AttachedData as IvrAttached } from '../ivr/types.js';
import {
  createCall,
  endCall,
  endOverflowed,
  logoutAgent,
  loginAgent,
  setAgentState,
  transition,
  updateCallData,
  type CallLeg as StoredLeg,
  type EndCallRequest,
  type JobScheduler,
  type StoreContext,
  type TicketRecord,
} from '../store/index.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import { CallbackFlow } from './callback-flow.js';
import type { SiteDesk } from './site-desk.js';
import { recordAnswer, rollDay, type SiteTally } from './tally.js';
import { DEFAULT_STORE_WRITES } from '../config.js';
import type { DurableWrites, WriteOutcome } from './durable-writes.js';
import type { RefusalLog } from './refusal-log.js';
import type { RefusalReason } from '../store/index.js';

type Phase = 'ivr' | 'queued' | 'offered' | 'connected' | 'wrapup';

interface LiveCall {
  callId: string;
  ani: string;
  dnis: string;
  leg: CallLeg;
  agentLeg: CallLeg | undefined;
  phase: Phase;
  customerId: string | undefined;
  verified: boolean;
  ivrPath: string[];
  attached: Record<string, string>;
  queueId: string | undefined;
  queuedAtMs: number | undefined;
  agentId: string | undefined;
  /** Set once the caller has left, so nothing is played to an empty line. */
  callerGone: boolean;
  /** Why the ACD's fallback took the call (max wait, full, closed), kept for its end record. */
  fallbackReason: string | undefined;
  /**
   * Where the fallback took the call from (the ACD's call-fallback command): a callback it books
   * takes this place. The ACD has forgotten the call by the time the command is carried out.
   */
  fallbackPlace: { priority: number; enqueueMs: number } | undefined;
  /** When the site took the call (its record's creation), for a move's `callAgeMs`. */
  createdAtMs: number;
}

/** What the overflow adapters hear from the call flow (overflow-origin.ts). */
export interface CallFlowOverflowHooks {
  /** The ACD's answer to a `take-call` (call-taken or call-not-waiting). */
  acdAnswer(cmd: Extract<AcdCommand, { type: 'call-taken' | 'call-not-waiting' }>): void;
  /** The caller of a queued (or taken) call hung up. */
  callerLeft(callId: string): void;
  /** The call left the ACD (any outcome). */
  callEnded(callId: string): void;
}

/** A live call as a move to another site needs it (overflow-origin.ts). */
export interface MovableCallData {
  callId: string;
  ani: string;
  dnis: string;
  leg: CallLeg;
  customerId: string | undefined;
  ivrPath: readonly string[];
  attached: Readonly<Record<string, string>>;
  createdAtMs: number;
  callerGone: boolean;
  /**
   * The caller pressed the callback key and that request is being committed: the call is not
   * moved meanwhile (the request takes its place here; a move would serve it twice).
   */
  callbackPending: boolean;
}

/** A call another site moved here, adopted as a live call (overflow-target.ts). */
export interface MovedInCall {
  /** This site's record of it (admitOverflow made it). */
  callId: string;
  ani: string;
  dnis: string;
  /** The caller's leg, or a stand-in until the voice arrives (`attachLeg`). */
  leg: CallLeg;
  customerId: string | undefined;
  ivrPath: string[];
  attached: Record<string, string>;
  queueId: string;
  /** When it joined the queue at the origin, in this site's clock. */
  queuedAtMs: number;
}
/** The IVR hears of it (session.ts) and plays its apology instead of the confirmation. */
function notRecorded(what: string, id: string, outcome: WriteOutcome): DomainError {
  return new DomainError(
    'unavailable',
    outcome === 'withdrawn'
      ? `${what} ${id} not recorded: the store did not take it in time`
      : `${what} ${id} not recorded: the store refused it`,
  );
}

function liveCall(callId: string, ani: string, dnis: string, leg: CallLeg, phase: Phase): LiveCall {
  return {
    callId,
    ani,
    dnis,
    leg,
    agentLeg: undefined,
    phase,
    customerId: undefined,
    verified: false,
    ivrPath: [],
    attached: {},
    queueId: undefined,
    queuedAtMs: undefined,
    agentId: undefined,
    callerGone: false,
    fallbackReason: undefined,
    fallbackPlace: undefined,
    createdAtMs: 0,
  };
}

export interface CallFlowDeps {
  config: SiteConfig;
  flow: Flow;
  scheduler: Scheduler;
  media: MediaPort;
  bank: BankHost;
  directory: CustomerDirectory;
  store: StoreContext;
  jobs: JobScheduler;
  writes: DurableWrites;
  /** Callers refused before the site took the call, recorded in batches (refusal-log.ts). */
  refusals: RefusalLog;
  tally: SiteTally;
  log: Logger;
}

export class CallFlow {
  private readonly calls = new Map<string, LiveCall>();
  private readonly wrapupCodes = new Map<string, string>();
  /** Agent -> the call it is wrapping up, finalised when wrap-up ends. */
  private readonly wrapping = new Map<string, string>();
  private ivrSessions = 0;
  private accepting = true;
  engine!: AcdEngine;
  desk!: SiteDesk;
  /** The overflow adapters, when the site is federated (site.ts). */
  overflow: CallFlowOverflowHooks | undefined;
  /** Callbacks keeping callers' places (callback-flow.ts). */
  readonly callbacks: CallbackFlow;

  constructor(private readonly d: CallFlowDeps) {
    const engine = (): AcdEngine => this.engine;
    this.callbacks = new CallbackFlow(
      { config: d.config, scheduler: d.scheduler, media: d.media, store: d.store, jobs: d.jobs, log: d.log },
      {
        // The engine is wired after construction (site.ts); read it when used.
        get engine() {
          return engine();
        },
        tally: () => this.tally,
        write: (label, fn) => this.write(label, fn),
        commit: (label, fn) => this.commit(label, fn, this.storeSettings.recordWaitMs),
        caller: (callId) => {
          const c = this.calls.get(callId);
          return c && !c.callerGone ? c : undefined;
        },
        adopt: (c) => {
          const call = liveCall(c.callId, c.ani, 'callback', c.leg, 'queued');
          Object.assign(call, {
            customerId: c.customerId,
            attached: c.attached,
            queueId: c.queueId,
            queuedAtMs: c.queuedAtMs,
          });
          this.calls.set(c.callId, call);
        },
        hungUp: (leg) => this.onFarEndHangup(leg),
        trunk: () => (!this.accepting ? 'stopping' : this.calls.size < d.config.trunks ? 'free' : 'busy'),
        storedLeg: (leg, atMs) => this.storedLeg(leg, atMs),
      },
    );
  }

  /** The day's tally, a new one once the site's day has turned (every count goes through here). */
  private get tally(): SiteTally {
    return rollDay(this.d.tally, this.d.scheduler.now(), this.d.config.utcOffsetMs);
  }

  get liveCalls(): number {
    return this.calls.size;
  }

  get activeIvrSessions(): number {
    return this.ivrSessions;
  }

  /**
   * Why this site cannot take a call moved in from another site now (null: it can): the same
   * gates as a new inbound call's, trunks aside (the target counts those with its promises).
   */
  get movedInRefusal(): 'site-stopping' | 'store-backlog' | null {
    if (!this.accepting) return 'site-stopping';
    return this.d.writes.admissionOpen ? null : 'store-backlog';
  }

  /** Refuse new calls from now on (first step of shutdown). */
  refuseNewCalls(): void {
    this.accepting = false;
  }

  /**
   * Release every call still up, recording why (last step before the store closes). A call in
   * `leaveOpen` (its commit went to another site: overflow-origin.ts) is let go without an end:
   * only the target's word may end it, which the next start asks for (docs/architecture.md §5.9).
   */
  async releaseAll(reason: string, leaveOpen: ReadonlySet<string> = new Set()): Promise<void> {
    for (const call of [...this.calls.values()]) {
      await this.d.media.hangup(call.leg).catch(() => {});
      if (leaveOpen.has(call.callId)) {
        this.calls.delete(call.callId);
        this.d.log.warn('call in transit to another site left open at stop; the next start settles it', {
          callId: call.callId,
        });
        continue;
      }
      // A call in wrap-up was served; only the agent's after-call work is cut short.
      if (call.phase === 'wrapup') {
        this.finish(call, {
          callId: call.callId,
          state: 'ended',
          reason: 'completed',
          ...(call.agentId ? { cdr: { agentId: call.agentId } } : {}),
        });
      } else this.finish(call, { callId: call.callId, state: 'failed', reason });
    }
  }

  noteWrapupCode(callId: string, code: string): void {
    this.wrapupCodes.set(callId, code);
  }

  /** A live call's agent and the customer its caller was identified as (for a PIN unlock). */
  callFacts(callId: string): { agentId?: string; customerId?: string } | undefined {
    const call = this.calls.get(callId);
    if (!call) return undefined;
    return {
      ...(call.agentId ? { agentId: call.agentId } : {}),
      ...(call.customerId ? { customerId: call.customerId } : {}),
    };
  }

  // ---------------------------------------------------------------------------------------
  // Moves between sites (overflow-origin.ts, overflow-target.ts)

  /** A live call waiting in a queue, as a move needs it; undefined if it is not live here. */
  movedCall(callId: string): MovableCallData | undefined {
    const c = this.calls.get(callId);
    if (!c) return undefined;
    return {
      callId: c.callId,
      ani: c.ani,
      dnis: c.dnis,
      leg: c.leg,
      customerId: c.customerId,
      ivrPath: c.ivrPath,
      attached: c.attached,
      createdAtMs: c.createdAtMs,
      callerGone: c.callerGone,
      callbackPending: this.callbacks.joinRequest(callId) !== undefined,
    };
  }

  /**
   * A call admitted from another site becomes a live call here, queued with its data, before
   * the ACD admits it (the ACD may offer it at once): offer, connect, abandon and end then work
   * as for any call. It holds a trunk like any call; it is not counted offered or queued again
   * (the origin counted it, tally.ts).
   */
  adoptMovedIn(m: MovedInCall): void {
    const call = liveCall(m.callId, m.ani, m.dnis, m.leg, 'queued');
    m.leg.callId = m.callId;
    Object.assign(call, {
      customerId: m.customerId,
      ivrPath: m.ivrPath,
      attached: m.attached,
      queueId: m.queueId,
      queuedAtMs: m.queuedAtMs,
      createdAtMs: this.d.scheduler.now(),
    });
    this.calls.set(m.callId, call);
  }

  /**
   * Trunks not held by a call now, as an inbound call finds them (`onInbound`): what a target
   * may still promise to calls moved in from other sites (overflow-target.ts).
   */
  get trunksFree(): number {
    return Math.max(0, this.d.config.trunks - this.calls.size);
  }

  /** Forget an adopted call the ACD did not admit (its record is ended by the caller). */
  dropMovedIn(callId: string): void {
    this.calls.delete(callId);
  }

  /** The caller's leg of a moved-in call arrived (it was a stand-in until now). */
  attachLeg(callId: string, leg: CallLeg): boolean {
    const c = this.calls.get(callId);
    if (!c || c.callerGone) return false;
    leg.callId = callId;
    c.leg = leg;
    if (c.phase === 'queued') void this.d.media.hold(leg);
    return true;
  }

  /** The origin says the caller of a moved-in call hung up there: as a hang-up here. */
  callerLeftElsewhere(callId: string): void {
    const c = this.calls.get(callId);
    if (!c || c.callerGone) return;
    void this.d.media.hangup(c.leg).catch(() => {});
    this.onFarEndHangup(c.leg);
  }

  // ---------------------------------------------------------------------------------------
  // Inbound

  async onInbound(ani: string, dnis: string, leg: CallLeg): Promise<void> {
    const { config, media } = this.d;
    this.tally.offered++;
    if (!this.accepting || this.calls.size >= config.trunks || !this.d.writes.admissionOpen) {
      const reason = !this.accepting
        ? 'site-stopping'
        : this.calls.size >= config.trunks
          ? 'no-trunk'
          : 'store-backlog';
      this.refuse(ani, dnis, leg, reason);
      return;
    }
    const now = this.d.scheduler.now();
    const callId = newCallId(config.siteId, now);
    leg.callId = callId;
    const call = liveCall(callId, ani, dnis, leg, 'ivr');
    call.createdAtMs = now;
    // Holds its trunk while its first row is written.
    this.calls.set(callId, call);
    // Committed before the call is admitted: a crash after this point leaves a row that
    // recovery closes; one before it leaves a caller who heard ringing and can call again.
    const created = await this.commit(
      `create ${callId}`,
      (s) => createCall(s, { callId, ani, dnis, legs: [this.storedLeg(leg, now)] }),
      this.storeSettings.firstRowWaitMs,
      now,
    );
    // A stop may have released the call meanwhile (releaseAll hung up its leg and queued its
    // end): it is no longer this flow's to answer, nor to refuse.
    if (this.calls.get(callId) !== call) return;
    if (created !== 'written') {
      this.calls.delete(callId);
      this.refuse(ani, dnis, leg, 'store-down', callId);
      return;
    }
    if (call.callerGone) {
      this.finish(call, { callId, state: 'ended', reason: 'caller-hangup-in-ivr' });
      return;
    }
    if (this.ivrSessions >= config.ivrPorts) {
      this.tally.blockedNoIvrPort++;
      void this.announceAndRelease(call, 'acd.all-ports-busy', { state: 'failed', reason: 'no-ivr-port' });
      return;
    }
    void media.answer(leg).then(() => this.runIvr(call));
  }

  /**
   * A caller turned away before the site took the call: busy (or unavailable while stopping),
   * counted as offered and blocked. No call row exists for it; the `call.refused` event keeps
   * the day's counts across a restart, and is buffered like any write while the store is away.
   */
  private refuse(ani: string, dnis: string, leg: CallLeg, reason: RefusalReason, callId?: string): void {
    this.tally.blockedNoTrunk++;
    void this.d.media.reject(leg, reason === 'site-stopping' ? 'unavailable' : 'busy');
    // Trunks full is the ordinary busy signal; a refusal because of the store is an incident.
    if (reason === 'store-backlog' || reason === 'store-down')
      this.d.log.warn('call refused with busy: the store cannot take its writes', {
        ani,
        ...(callId ? { callId } : {}),
        reason,
        buffered: this.d.writes.depth,
        storeUp: this.d.writes.storeUp,
      });
    this.d.refusals.add({
      ani,
      dnis,
      reason,
      ...(callId ? { callId } : {}),
      atMs: this.engine.stepNowMs ?? this.d.scheduler.now(),
    });
  }

  private get storeSettings() {
    return this.d.config.store ?? DEFAULT_STORE_WRITES;
  }

  private async runIvr(call: LiveCall): Promise<void> {
    const d = this.d;
    this.ivrSessions++;
    let result;
    try {
      result = await runIvrSession({
        flow: d.flow,
        sessionId: call.callId,
        callId: call.callId,
        ani: call.ani,
        dnis: call.dnis,
        host: d.bank,
        channel: this.channel(call),
        tickets: { createTicket: (t) => this.ivrTicket(call, t) },
        callbacks: { scheduleCallback: (c) => this.ivrCallback(call, c) },
        directory: d.directory,
        scheduler: d.scheduler,
        bankTimeoutMs: d.config.ivr.bankTimeoutMs,
        logger: d.log,
      });
    } catch (e) {
      d.log.error('ivr session failed', { callId: call.callId, err: e });
      this.finish(call, { callId: call.callId, state: 'failed', reason: 'ivr-error' });
      return;
    } finally {
      this.ivrSessions--;
    }
    call.ivrPath = result.state.path;
    if (result.outcome.type === 'ended') {
      if (!call.callerGone) await d.media.hangup(call.leg).catch(() => {});
      this.tally.selfService++;
      this.finish(call, { callId: call.callId, state: 'ended', reason: `ivr:${result.outcome.reason}` });
      return;
    }
    if (call.callerGone) {
      this.finish(call, { callId: call.callId, state: 'ended', reason: 'caller-hangup-in-ivr' });
      return;
    }
    this.enqueue(call, result.outcome.queueId, result.outcome.priority, result.outcome.attached);
  }

  private channel(call: LiveCall): CallerChannel {
    const { media } = this.d;
    return {
      play: (promptId, vars) => media.play(call.leg, promptId, vars),
      collectDigits: async (opts) => {
        const r = await media.collectDigits(call.leg, opts);
        if (r === 'hung-up') call.callerGone = true;
        return r;
      },
      hangup: async () => {
        await media.hangup(call.leg);
      },
    };
  }

  /**
   * A ticket the caller is told about (`awaited`) is told only after it is recorded: it goes
   * through the durable writes (in order behind the call's other writes) and this waits for its
   * commit, at most `store.recordWait`, so a short blip still succeeds. Throws if it did not
   * commit; the write is then withdrawn and never lands, and the IVR plays its apology.
   * A ticket nobody is told about (a security lock, a card-loss follow-up) is buffered and
   * retried like any other fact.
   *
   * Each is keyed by the IVR's id for it, so a write run again after its ticket committed finds
   * that ticket (jobs.ts). The bound covers the ticket's own transaction only: the caller is
   * told once it committed, and its job is armed after, as a write of its own (the restart
   * sweep arms any the site could not).
   */
  private async ivrTicket(call: LiveCall, t: TicketRequest): Promise<void> {
    let ticket: TicketRecord | undefined;
    const open = async () => {
      ticket = await this.d.jobs.recordTicket({
        kind: t.kind,
        callId: call.callId,
        slaMs: t.slaMinutes * 60_000,
        data: { ...t.data, ivrTicketId: t.ticketId },
        idempotencyKey: `ivr-ticket:${t.ticketId}`,
        ...(typeof t.data.customerId === 'string' ? { customerId: t.data.customerId } : {}),
      });
      this.arm(ticket);
    };
    if (t.awaited) {
      const outcome = await this.commit(`ticket ${t.ticketId}`, open, this.storeSettings.recordWaitMs);
      if (outcome !== 'written') throw notRecorded('ticket', t.ticketId, outcome);
    } else void this.d.writes.push(`ticket ${t.ticketId}`, open);
    this.tally.ticketsOpened++;
    if (t.kind === 'card-loss') this.tally.cardLossReports++;
  }

  private async ivrCallback(call: LiveCall, c: CallbackRequest): Promise<void> {
    const atMs = this.d.scheduler.now() + c.slaMinutes * 60_000;
    let ticket: TicketRecord | undefined;
    const outcome = await this.commit(
      `callback ${c.callbackId}`,
      async () => {
        ticket = await this.d.jobs.recordCallback({
          phone: c.phone,
          atMs,
          callId: call.callId,
          queueId: c.queueId,
          data: { ...c.data, ivrCallbackId: c.callbackId },
          idempotencyKey: `ivr-callback:${c.callbackId}`,
          ...(typeof c.data.customerId === 'string' ? { customerId: c.data.customerId } : {}),
        });
      },
      this.storeSettings.recordWaitMs,
    );
    if (outcome !== 'written' || !ticket) throw notRecorded('callback', c.callbackId, outcome);
    this.arm(ticket);
    this.tally.callbacksScheduled++;
    this.tally.ticketsOpened++;
    this.callbacks.track(ticket);
  }

  /** A committed ticket's jobs, armed behind it as a write of its own (retried while the store is away). */
  private arm(ticket: TicketRecord): void {
    void this.d.writes.push(`arm ${ticket.ticketId}`, () => this.d.jobs.arm(ticket.ticketId));
  }

  private enqueue(call: LiveCall, queueId: string, priority: number, attached: IvrAttached): void {
    const flat: Record<string, string> = {
      intent: attached.intent,
      verified: String(attached.verified),
      ivrPath: attached.ivrPath.join('>'),
      ...(attached.customerId ? { customerId: attached.customerId } : {}),
      ...(attached.segment ? { segment: attached.segment } : {}),
      ...(attached.language ? { language: attached.language } : {}),
      ...(attached.cardLast4 ? { cardLast4: attached.cardLast4 } : {}),
    };
    call.customerId = attached.customerId;
    call.verified = attached.verified;
    call.attached = flat;
    call.queueId = queueId;
    call.phase = 'queued';
    call.queuedAtMs = this.d.scheduler.now();
    this.tally.queued++;
    this.write(`queue ${call.callId}`, (s) =>
      transition(s, {
        callId: call.callId,
        from: 'ivr',
        to: 'queued',
        event: 'ivr-transfer',
        patch: {
          queueId,
          priority,
          attached: flat,
          verified: attached.verified,
          ivrPath: attached.ivrPath,
          ...(attached.customerId ? { customerId: attached.customerId } : {}),
        },
      }),
    );
    try {
      this.engine.dispatch({ type: 'call-arrived', callId: call.callId, queueId, priority, attached: flat });
    } catch (e) {
      this.d.log.error('acd refused a call', { callId: call.callId, queueId, err: e });
      void this.announceAndRelease(call, 'acd.technical-difficulty', {
        state: 'failed',
        reason: 'acd-refused',
      });
    }
  }

  /** The far end of a leg hung up (a caller abandoning, or leaving after the agent). */
  onFarEndHangup(leg: CallLeg): void {
    const call = this.calls.get(leg.callId);
    if (!call) return;
    call.callerGone = true;
    if (call.phase === 'ivr') return; // the IVR session sees 'hung-up' and finishes the call
    if (call.phase === 'wrapup') return;
    // Before the ACD hears it: a request in flight is cancelled, a call in transit says so.
    if (call.phase === 'queued') this.overflow?.callerLeft(call.callId);
    try {
      this.engine.dispatch({ type: 'caller-hung-up', callId: call.callId });
    } catch (e) {
      this.d.log.warn('acd rejected a caller hangup', { callId: call.callId, err: e });
    }
  }

  // ---------------------------------------------------------------------------------------
  // ACD commands

  onAcdCommand(cmd: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>): void {
    if (this.callbacks.onAcdCommand(cmd)) return;
    switch (cmd.type) {
      case 'call-taken':
      case 'call-not-waiting':
        this.overflow?.acdAnswer(cmd);
        return;
      case 'call-queued': {
        const call = this.calls.get(cmd.callId);
        if (call && !call.callerGone) void this.d.media.hold(call.leg);
        return;
      }
      case 'offer-call':
        return this.offer(cmd.callId, cmd.agentId, cmd.queueId, cmd.answerByMs);
      case 'withdraw-offer': {
        this.desk.emit(cmd.agentId, { type: 'offer-withdrawn', callId: cmd.callId, reason: cmd.reason });
        const call = this.calls.get(cmd.callId);
        // Both send the call back to its place in the queue (the agent's desk lapsed, or it rang out).
        if (call && (cmd.reason === 'ring-no-answer' || cmd.reason === 'lease-lapsed')) {
          call.phase = 'queued';
          call.agentId = undefined;
          this.write(`requeue ${cmd.callId}`, (s) =>
            transition(s, {
              callId: cmd.callId,
              from: 'offered',
              to: 'queued',
              event: cmd.reason,
              detail: { agentId: cmd.agentId },
              patch: { agentId: null },
            }),
          );
        }
        return;
      }
      case 'call-connected':
        return this.connect(cmd.callId, cmd.agentId, cmd.waitMs);
      case 'call-transferred': {
        const call = this.calls.get(cmd.callId);
        if (!call) return;
        // The transferring agent's leg drops; the caller waits in the new queue.
        if (call.agentLeg) void this.d.media.hangup(call.agentLeg);
        call.agentLeg = undefined;
        call.phase = 'queued';
        call.queueId = cmd.toQueueId;
        call.queuedAtMs = this.d.scheduler.now();
        this.write(`transfer ${cmd.callId}`, (s) =>
          transition(s, {
            callId: cmd.callId,
            from: 'connected',
            to: 'queued',
            event: 'agent-transfer',
            detail: { fromQueueId: cmd.fromQueueId, agentId: cmd.agentId },
            patch: { queueId: cmd.toQueueId, agentId: null },
          }),
        );
        return;
      }
      case 'call-fallback':
        return this.fallback(cmd);
      case 'call-ended':
        return this.ended(cmd);
      case 'agent-state-changed':
        return this.agentStateChanged(cmd);
    }
  }

  private offer(callId: string, agentId: string, queueId: string, answerByMs: number): void {
    const call = this.calls.get(callId);
    if (!call) return;
    call.phase = 'offered';
    call.agentId = agentId;
    this.write(`offer ${callId}`, (s) =>
      transition(s, { callId, from: 'queued', to: 'offered', event: 'offer', patch: { agentId } }),
    );
    void this.screenPop(call, agentId, queueId, answerByMs).then((pop) => {
      // The offer may have been withdrawn while the profile was looked up.
      if (this.engine.call(callId)?.agentId !== agentId) return;
      this.desk.emit(agentId, { type: 'offer', pop });
    });
  }

  private async screenPop(
    call: LiveCall,
    agentId: string,
    queueId: string,
    answerByMs: number,
  ): Promise<ScreenPop> {
    const { directory, log } = this.d;
    let customer;
    let recentContacts: ScreenPop['recentContacts'] = [];
    // Asked alongside the profile, so the pop waits for the slower of the two, not both.
    const pinLock = call.customerId ? this.pinLockedUntil(call.customerId, call.callId) : undefined;
    if (call.customerId) {
      try {
        customer = await directory.byId(call.customerId, {
          reason: 'agent-screen-pop',
          callId: call.callId,
          agentId,
        });
        recentContacts = await directory.recentContacts(call.customerId, 5);
      } catch (e) {
        // A screen pop without history beats no offer at all.
        log.warn('screen pop lookup failed', { callId: call.callId, err: e });
      }
    }
    const pinLockedUntilMs = await pinLock;
    return {
      callId: call.callId,
      queueId,
      ani: call.ani,
      dnis: call.dnis,
      offeredAtMs: this.d.scheduler.now(),
      answerByMs,
      ...(customer ? { customer } : {}),
      verified: call.verified,
      ivrPath: call.ivrPath,
      attached: call.attached,
      recentContacts,
      ...(pinLockedUntilMs === undefined ? {} : { pinLockedUntilMs }),
    };
  }

  /** Until when the customer's PIN is locked at the bank host; undefined if not, or the host cannot say. */
  private async pinLockedUntil(customerId: string, callId: string): Promise<number | undefined> {
    try {
      const st = await this.d.bank.pinLockStatus(customerId);
      return st.locked ? st.lockedUntilMs : undefined;
    } catch (e) {
      // The offer goes out without it; the agent can still unlock (the host answers then).
      this.d.log.warn('screen pop: PIN lock status unavailable', { callId, customerId, err: e });
      return undefined;
    }
  }

  private connect(callId: string, agentId: string, waitMs: number): void {
    const call = this.calls.get(callId);
    if (!call) return;
    call.phase = 'connected';
    recordAnswer(this.tally, waitMs, this.d.config.acd.serviceLevel.thresholdMs);
    // Recorded at the answer (the ACD's time), not when the media is bridged: the stats
    // rebuilt from this event must place the answer where the live window did.
    const answeredAtMs = this.engine.stepNowMs ?? this.d.scheduler.now();
    void this.d.media.bridgeToAgent(call.leg, agentId).then((agentLeg) => {
      call.agentLeg = agentLeg;
      const now = this.d.scheduler.now();
      this.write(
        `connect ${callId}`,
        (s) =>
          transition(s, {
            callId,
            from: 'offered',
            to: 'connected',
            event: 'answer',
            detail: { agentId, waitMs },
            patch: { legs: [this.storedLeg(call.leg, now), this.storedLeg(agentLeg, now)] },
          }),
        answeredAtMs,
      );
    });
  }

  private fallback(cmd: Extract<AcdCommand, { type: 'call-fallback' }>): void {
    const call = this.calls.get(cmd.callId);
    if (!call) return;
    const a = cmd.action;
    if (a.kind === 'overflow-queue') {
      call.queueId = a.queueId;
      this.write(`overflow ${cmd.callId}`, (s) =>
        updateCallData(s, cmd.callId, {
          queueId: a.queueId,
          // The reason tells the rebuilt window a time-out from a refusal on entry.
          attached: { overflowFrom: cmd.queueId, overflowReason: cmd.reason },
        }),
      );
      return;
    }
    this.tally.fallbacks++;
    call.fallbackReason = cmd.reason;
    call.fallbackPlace = { priority: cmd.priority, enqueueMs: cmd.enqueueMs };
    // The terminal record is written on the call-ended that follows; here the caller is told,
    // except of a callback, which the caller hears about once it is committed (ended()).
    if (call.callerGone || a.kind === 'callback-offer') return;
    const prompt = a.kind === 'announcement' ? `acd.${a.announcement}` : 'acd.leave-message';
    void this.d.media.play(call.leg, prompt).finally(() => void this.d.media.hangup(call.leg));
  }

  private ended(cmd: Extract<AcdCommand, { type: 'call-ended' }>): void {
    const call = this.calls.get(cmd.callId);
    if (!call) return;
    this.overflow?.callEnded(cmd.callId);
    const base = { callId: cmd.callId };
    // The ACD's reason for a fallback, for the window rebuilt from this record (stats-rebuild.ts).
    const why = call.fallbackReason ? { detail: { fallbackReason: call.fallbackReason } } : {};
    switch (cmd.outcome) {
      case 'completed': {
        if (!call.callerGone) void this.d.media.hangup(call.leg);
        if (call.agentLeg) void this.d.media.hangup(call.agentLeg);
        if (!cmd.agentId) {
          this.finish(call, { ...base, state: 'ended', reason: 'completed' });
          return;
        }
        call.phase = 'wrapup';
        this.wrapping.set(cmd.agentId, cmd.callId);
        this.write(`wrapup ${cmd.callId}`, (s) =>
          transition(s, {
            callId: cmd.callId,
            from: 'connected',
            to: 'wrapup',
            event: call.callerGone ? 'caller-hangup' : 'agent-hangup',
          }),
        );
        return;
      }
      case 'abandoned-queued':
      case 'abandoned-ringing':
        this.tally.abandoned++;
        this.finish(call, { ...base, state: 'abandoned', reason: cmd.outcome });
        return;
      case 'fallback-announcement':
        this.finish(call, {
          ...base,
          state: 'ended',
          reason: 'fallback:announcement',
          ...why,
          cdr: { outcome: 'failed' },
        });
        return;
      case 'fallback-callback-offer':
        void this.fallbackCallback(call, cmd.queueId, why);
        return;
      case 'callback-requested':
        // The caller asked to be called back while waiting: a virtual call has the place, and the
        // callback flow tells the caller and hangs up.
        this.finish(call, { ...base, state: 'callback-scheduled', reason: 'callback-requested' });
        return;
      case 'callback-failed':
        return; // a virtual call: callback-flow.ts ends its record
      case 'overflowed': {
        // Another site admitted it (overflow-origin.ts handed the caller over): the record ends
        // `overflowed` naming the target and the token, and only so. Not abandoned, not
        // answered here: the province counts it once, where it is answered or lost.
        const to = { toSiteId: cmd.toSiteId ?? '', token: cmd.token ?? '' };
        this.calls.delete(call.callId);
        this.write(`overflowed ${call.callId}`, (s) => endOverflowed(s, { callId: call.callId, ...to }));
        return;
      }
      case 'fallback-leave-message':
        this.tally.ticketsOpened++;
        this.finish(
          call,
          { ...base, state: 'ended', reason: 'fallback:leave-message', ...why, cdr: { outcome: 'callback' } },
          () =>
            this.d.jobs.openTicket({
              kind: 'leave-message',
              callId: call.callId,
              slaMs: 24 * 3_600_000,
              ...(call.customerId ? { customerId: call.customerId } : {}),
              data: { queueId: cmd.queueId, ani: call.ani },
              // Retried by the durable writes: a second try finds the message left the first time.
              idempotencyKey: `leave-message:${call.callId}`,
            }),
        );
        return;
    }
  }

  /**
   * The ACD turned the caller away (queue full, waited too long) with a callback: the request
   * is committed first, and takes the caller's place in the queue at once (callback-flow.ts);
   * only then does the caller hear that they will be called back. If the store cannot take it
   * in time the caller hears the apology instead, and the call ends as a plain fallback.
   */
  private async fallbackCallback(
    call: LiveCall,
    queueId: string,
    why: Pick<EndCallRequest, 'detail'>,
  ): Promise<void> {
    // The caller had pressed the callback key and that request is still being committed: it is
    // the callback (the callback flow places it); a second would dial the customer twice.
    const pressed = await this.callbacks.joinRequest(call.callId);
    const recorded = pressed !== undefined || (await this.bookFallbackCallback(call, queueId));
    if (!call.callerGone) {
      await this.d.media
        .play(call.leg, recorded ? 'acd.callback-offered' : 'callback.not_scheduled')
        .catch(() => {});
      await this.d.media.hangup(call.leg).catch(() => {});
    }
    this.finish(
      call,
      recorded
        ? { callId: call.callId, state: 'callback-scheduled', reason: 'fallback:callback', ...why }
        : {
            callId: call.callId,
            state: 'ended',
            reason: 'fallback:callback-not-recorded',
            ...why,
            cdr: { outcome: 'failed' },
          },
    );
  }

  /**
   * Commit the fallback's callback request at the caller's place in the queue (priority and
   * enqueue time from the ACD's call-fallback), and hand it to the callback flow. False if the
   * store did not take it within `store.recordWait`.
   */
  private async bookFallbackCallback(call: LiveCall, queueId: string): Promise<boolean> {
    const place = call.fallbackPlace;
    let ticket: TicketRecord | undefined;
    const outcome = await this.commit(
      `callback for ${call.callId}`,
      async () => {
        // The request only, keyed by the call (`callback:<callId>`, the key press's key too, so
        // neither a retried write nor a key press racing the fallback makes a second request);
        // its job is armed behind it.
        ticket = await this.d.jobs.recordCallback({
          phone: call.ani,
          atMs: place?.enqueueMs ?? call.queuedAtMs ?? this.d.scheduler.now(),
          callId: call.callId,
          queueId,
          ...(call.customerId ? { customerId: call.customerId } : {}),
          data: {
            reason: call.fallbackReason === 'max-wait' ? 'long-wait' : 'queue-full',
            attached: call.attached,
            ...(place ? { priority: place.priority } : {}),
          },
        });
      },
      this.storeSettings.recordWaitMs,
    );
    if (outcome !== 'written' || !ticket) {
      this.d.log.error('fallback callback not recorded; the caller is told so', {
        callId: call.callId,
        queueId,
        outcome,
      });
      return false;
    }
    this.arm(ticket);
    this.tally.callbacksScheduled++;
    this.tally.ticketsOpened++;
    this.callbacks.track(ticket);
    return true;
  }

  private agentStateChanged(cmd: Extract<AcdCommand, { type: 'agent-state-changed' }>): void {
    const { agentId, from, to } = cmd;
    if (from === 'logged-out') this.write(`login ${agentId}`, (s) => loginAgent(s, agentId));
    else if (to === 'logged-out') {
      // A forced logout (the desk's lease expired) says so in the session and the history.
      this.write(`logout ${agentId}`, (s) => logoutAgent(s, agentId, cmd.reason));
    }
    if (from !== 'logged-out' && to !== 'logged-out') {
      this.write(`agent ${agentId} ${to}`, (s) =>
        setAgentState(s, {
          agentId,
          to,
          ...(cmd.reason ? { reason: cmd.reason } : {}),
          ...(cmd.callId ? { callId: cmd.callId } : {}),
        }),
      );
    }
    // Wrap-up is over (completed by the agent or by its timer): the call's record closes.
    const wrapped = this.wrapping.get(agentId);
    if (wrapped && to !== 'wrap-up' && to !== 'on-call') {
      this.wrapping.delete(agentId);
      const call = this.calls.get(wrapped);
      const code = this.wrapupCodes.get(wrapped);
      this.wrapupCodes.delete(wrapped);
      if (call) {
        this.finish(call, {
          callId: wrapped,
          state: 'ended',
          reason: 'completed',
          cdr: { agentId, ...(code ? { wrapupCode: code } : {}) },
        });
      }
    }
    const view = this.engine.agent(agentId);
    if (view) this.desk.emit(agentId, { type: 'state', agent: { ...view } });
  }

  // ---------------------------------------------------------------------------------------

  private async announceAndRelease(
    call: LiveCall,
    promptId: string,
    end: Omit<EndCallRequest, 'callId'>,
  ): Promise<void> {
    await this.d.media.play(call.leg, promptId).catch(() => {});
    await this.d.media.hangup(call.leg).catch(() => {});
    this.finish(call, { callId: call.callId, ...end });
  }

  /**
   * The call leaves the site's live set; its terminal record (and any follow-up: a callback
   * job, a ticket) is written in order behind everything else about it. The follow-up is a
   * write of its own, before the end: each is retried on its own while the store is away, so
   * the end landing on a retry does not open the ticket twice.
   */
  private finish(call: LiveCall, req: EndCallRequest, followUp?: () => Promise<unknown>): void {
    if (!this.calls.delete(call.callId)) return;
    if (followUp) void this.d.writes.push(`follow-up ${call.callId}`, followUp);
    this.write(`end ${call.callId}`, (s) => endCall(s, req));
  }

  /**
   * Queue a store write. The write runs later, in order behind the others; it records the time
   * the fact happened (now, or `at` when the fact was earlier), not the time the database got to it: a call's wait is its own,
   * not the store's latency (which a sped-up simulation would multiply).
   */
  private write(
    label: string,
    fn: (store: StoreContext) => Promise<unknown>,
    at = this.engine.stepNowMs ?? this.d.scheduler.now(),
  ): void {
    const store: StoreContext = { ...this.d.store, clock: { now: () => at } };
    void this.d.writes.push(label, () => fn(store));
  }

  /** A write someone is about to be told about: see DurableWrites.commit. */
  private commit(
    label: string,
    fn: (store: StoreContext) => Promise<unknown>,
    waitMs: number,
    at = this.engine.stepNowMs ?? this.d.scheduler.now(),
  ): Promise<WriteOutcome> {
    const store: StoreContext = { ...this.d.store, clock: { now: () => at } };
    return this.d.writes.commit(label, () => fn(store), waitMs);
  }

  private storedLeg(leg: CallLeg, atMs: number): StoredLeg {
    const ep = leg.endpoint;
    return {
      legId: leg.legId,
      role: leg.role,
      siteId: this.d.config.siteId,
      signalling: ep.transport === 'sim' ? `sim:${ep.id}` : `rtp:${ep.host}:${ep.port}`,
      ...(ep.transport === 'rtp' ? { media: { address: ep.host, port: ep.port, codec: ep.codec } } : {}),
      startedAtMs: atMs,
    };
  }
}
