/**
 * The IVR adapter (docs/architecture.md §4.5, §8): runs an admitted call's IVR session
 * (ivr/session.ts) against the media port, records the tickets and callbacks it asks for, and
 * hands a caller it transfers to the ACD's queue.
 *
 * A ticket or callback the caller is told about is committed first (docs/architecture.md
 * §7.1): the caller hears it is recorded, or hears an apology.
 */
import { DomainError } from '../../shared/errors.js';
import {
  runIvrSession,
  type CallerChannel,
  type CallbackRequest,
  type TicketRequest,
} from '../ivr/session.js';
import type { AttachedData as IvrAttached } from '../ivr/types.js';
import { transition, type TicketRecord } from '../store/index.js';
import type { CallContext } from './call-context.js';
import { movePhase } from './call-phase.js';
import type { WriteOutcome } from './durable-writes.js';
import type { LiveCall } from './live-call.js';

/** The IVR hears of it (session.ts) and plays its apology instead of the confirmation. */
function notRecorded(what: string, id: string, outcome: WriteOutcome): DomainError {
  return new DomainError(
    'unavailable',
    outcome === 'withdrawn'
      ? `${what} ${id} not recorded: the store did not take it in time`
      : `${what} ${id} not recorded: the store refused it`,
  );
}

export class CallIvr {
  private running = 0;

  constructor(private readonly ctx: CallContext) {}

  /** IVR sessions running now (each holds an IVR port). */
  get sessions(): number {
    return this.running;
  }

  /** Run an answered call's IVR session, then end the call or queue it. */
  async start(call: LiveCall): Promise<void> {
    const { ctx } = this;
    const d = ctx.d;
    this.running++;
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
        tickets: { createTicket: (t) => this.ticket(call, t) },
        callbacks: { scheduleCallback: (c) => this.callback(call, c) },
        directory: d.directory,
        scheduler: d.scheduler,
        bankTimeoutMs: d.config.ivr.bankTimeoutMs,
        logger: d.log,
      });
    } catch (e) {
      d.log.error('ivr session failed', { callId: call.callId, err: e });
      ctx.finish(call, { callId: call.callId, state: 'failed', reason: 'ivr-error' });
      return;
    } finally {
      this.running--;
    }
    call.ivrPath = result.state.path;
    if (result.outcome.type === 'ended') {
      if (!call.callerGone) await d.media.hangup(call.leg).catch(() => {});
      ctx.endInIvr(call, result.outcome.reason);
      return;
    }
    if (call.callerGone) return ctx.endInIvr(call);
    this.enqueue(call, result.outcome.queueId, result.outcome.priority, result.outcome.attached);
  }

  private channel(call: LiveCall): CallerChannel {
    const { media } = this.ctx.d;
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
      startRecording: (reason) => this.ctx.recordings.start(call, reason),
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
  private async ticket(call: LiveCall, t: TicketRequest): Promise<void> {
    const { ctx } = this;
    let ticket: TicketRecord | undefined;
    const open = async () => {
      ticket = await ctx.d.jobs.recordTicket({
        kind: t.kind,
        callId: call.callId,
        slaMs: t.slaMinutes * 60_000,
        data: { ...t.data, ivrTicketId: t.ticketId },
        idempotencyKey: `ivr-ticket:${t.ticketId}`,
        ...(typeof t.data.customerId === 'string' ? { customerId: t.data.customerId } : {}),
      });
      ctx.arm(call.callId, ticket);
    };
    if (t.awaited) {
      const outcome = await ctx.commit(
        call.callId,
        `ticket ${t.ticketId}`,
        open,
        ctx.storeSettings.recordWaitMs,
      );
      if (outcome !== 'written') throw notRecorded('ticket', t.ticketId, outcome);
    } else void ctx.d.writes.push(`ticket ${t.ticketId}`, open, call.callId);
    ctx.tally.ticketsOpened++;
    if (t.kind === 'card-loss') ctx.tally.cardLossReports++;
  }

  private async callback(call: LiveCall, c: CallbackRequest): Promise<void> {
    const { ctx } = this;
    const atMs = ctx.d.scheduler.now() + c.slaMinutes * 60_000;
    let ticket: TicketRecord | undefined;
    const outcome = await ctx.commit(
      call.callId,
      `callback ${c.callbackId}`,
      async () => {
        ticket = await ctx.d.jobs.recordCallback({
          phone: c.phone,
          atMs,
          callId: call.callId,
          queueId: c.queueId,
          data: { ...c.data, ivrCallbackId: c.callbackId },
          idempotencyKey: `ivr-callback:${c.callbackId}`,
          ...(typeof c.data.customerId === 'string' ? { customerId: c.data.customerId } : {}),
        });
      },
      ctx.storeSettings.recordWaitMs,
    );
    if (outcome !== 'written' || !ticket) throw notRecorded('callback', c.callbackId, outcome);
    ctx.arm(call.callId, ticket);
    ctx.tally.callbacksScheduled++;
    ctx.tally.ticketsOpened++;
    ctx.callbacks.track(ticket);
  }

  /** The IVR transferred the caller: the call joins the queue with its attached data. */
  private enqueue(call: LiveCall, queueId: string, priority: number, attached: IvrAttached): void {
    const { ctx } = this;
    movePhase(call, 'queued', 'join a queue from the IVR');
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
    call.queuedAtMs = ctx.d.scheduler.now();
    ctx.tally.queued++;
    ctx.recordings.queueJoined(call, queueId);
    ctx.write(call.callId, `queue ${call.callId}`, (s) =>
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
      ctx.engine.dispatch({ type: 'call-arrived', callId: call.callId, queueId, priority, attached: flat });
    } catch (e) {
      ctx.d.log.error('acd refused a call', { callId: call.callId, queueId, err: e });
      void ctx.announceAndRelease(call, 'acd.technical_difficulty', {
        state: 'failed',
        reason: 'acd-refused',
      });
    }
  }
}
