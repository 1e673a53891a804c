/**
 * How the ACD's endings of a call are carried out (docs/architecture.md §4.2, §8): fallbacks
 * (tell the caller, book a callback at their place), the `call-ended` outcomes and their
 * terminal records, and the end of an agent's wrap-up, which closes the served call's record.
 *
 * A callback booked for a fallback is committed before the caller hears it is booked
 * (docs/architecture.md §7.1); callbacks then keep the caller's place (callback-flow.ts). A call
 * the ACD says has moved to another site ends `overflowed`, and nothing else ends it so.
 */
import type { AcdCommand } from '../acd/index.js';
import {
  endOverflowed,
  transition,
  updateCallData,
  type EndCallRequest,
  type TicketRecord,
} from '../store/index.js';
import type { CallContext } from './call-context.js';
import { movePhase } from './call-phase.js';
import type { LiveCall } from './live-call.js';
import { announcementPrompt } from '../ivr/flow.js';

export class CallEndings {
  private readonly wrapupCodes = new Map<string, string>();
  /** Agent -> the call it is wrapping up, finalised when wrap-up ends. */
  private readonly wrapping = new Map<string, string>();

  constructor(private readonly ctx: CallContext) {}

  noteWrapupCode(callId: string, code: string): void {
    this.wrapupCodes.set(callId, code);
  }

  fallback(cmd: Extract<AcdCommand, { type: 'call-fallback' }>): void {
    const { ctx } = this;
    const call = ctx.calls.get(cmd.callId);
    if (!call) return;
    const a = cmd.action;
    if (a.kind === 'overflow-queue') {
      call.queueId = a.queueId;
      ctx.recordings.queueJoined(call, a.queueId);
      ctx.write(cmd.callId, `overflow ${cmd.callId}`, (s) =>
        updateCallData(s, cmd.callId, {
          queueId: a.queueId,
          // The reason tells the rebuilt window a time-out from a refusal on entry.
          attached: { overflowFrom: cmd.queueId, overflowReason: cmd.reason },
        }),
      );
      return;
    }
    // Counted in the day's tally when its end is written (CallContext.finish), as the tally
    // rebuilt from the records counts it: a fallback whose caller is still being told when
    // the site stops ends `site-restart` in the record, not as a fallback.
    call.fallbackReason = cmd.reason;
    call.fallbackPlace = { priority: cmd.priority, enqueueMs: cmd.enqueueMs };
    // The terminal record is written on the call-ended that follows; here the caller is told,
    // except of a callback, which the caller hears about once it is committed (ended()).
    if (call.callerGone || a.kind === 'callback-offer') return;
    const prompt = a.kind === 'announcement' ? announcementPrompt(a.announcement) : 'acd.leave_message';
    void ctx.d.media.play(call.leg, prompt).finally(() => void ctx.d.media.hangup(call.leg));
  }

  ended(cmd: Extract<AcdCommand, { type: 'call-ended' }>): void {
    const { ctx } = this;
    const call = ctx.calls.get(cmd.callId);
    if (!call) return;
    ctx.overflow?.callEnded(cmd.callId);
    const base = { callId: cmd.callId };
    // The ACD's reason for a fallback, for the window rebuilt from this record (stats-rebuild.ts).
    const why = call.fallbackReason ? { detail: { fallbackReason: call.fallbackReason } } : {};
    switch (cmd.outcome) {
      case 'completed': {
        if (!call.callerGone) void ctx.d.media.hangup(call.leg);
        if (call.agentLeg) void ctx.d.media.hangup(call.agentLeg);
        if (!cmd.agentId) {
          ctx.finish(call, { ...base, state: 'ended', reason: 'completed' });
          return;
        }
        movePhase(call, 'wrapup', `go to wrap-up with agent ${JSON.stringify(cmd.agentId)}`);
        this.wrapping.set(cmd.agentId, cmd.callId);
        const event = call.callerGone ? 'caller-hangup' : 'agent-hangup';
        const at = ctx.nowMs();
        // Behind the answer's write, which is pushed once the bridge settles (LiveCall.afterBridge).
        ctx.afterBridge(call, () =>
          ctx.write(
            cmd.callId,
            `wrapup ${cmd.callId}`,
            (s) => transition(s, { callId: cmd.callId, from: 'connected', to: 'wrapup', event }),
            at,
          ),
        );
        return;
      }
      case 'abandoned-queued':
      case 'abandoned-ringing':
        // Left while the agent's phone rang, after the desk's answer or before: it stops.
        if (cmd.outcome === 'abandoned-ringing' && !call.bridged) void ctx.d.media.stopRinging?.(call.leg);
        ctx.tally.abandoned++;
        ctx.finish(call, { ...base, state: 'abandoned', reason: cmd.outcome });
        return;
      case 'fallback-announcement':
        ctx.finish(call, {
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
        ctx.finish(call, { ...base, state: 'callback-scheduled', reason: 'callback-requested' });
        return;
      case 'callback-failed':
        return; // a virtual call: callback-flow.ts ends its record
      case 'overflowed': {
        // Another site admitted it (overflow-origin.ts handed the caller over): the record ends
        // `overflowed` naming the target and the token, and only so. Not abandoned, not
        // answered here: the province counts it once, where it is answered or lost.
        const to = { toSiteId: cmd.toSiteId ?? '', token: cmd.token ?? '' };
        ctx.calls.delete(call.callId);
        ctx.write(call.callId, `overflowed ${call.callId}`, (s) =>
          endOverflowed(s, { callId: call.callId, ...to }),
        );
        return;
      }
      case 'fallback-leave-message':
        ctx.tally.ticketsOpened++;
        ctx.finish(
          call,
          { ...base, state: 'ended', reason: 'fallback:leave-message', ...why, cdr: { outcome: 'callback' } },
          () =>
            ctx.d.jobs.openTicket({
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
   * The agent left wrap-up (completed by the agent or by its timer): the call's record closes,
   * with the wrap-up code the agent gave.
   */
  agentMoved(agentId: string, to: string): void {
    const wrapped = this.wrapping.get(agentId);
    if (!wrapped || to === 'wrap-up' || to === 'on-call') return;
    this.wrapping.delete(agentId);
    const call = this.ctx.calls.get(wrapped);
    const code = this.wrapupCodes.get(wrapped);
    this.wrapupCodes.delete(wrapped);
    if (call) {
      this.ctx.finish(call, {
        callId: wrapped,
        state: 'ended',
        reason: 'completed',
        cdr: { agentId, ...(code ? { wrapupCode: code } : {}) },
      });
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
    const { ctx } = this;
    // The caller had pressed the callback key and that request is still being committed: it is
    // the callback (the callback flow places it); a second would dial the customer twice.
    const pressed = await ctx.callbacks.joinRequest(call.callId);
    const recorded = pressed !== undefined || (await this.bookFallbackCallback(call, queueId));
    if (!call.callerGone) {
      await ctx.d.media
        .play(call.leg, recorded ? 'acd.callback_offered' : 'callback.not_scheduled')
        .catch(() => {});
      await ctx.d.media.hangup(call.leg).catch(() => {});
    }
    ctx.finish(
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
    const { ctx } = this;
    const place = call.fallbackPlace;
    let ticket: TicketRecord | undefined;
    const outcome = await ctx.commit(
      call.callId,
      `callback for ${call.callId}`,
      async () => {
        // The request only, keyed by the call (`callback:<callId>`, the key press's key too, so
        // neither a retried write nor a key press racing the fallback makes a second request);
        // its job is armed behind it.
        ticket = await ctx.d.jobs.recordCallback({
          phone: call.ani,
          atMs: place?.enqueueMs ?? call.queuedAtMs ?? ctx.d.scheduler.now(),
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
      ctx.storeSettings.recordWaitMs,
    );
    if (outcome !== 'written' || !ticket) {
      ctx.d.log.error('fallback callback not recorded; the caller is told so', {
        callId: call.callId,
        queueId,
        outcome,
      });
      return false;
    }
    ctx.arm(call.callId, ticket);
    ctx.tally.callbacksScheduled++;
    ctx.tally.ticketsOpened++;
    ctx.callbacks.track(ticket);
    return true;
  }
}
