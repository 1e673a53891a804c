/**
 * Whether the site takes an inbound call (docs/architecture.md §8): the trunk, store and stop
 * gates, the call's first row, then the IVR-port gate. A caller turned away before the site
 * took the call hears busy (or unavailable while stopping) and gets no call row.
 *
 * The first row is committed before the call is admitted (docs/architecture.md §7.1): a crash
 * after that point leaves a row that recovery closes; one before it leaves a caller who heard
 * ringing and can call again.
 */
import { newCallId } from '../../shared/ids.js';
import { createCall, type RefusalReason } from '../store/index.js';
import type { CallLeg } from '../telephony/media-port.js';
import type { CallContext } from './call-context.js';
import { liveCall, type LiveCall } from './live-call.js';

export class CallAdmission {
  constructor(
    private readonly ctx: CallContext,
    private readonly ivr: {
      /** IVR sessions running now (each holds an IVR port). */
      readonly sessions: number;
      /** Answer the admitted call and run its IVR session. */
      start(call: LiveCall): Promise<void>;
    },
  ) {}

  /** Whether an outgoing call (a callback) may take a trunk now. */
  trunk(): 'free' | 'busy' | 'stopping' {
    const { ctx } = this;
    return !ctx.accepting ? 'stopping' : ctx.calls.size < ctx.d.config.trunks ? 'free' : 'busy';
  }

  async onInbound(ani: string, dnis: string, leg: CallLeg): Promise<void> {
    const { ctx } = this;
    const { config, media } = ctx.d;
    ctx.tally.offered++;
    if (!ctx.accepting || ctx.calls.size >= config.trunks || !ctx.d.writes.admissionOpen) {
      const reason = !ctx.accepting
        ? 'site-stopping'
        : ctx.calls.size >= config.trunks
          ? 'no-trunk'
          : 'store-backlog';
      this.refuse(ani, dnis, leg, reason);
      return;
    }
    const now = ctx.d.scheduler.now();
    const callId = newCallId(config.siteId, now);
    leg.callId = callId;
    const call = liveCall(callId, ani, dnis, leg, 'ivr');
    call.createdAtMs = now;
    // Holds its trunk while its first row is written.
    ctx.calls.set(callId, call);
    const created = await ctx.commit(
      callId,
      `create ${callId}`,
      (s) => createCall(s, { callId, ani, dnis, legs: [ctx.storedLeg(leg, now)] }),
      ctx.storeSettings.firstRowWaitMs,
      now,
    );
    // A stop may have released the call meanwhile (releaseAll hung up its leg and queued its
    // end): it is no longer this flow's to answer, nor to refuse.
    if (ctx.calls.get(callId) !== call) return;
    if (created !== 'written') {
      ctx.calls.delete(callId);
      this.refuse(ani, dnis, leg, 'store-down', callId);
      return;
    }
    if (call.callerGone) return ctx.endInIvr(call);
    if (this.ivr.sessions >= config.ivrPorts) {
      ctx.tally.blockedNoIvrPort++;
      void ctx.announceAndRelease(call, 'acd.all_ports_busy', { state: 'failed', reason: 'no-ivr-port' });
      return;
    }
    void media.answer(leg).then(() => this.ivr.start(call));
  }

  /**
   * A caller turned away before the site took the call: busy (or unavailable while stopping),
   * counted as offered and blocked. No call row exists for it; the `call.refused` event keeps
   * the day's counts across a restart, and is buffered like any write while the store is away.
   */
  private refuse(ani: string, dnis: string, leg: CallLeg, reason: RefusalReason, callId?: string): void {
    const { ctx } = this;
    ctx.tally.blockedNoTrunk++;
    void ctx.d.media.reject(leg, reason === 'site-stopping' ? 'unavailable' : 'busy');
    // Trunks full is the ordinary busy signal; a refusal because of the store is an incident.
    if (reason === 'store-backlog' || reason === 'store-down')
      ctx.d.log.warn('call refused with busy: the store cannot take its writes', {
        ani,
        ...(callId ? { callId } : {}),
        reason,
        buffered: ctx.d.writes.depth,
        storeUp: ctx.d.writes.storeUp,
      });
    ctx.d.refusals.add({
      ani,
      dnis,
      reason,
      ...(callId ? { callId } : {}),
      atMs: ctx.nowMs(),
    });
  }
}
