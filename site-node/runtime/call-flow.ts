/**
 * How a call moves through a site: trunk and IVR-port admission, the IVR session, the
 * queue, the agent, the end. This is the adapter layer of docs/architecture.md §3.1: decisions come
 * from the pure cores (the IVR runner, the ACD), and the call flow carries out their commands
 * against the media port, the agent desks and the store.
 *
 * This class is the thin composition the rest of the site uses; each job is a module of its own:
 * - call-admission.ts: the trunk, store and IVR-port gates, and the call's first row;
 * - call-ivr.ts: the IVR session, its tickets and callbacks, the transfer into a queue;
 * - call-acd-commands.ts: the ACD's commands (offer, connect, requeue, transfer, agent states);
 * - call-endings.ts: fallbacks, the ACD's endings, the end of wrap-up;
 * - screen-pop.ts: what an offered agent sees;
 * - call-overflow-hooks.ts: what moves to and from other sites read and hand back (§5.9);
 * - call-phase.ts: the live call's phase, changed only through its guarded table;
 * - call-recording.ts: which calls the flow records, and their recordings in the store;
 * - call-context.ts: the live calls and the ordered store writes they share.
 *
 * Two facts are committed before anyone is told (docs/architecture.md §7.1): a call's first
 * row before the call is admitted (or the caller hears busy), and a ticket or callback request
 * before the caller hears it is recorded (or the caller hears an apology).
 * Callbacks, which keep a caller's place in the queue, are callback-flow.ts. Moves to and from
 * other sites (docs/architecture.md §5.9) are overflow-origin.ts and overflow-target.ts: the
 * call flow only gives them a few hooks (`overflow`, `movedCall`, `adoptMovedIn`, ...) and ends
 * a call the ACD says has moved as `overflowed` (nothing else ends it).
 */
import type { AcdCommand } from '../acd/index.js';
import type { CallLeg } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import { CallAcdCommands } from './call-acd-commands.js';
import { CallAdmission } from './call-admission.js';
import { CallContext, type CallFlowDeps } from './call-context.js';
import { CallEndings } from './call-endings.js';
import { CallIvr } from './call-ivr.js';
import { CallRecordings } from './call-recording.js';
import {
  CallMoves,
  type CallFlowOverflowHooks,
  type MovableCallData,
  type MovedInCall,
} from './call-overflow-hooks.js';
import { CallbackFlow } from './callback-flow.js';
import { liveCall } from './live-call.js';
import type { SiteDesk } from './site-desk.js';

export type { CallFlowDeps } from './call-context.js';
export type { CallFlowOverflowHooks, MovableCallData, MovedInCall } from './call-overflow-hooks.js';

export class CallFlow {
  private readonly ctx: CallContext;
  private readonly admission: CallAdmission;
  private readonly ivr: CallIvr;
  private readonly endings: CallEndings;
  private readonly commands: CallAcdCommands;
  private readonly moves: CallMoves;
  /** Callbacks keeping callers' places (callback-flow.ts). */
  readonly callbacks: CallbackFlow;

  constructor(d: CallFlowDeps) {
    const ctx = new CallContext(d);
    this.ctx = ctx;
    this.ivr = new CallIvr(ctx);
    this.admission = new CallAdmission(ctx, this.ivr);
    this.endings = new CallEndings(ctx);
    this.commands = new CallAcdCommands(ctx, this.endings);
    this.moves = new CallMoves(ctx, (leg) => this.onFarEndHangup(leg));
    this.callbacks = new CallbackFlow(
      { config: d.config, scheduler: d.scheduler, media: d.media, store: d.store, jobs: d.jobs, log: d.log },
      {
        // The engine is wired after construction (site.ts); read it when used.
        get engine() {
          return ctx.engine;
        },
        tally: () => ctx.tally,
        write: (key, label, fn) => ctx.write(key, label, fn),
        commit: (key, label, fn) => ctx.commit(key, label, fn, ctx.storeSettings.recordWaitMs),
        caller: (callId) => {
          const c = ctx.calls.get(callId);
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
          ctx.calls.set(c.callId, call);
          // The customer joins the callback's queue now, with a leg: recorded from here when the
          // flow records that queue (settings.recordQueues), as a caller joining it from the IVR.
          // Without this a callback in `complaints` was never recorded.
          ctx.recordings.queueJoined(call, c.queueId);
        },
        hungUp: (leg) => this.onFarEndHangup(leg),
        trunk: () => this.admission.trunk(),
        storedLeg: (leg, atMs) => ctx.storedLeg(leg, atMs),
      },
    );
    ctx.callbacks = this.callbacks;
    ctx.recordings = new CallRecordings(ctx);
  }

  // Wired after construction (site.ts).
  get engine(): AcdEngine {
    return this.ctx.engine;
  }
  set engine(e: AcdEngine) {
    this.ctx.engine = e;
  }
  get desk(): SiteDesk {
    return this.ctx.desk;
  }
  set desk(desk: SiteDesk) {
    this.ctx.desk = desk;
  }
  /** The overflow adapters, when the site is federated (site.ts). */
  get overflow(): CallFlowOverflowHooks | undefined {
    return this.ctx.overflow;
  }
  set overflow(hooks: CallFlowOverflowHooks | undefined) {
    this.ctx.overflow = hooks;
  }

  get liveCalls(): number {
    return this.ctx.calls.size;
  }

  get activeIvrSessions(): number {
    return this.ivr.sessions;
  }

  /** Refuse new calls from now on (first step of shutdown). */
  refuseNewCalls(): void {
    this.ctx.accepting = false;
  }

  /**
   * Release every call still up, recording why (last step before the store closes). A call in
   * `leaveOpen` (its commit went to another site: overflow-origin.ts) is let go without an end:
   * only the target's word may end it, which the next start asks for (docs/architecture.md §5.9).
   */
  async releaseAll(reason: string, leaveOpen: ReadonlySet<string> = new Set()): Promise<void> {
    const { ctx } = this;
    for (const call of [...ctx.calls.values()]) {
      await ctx.d.media.hangup(call.leg).catch(() => {});
      if (leaveOpen.has(call.callId)) {
        ctx.calls.delete(call.callId);
        ctx.d.log.warn('call in transit to another site left open at stop; the next start settles it', {
          callId: call.callId,
        });
        continue;
      }
      // A call in wrap-up was served; only the agent's after-call work is cut short.
      if (call.phase === 'wrapup') {
        ctx.finish(call, {
          callId: call.callId,
          state: 'ended',
          reason: 'completed',
          ...(call.agentId ? { cdr: { agentId: call.agentId } } : {}),
        });
      } else ctx.finish(call, { callId: call.callId, state: 'failed', reason });
    }
  }

  /** The site's stop: the recordings of the calls it hung up, written (or failed) within `waitMs`. */
  recordingsSettled(waitMs: number): Promise<void> {
    return this.ctx.recordings.settled(waitMs);
  }

  noteWrapupCode(callId: string, code: string): void {
    this.endings.noteWrapupCode(callId, code);
  }

  /** A live call's agent and the customer its caller was identified as (for a PIN unlock). */
  callFacts(callId: string): { agentId?: string; customerId?: string } | undefined {
    const call = this.ctx.calls.get(callId);
    if (!call) return undefined;
    return {
      ...(call.agentId ? { agentId: call.agentId } : {}),
      ...(call.customerId ? { customerId: call.customerId } : {}),
    };
  }

  onInbound(ani: string, dnis: string, leg: CallLeg): Promise<void> {
    return this.admission.onInbound(ani, dnis, leg);
  }

  /** The far end of a leg hung up (a caller abandoning, or leaving after the agent). */
  onFarEndHangup(leg: CallLeg): void {
    this.commands.callerHungUp(leg);
  }

  onAcdCommand(cmd: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>): void {
    this.commands.onAcdCommand(cmd);
  }

  // Moves between sites (call-overflow-hooks.ts)

  /** Why this site cannot take a call moved in from another site now (null: it can). */
  get movedInRefusal(): 'site-stopping' | 'store-backlog' | null {
    return this.moves.movedInRefusal;
  }

  /** Trunks not held by a call now: what a target may still promise (overflow-target.ts). */
  get trunksFree(): number {
    return this.moves.trunksFree;
  }

  /** A live call waiting in a queue, as a move needs it; undefined if it is not live here. */
  movedCall(callId: string): MovableCallData | undefined {
    return this.moves.movedCall(callId);
  }

  /** A call admitted from another site becomes a live call here, queued with its data. */
  adoptMovedIn(m: MovedInCall): void {
    this.moves.adoptMovedIn(m);
  }

  /** Forget an adopted call the ACD did not admit (its record is ended by the caller). */
  dropMovedIn(callId: string): void {
    this.moves.dropMovedIn(callId);
  }

  /** The caller's leg of a moved-in call arrived (it was a stand-in until now). */
  attachLeg(callId: string, leg: CallLeg): boolean {
    return this.moves.attachLeg(callId, leg);
  }

  /** The origin says the caller of a moved-in call hung up there: as a hang-up here. */
  callerLeftElsewhere(callId: string): void {
    this.moves.callerLeftElsewhere(callId);
  }
}
