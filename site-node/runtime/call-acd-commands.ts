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

export class CallAcdCommands {
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
    try {
      ctx.engine.dispatch({ type: 'caller-hung-up', callId: call.callId });
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
    ctx.write(`offer ${callId}`, (s) =>
      transition(s, { callId, from: 'queued', to: 'offered', event: 'offer', patch: { agentId } }),
    );
    const { directory, bank, log, scheduler } = ctx.d;
    const deps = { directory, bank, log, now: () => scheduler.now() };
    void buildScreenPop(deps, call, agentId, queueId, answerByMs).then((pop) => {
      // The offer may have been withdrawn while the profile was looked up.
      if (ctx.engine.call(callId)?.agentId !== agentId) return;
      ctx.desk.emit(agentId, { type: 'offer', pop });
    });
  }

  private withdraw(cmd: Extract<AcdCommand, { type: 'withdraw-offer' }>): void {
    const { ctx } = this;
    ctx.desk.emit(cmd.agentId, { type: 'offer-withdrawn', callId: cmd.callId, reason: cmd.reason });
    const call = ctx.calls.get(cmd.callId);
    // Both send the call back to its place in the queue (the agent's desk lapsed, or it rang out).
    if (call && (cmd.reason === 'ring-no-answer' || cmd.reason === 'lease-lapsed')) {
      movePhase(call, 'queued', `go back to its queue (${cmd.reason})`);
      call.agentId = undefined;
      ctx.write(`requeue ${cmd.callId}`, (s) =>
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
    recordAnswer(ctx.tally, waitMs, ctx.d.config.acd.serviceLevel.thresholdMs);
    // Recorded at the answer (the ACD's time), not when the media is bridged: the stats
    // rebuilt from this event must place the answer where the live window did.
    const answeredAtMs = ctx.nowMs();
    void ctx.d.media.bridgeToAgent(call.leg, agentId).then(
      (agentLeg) => {
        call.agentLeg = agentLeg;
        const now = ctx.d.scheduler.now();
        ctx.write(
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
      },
      (e: unknown) => this.agentPhoneFailed(callId, agentId, e),
    );
  }

  private transferred(cmd: Extract<AcdCommand, { type: 'call-transferred' }>): void {
    const { ctx } = this;
    const call = ctx.calls.get(cmd.callId);
    if (!call) return;
    movePhase(call, 'queued', `be transferred to queue ${JSON.stringify(cmd.toQueueId)}`);
    // A call whose agent phone never answered was never connected in the store (its answer is
    // written when the media is bridged): it goes back from `offered`.
    const bridged = call.agentLeg !== undefined;
    // The transferring agent's leg drops; the caller waits in the new queue.
    if (call.agentLeg) void ctx.d.media.hangup(call.agentLeg);
    call.agentLeg = undefined;
    call.queueId = cmd.toQueueId;
    call.queuedAtMs = ctx.d.scheduler.now();
    ctx.recordings.queueJoined(call, cmd.toQueueId);
    ctx.write(`transfer ${cmd.callId}`, (s) =>
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
    if (from === 'logged-out') ctx.write(`login ${agentId}`, (s) => loginAgent(s, agentId));
    else if (to === 'logged-out') {
      // A forced logout (the desk's lease expired) says so in the session and the history.
      ctx.write(`logout ${agentId}`, (s) => logoutAgent(s, agentId, cmd.reason));
    }
    if (from !== 'logged-out' && to !== 'logged-out') {
      ctx.write(`agent ${agentId} ${to}`, (s) =>
        setAgentState(s, {
          agentId,
          to,
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
