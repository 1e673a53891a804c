/**
 * Carries out the ACD's commands about live calls and agents (docs/architecture.md §3.1, §8):
 * hold, offer (with its screen pop), withdraw and requeue, connect, transfer, agent state
 * records; endings are call-endings.ts. Callbacks' commands go to callback-flow.ts first, and
 * the answers to a move's `take-call` to the overflow adapters.
 *
 * Every phase change goes through movePhase (call-phase.ts), before anything else the command
 * does, so a command that does not fit the call's phase is refused and changes nothing.
 */
import type { AcdCommand } from '../acd/index.js';
import { loginAgent, logoutAgent, setAgentState, transition } from '../store/index.js';
import { AgentPhoneFailed, type CallLeg } from '../telephony/media-port.js';
import type { LiveCall } from './live-call.js';
import type { CallContext } from './call-context.js';
import type { CallEndings } from './call-endings.js';
import { movePhase } from './call-phase.js';
import { buildScreenPop } from './screen-pop.js';
import { recordAnswer } from './tally.js';

/** How long an answered moved-in call waits for its caller's leg before the bridge (legOf). */
export const MOVED_IN_LEG_WAIT_MS = 5_000;

export class CallAcdCommands {
  /** Agents' state changes in the ACD's order, for their events (agents-repo.ts `order`). */
  private agentChanges = 0;

  constructor(
    private readonly ctx: CallContext,
    private readonly endings: CallEndings,
  ) {}

  onAcdCommand(cmd: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>): void {
    const { ctx } = this;
    if (ctx.callbacks.onAcdCommand(cmd)) return;
    switch (cmd.type) {
      case 'call-taken':
      case 'call-not-waiting':
        ctx.overflow?.acdAnswer(cmd);
        return;
      case 'call-queued': {
        const call = ctx.calls.get(cmd.callId);
        if (call && !call.callerGone) void ctx.d.media.hold(call.leg);
        return;
      }
      case 'offer-call':
        return this.offer(cmd.callId, cmd.agentId, cmd.queueId, cmd.answerByMs);
      case 'withdraw-offer':
        return this.withdraw(cmd);
      case 'call-connected':
        return this.connect(cmd.callId, cmd.agentId, cmd.waitMs);
      case 'call-transferred':
        return this.transferred(cmd);
      case 'call-fallback':
        return this.endings.fallback(cmd);
      case 'call-ended':
        return this.endings.ended(cmd);
      case 'agent-state-changed':
        return this.agentStateChanged(cmd);
    }
  }

  /** The far end of a leg hung up (a caller abandoning, or leaving after the agent). */
  callerHungUp(leg: CallLeg): void {
    const { ctx } = this;
    const call = ctx.calls.get(leg.callId);
    if (!call) return;
    if (leg.role === 'agent') return this.agentPhoneHungUp(call, leg);
    call.callerGone = true;
    if (call.phase === 'ivr') return; // the IVR session sees 'hung-up' and finishes the call
    if (call.phase === 'wrapup') return;
    // Before the ACD hears it: a request in flight is cancelled, a call in transit says so.
    if (call.phase === 'queued') ctx.overflow?.callerLeft(call.callId);
    // Answered at the desk while the agent's real phone still rang: nobody spoke (the record
    // still says offered), so the ACD ends it abandoned while ringing, not as a talk.
    const unbridged = call.phase === 'connected' && !call.bridged && ctx.d.media.ringAgent !== undefined;
    try {
      ctx.engine.dispatch({
        type: 'caller-hung-up',
        callId: call.callId,
        ...(unbridged ? { unbridged } : {}),
      });
    } catch (e) {
      ctx.d.log.warn('acd rejected a caller hangup', { callId: call.callId, err: e });
    }
  }

  /** The agent's phone hung up (its BYE, or its media went silent): the agent ended the call. */
  private agentPhoneHungUp(call: LiveCall, leg: CallLeg): void {
    const { ctx } = this;
    if (call.agentLeg?.legId !== leg.legId || call.agentId === undefined) return;
    call.agentLeg = undefined;
    try {
      ctx.engine.dispatch({ type: 'agent-hung-up', agentId: call.agentId, callId: call.callId });
    } catch (e) {
      ctx.d.log.warn('acd rejected an agent phone hangup', { callId: call.callId, err: e });
    }
  }

  /**
   * The agent answered at the desk but the phone did not take the call (not registered, no
   * answer, busy): the caller goes back to the queue and the agent not-ready with the reason,
   * as after a ring-no-answer.
   */
  private agentPhoneFailed(callId: string, agentId: string, e: unknown): void {
    const { ctx } = this;
    const gone = ctx.calls.get(callId);
    if (!gone || gone.callerGone) {
      // The caller left while the phone rang (the call ended abandoned, call-endings.ts): the
      // phone was stopped, not at fault, and the agent has nothing to wrap up.
      ctx.d.log.info('agent phone stopped: the caller left while it rang', { callId, agentId });
      try {
        if (ctx.engine.agent(agentId)?.state === 'wrap-up')
          ctx.engine.dispatch({ type: 'wrapup-done', agentId });
      } catch (err) {
        ctx.d.log.warn('acd rejected the end of an empty wrap-up', { callId, agentId, err });
      }
      return;
    }
    const reason = e instanceof AgentPhoneFailed ? e.reason : 'phone-failed';
    ctx.d.log.warn('agent phone did not take the call: back to the queue', {
      callId,
      agentId,
      reason,
      err: e,
    });
    const call = ctx.calls.get(callId);
    try {
      if (call && !call.callerGone && call.queueId !== undefined && call.phase === 'connected') {
        ctx.engine.dispatch({ type: 'transfer', callId, toQueueId: call.queueId });
      }
      // After the transfer the agent is in wrap-up with nothing to wrap up: not-ready at once.
      ctx.engine.dispatch({ type: 'agent-not-ready', agentId, reason });
      if (ctx.engine.agent(agentId)?.state === 'wrap-up')
        ctx.engine.dispatch({ type: 'wrapup-done', agentId });
    } catch (err) {
      ctx.d.log.warn('acd rejected an agent phone failure', { callId, agentId, err });
    }
  }

  private offer(callId: string, agentId: string, queueId: string, answerByMs: number): void {
    const { ctx } = this;
    const call = ctx.calls.get(callId);
    if (!call) return;
    movePhase(call, 'offered', `be offered to agent ${JSON.stringify(agentId)}`);
    call.agentId = agentId;
    ctx.write(callId, `offer ${callId}`, (s) =>
      transition(s, { callId, from: 'queued', to: 'offered', event: 'offer', patch: { agentId } }),
    );
    const { directory, bank, log, scheduler } = ctx.d;
    const deps = { directory, bank, log, now: () => scheduler.now() };
    void buildScreenPop(deps, call, agentId, queueId, answerByMs).then((pop) => {
      // The offer may have been withdrawn while the profile was looked up.
      if (ctx.engine.call(callId)?.agentId !== agentId) return;
      ctx.desk.emit(agentId, { type: 'offer', pop });
    });
    // A real phone rings with the offer: picking it up answers the offer, as the desk's
    // Answer does; a phone that does not take the call withdraws the offer.
    // A call moved in may not hold its caller's leg yet: the phone rings once it does.
    const ring = ctx.d.media.ringAgent?.bind(ctx.d.media);
    if (ring)
      void this.legOf(call)
        .then(() => ring(call.leg, agentId))
        .then(
          () => this.phoneAnswered(callId, agentId),
          (e: unknown) => this.phoneFailedWhileOffered(callId, agentId, e),
        );
  }

  /** Still offered to this agent (not answered at the desk meanwhile, nor withdrawn). */
  private offeredTo(callId: string, agentId: string): boolean {
    const c = this.ctx.engine.call(callId);
    return c?.state === 'offered' && c.agentId === agentId;
  }

  private phoneAnswered(callId: string, agentId: string): void {
    if (!this.offeredTo(callId, agentId)) return; // the desk answered first; the bridge takes the phone
    try {
      this.ctx.engine.dispatch({ type: 'agent-answered', agentId, callId });
    } catch (e) {
      this.ctx.d.log.warn('acd rejected an answer from the phone', { callId, agentId, err: e });
    }
  }

  private phoneFailedWhileOffered(callId: string, agentId: string, e: unknown): void {
    const { ctx } = this;
    // Answered at the desk meanwhile: the bridge sees the same failure (agentPhoneFailed).
    // Withdrawn: the ring was stopped on purpose.
    if (!this.offeredTo(callId, agentId)) return;
    // Not the phone's doing (the caller's leg ended meanwhile): the ACD hears of the caller.
    if (!(e instanceof AgentPhoneFailed)) {
      ctx.d.log.debug('agent phone not rung for the offer', { callId, agentId, err: e });
      return;
    }
    const reason = e.reason;
    ctx.d.log.warn('agent phone did not take the offer: back to the queue', {
      callId,
      agentId,
      reason,
      err: e,
    });
    try {
      ctx.engine.dispatch({ type: 'agent-phone-failed', agentId, callId, reason });
    } catch (err) {
      ctx.d.log.warn('acd rejected an agent phone failure', { callId, agentId, err });
    }
  }

  private withdraw(cmd: Extract<AcdCommand, { type: 'withdraw-offer' }>): void {
    const { ctx } = this;
    ctx.desk.emit(cmd.agentId, { type: 'offer-withdrawn', callId: cmd.callId, reason: cmd.reason });
    const call = ctx.calls.get(cmd.callId);
    if (call) void ctx.d.media.stopRinging?.(call.leg);
    // These send the call back to its place in the queue (the agent's desk lapsed, it rang
    // out, or the agent's phone did not take it).
    if (call && cmd.reason !== 'caller-abandoned') {
      movePhase(call, 'queued', `go back to its queue (${cmd.reason})`);
      call.agentId = undefined;
      ctx.write(cmd.callId, `requeue ${cmd.callId}`, (s) =>
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
  }

  private connect(callId: string, agentId: string, waitMs: number): void {
    const { ctx } = this;
    const call = ctx.calls.get(callId);
    if (!call) return;
    movePhase(call, 'connected', `connect to agent ${JSON.stringify(agentId)}`);
    // Recorded at the answer (the ACD's time), not when the media is bridged: the stats
    // rebuilt from this event must place the answer where the live window did. The answer is
    // written, and counted in the day's tally, once the agent's phone is bridged: a call whose
    // caller left while the phone still rang was never answered (callerHungUp, `unbridged`).
    const answeredAtMs = ctx.nowMs();
    call.afterBridge = [];
    // What waited for the bridge goes right after the answer's write (or the failure's), in
    // the same step: nothing of the call can be pushed in between.
    const settle = (): void => {
      const waiting = call.afterBridge ?? [];
      call.afterBridge = undefined;
      for (const push of waiting) push();
    };
    void this.legOf(call)
      .then(() => ctx.d.media.bridgeToAgent(call.leg, agentId))
      .then(
        (agentLeg) => {
          call.agentLeg = agentLeg;
          call.bridged = true;
          recordAnswer(ctx.tally, waitMs, ctx.d.config.acd.serviceLevel.thresholdMs);
          const now = ctx.d.scheduler.now();
          ctx.write(
            callId,
            `connect ${callId}`,
            (s) =>
              transition(s, {
                callId,
                from: 'offered',
                to: 'connected',
                event: 'answer',
                detail: { agentId, waitMs },
                patch: { legs: [ctx.storedLeg(call.leg, now), ctx.storedLeg(agentLeg, now)] },
              }),
            answeredAtMs,
          );
          settle();
        },
        (e: unknown) => {
          try {
            this.agentPhoneFailed(callId, agentId, e);
          } finally {
            settle();
          }
        },
      );
  }

  /**
   * A call moved in from another site may be offered and answered before its caller's leg
   * arrives (over SIP the origin's INVITE follows the admit's ack, media-port.ts `handOver`):
   * the bridge waits for it, at most MOVED_IN_LEG_WAIT_MS, then goes on with what the call
   * holds (a stand-in that nothing rings fails as the agent's phone would, logged).
   */
  private legOf(call: LiveCall): Promise<void> {
    const arrival = call.legArrival;
    if (!arrival) return Promise.resolve();
    const { ctx } = this;
    return new Promise<void>((resolve) => {
      const stop = ctx.d.scheduler.after(MOVED_IN_LEG_WAIT_MS, () => {
        ctx.d.log.warn("a moved-in call's caller leg has not arrived: the agent is bridged without it", {
          callId: call.callId,
          waitedMs: MOVED_IN_LEG_WAIT_MS,
        });
        resolve();
      });
      void arrival.arrived.then(() => {
        stop();
        resolve();
      });
    });
  }

  private transferred(cmd: Extract<AcdCommand, { type: 'call-transferred' }>): void {
    const { ctx } = this;
    const call = ctx.calls.get(cmd.callId);
    if (!call) return;
    movePhase(call, 'queued', `be transferred to queue ${JSON.stringify(cmd.toQueueId)}`);
    // A call whose agent phone never answered was never connected in the store (its answer is
    // written when the media is bridged): it goes back from `offered`.
    const bridged = call.bridged;
    // The transferring agent's leg drops; the caller waits in the new queue.
    if (call.agentLeg) void ctx.d.media.hangup(call.agentLeg);
    call.agentLeg = undefined;
    call.bridged = false;
    call.queueId = cmd.toQueueId;
    call.queuedAtMs = ctx.d.scheduler.now();
    ctx.recordings.queueJoined(call, cmd.toQueueId);
    ctx.write(cmd.callId, `transfer ${cmd.callId}`, (s) =>
      transition(s, {
        callId: cmd.callId,
        from: bridged ? 'connected' : 'offered',
        to: 'queued',
        event: bridged ? 'agent-transfer' : 'agent-phone-failed',
        detail: { fromQueueId: cmd.fromQueueId, agentId: cmd.agentId },
        patch: { queueId: cmd.toQueueId, agentId: null },
      }),
    );
  }

  private agentStateChanged(cmd: Extract<AcdCommand, { type: 'agent-state-changed' }>): void {
    const { ctx } = this;
    const { agentId, from, to } = cmd;
    if (from === 'logged-out') ctx.write(agentId, `login ${agentId}`, (s) => loginAgent(s, agentId));
    else if (to === 'logged-out') {
      // A forced logout (the desk's lease expired) says so in the session and the history.
      ctx.write(agentId, `logout ${agentId}`, (s) => logoutAgent(s, agentId, cmd.reason));
    }
    if (from !== 'logged-out' && to !== 'logged-out') {
      const order = ++this.agentChanges;
      ctx.write(agentId, `agent ${agentId} ${to}`, (s) =>
        setAgentState(s, {
          agentId,
          to,
          order,
          ...(cmd.reason ? { reason: cmd.reason } : {}),
          ...(cmd.callId ? { callId: cmd.callId } : {}),
        }),
      );
    }
    this.endings.agentMoved(agentId, to);
    const view = ctx.engine.agent(agentId);
    if (view) ctx.desk.emit(agentId, { type: 'state', agent: { ...view } });
  }
}
