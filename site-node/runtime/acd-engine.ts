/**
 * The thin adapter around the pure ACD core: it owns the core's state, turns the core's
 * timer commands into scheduler timers (feeding `timer-fired` back), and hands every other
 * command to the site runtime in the order the core emitted them.
 *
 * Steps run synchronously, one at a time. A command handler that needs to feed an event
 * back (an agent answering from inside an offer handler, say) is queued and run after the
 * current step's commands, so the core never re-enters itself.
 */
import {
  acdStep,
  agentView,
  callView,
  createAcdState,
  expectedWaitMs,
  isOpen,
  movableCalls,
  queueStats,
  restoreQueueStats,
  waitingCalls,
  type AcdAgentView,
  type AcdCallView,
  type AcdCommand,
  type AcdEvent,
  type AcdState,
  type CompiledAcdConfig,
  type QueueStats,
  type WindowKind,
} from '../acd/index.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import type { Logger } from '../../shared/log.js';

export type CommandHandler = (cmd: Exclude<AcdCommand, { type: 'start-timer' | 'cancel-timer' }>) => void;

export class AcdEngine {
  private readonly state: AcdState;
  private readonly timers = new Map<string, Cancel>();
  private readonly pending: AcdEvent[] = [];
  private stepping = false;
  private stepNow: number | undefined;
  private stopped = false;

  constructor(
    readonly config: CompiledAcdConfig,
    private readonly scheduler: Scheduler,
    private readonly onCommand: CommandHandler,
    private readonly log: Logger,
  ) {
    this.state = createAcdState(config, scheduler.now());
  }

  /**
   * Feed one event. Throws the core's DomainError when the event is illegal (and then
   * nothing changed). When called re-entrantly from a command handler the event is queued
   * and any rejection is logged, since there is no caller left to hand it to.
   */
  dispatch(event: AcdEvent): void {
    if (this.stopped) return;
    if (this.stepping) {
      this.pending.push(event);
      return;
    }
    this.stepping = true;
    try {
      this.step(event);
      while (this.pending.length > 0) {
        const next = this.pending.shift()!;
        try {
          this.step(next);
        } catch (e) {
          this.log.warn('acd rejected a queued event', { event: next.type, err: e });
        }
      }
    } finally {
      this.stepping = false;
    }
  }

  private step(event: AcdEvent): void {
    // The core forbids going back in time; a sped-up scheduler can read equal ms twice.
    const now = Math.max(this.scheduler.now(), this.state.nowMs);
    const { commands } = acdStep(this.state, event, now);
    this.stepNow = now;
    try {
      this.run(commands, now);
    } finally {
      this.stepNow = undefined;
    }
  }

  /**
   * The time of the step whose commands are being carried out, undefined between steps. A
   * sped-up scheduler moves on while handlers run; facts recorded from a command carry this
   * time, the one the ACD's statistics counted them at.
   */
  get stepNowMs(): number | undefined {
    return this.stepNow;
  }

  private run(commands: readonly AcdCommand[], now: number): void {
    for (const cmd of commands) {
      if (cmd.type === 'start-timer') this.startTimer(cmd.id, cmd.atMs, now);
      else if (cmd.type === 'cancel-timer') this.cancelTimer(cmd.id);
      else {
        try {
          this.onCommand(cmd);
        } catch (e) {
          this.log.error('acd command handler failed', { command: cmd.type, err: e });
        }
      }
    }
  }

  private startTimer(id: string, atMs: number, now: number): void {
    this.cancelTimer(id);
    const cancel = this.scheduler.after(Math.max(0, atMs - now), () => {
      this.timers.delete(id);
      try {
        this.dispatch({ type: 'timer-fired', id });
      } catch (e) {
        this.log.warn('acd rejected a timer', { id, err: e });
      }
    });
    this.timers.set(id, cancel);
  }

  private cancelTimer(id: string): void {
    const cancel = this.timers.get(id);
    if (cancel) {
      cancel();
      this.timers.delete(id);
    }
  }

  agent(agentId: string): AcdAgentView | undefined {
    return agentView(this.state, agentId);
  }

  call(callId: string): AcdCallView | undefined {
    return callView(this.state, callId);
  }

  /**
   * A waiting call's place in its queue's service order (1: next), for the announcement its
   * caller hears on hold; undefined when the call is not waiting.
   */
  queuePosition(callId: string): number | undefined {
    const c = callView(this.state, callId);
    if (c?.state !== 'queued') return undefined;
    const waiting = waitingCalls(this.state, c.queueId).filter(
      (id) => callView(this.state, id)?.state === 'queued',
    );
    const i = waiting.indexOf(callId);
    return i < 0 ? undefined : i + 1;
  }

  queueIds(): string[] {
    return this.config.queues.map((q) => q.id);
  }

  stats(queueId: string): QueueStats {
    return queueStats(this.state, queueId, Math.max(this.scheduler.now(), this.state.nowMs));
  }

  /**
   * Expected wait for a caller of `priority` in the queue now; null when nobody serves it.
   * `belowOwn`: for a call ranked below every own caller (acd/stats.ts).
   */
  expectedWaitMs(queueId: string, priority: number, belowOwn = false): number | null {
    return expectedWaitMs(
      this.state,
      queueId,
      priority,
      Math.max(this.scheduler.now(), this.state.nowMs),
      belowOwn,
    );
  }

  /**
   * The calls of a queue another site could take now, in the queue's order (the overflow
   * trigger's input, docs/architecture.md §5.9).
   */
  movableCalls(queueId: string): AcdCallView[] {
    return movableCalls(this.state, queueId);
  }

  /** Inside the queue's calendar hours now (always, without a calendar). */
  queueOpen(queueId: string): boolean {
    const q = this.state.queueById.get(queueId);
    return q !== undefined && isOpen(q.cfg.calendar, Math.max(this.scheduler.now(), this.state.nowMs));
  }

  /** The queue's max wait; null = none (the target's check of an overflow offer). */
  maxWaitMs(queueId: string): number | null {
    const q = this.state.queueById.get(queueId);
    return q && Number.isFinite(q.cfg.maxWaitMs) ? q.cfg.maxWaitMs : null;
  }

  /**
   * Set how long a caller arriving while the queue is closed waits for a move to another site
   * (null: turned away at once). Derived from the topology the site runs
   * (overflow/closed-wait.ts); applies to calls arriving from now on.
   */
  setClosedOverflowWait(queueId: string, ms: number | null): void {
    const q = this.state.queueById.get(queueId);
    if (!q || q.cfg.closedOverflowWaitMs === ms) return;
    q.cfg = { ...q.cfg, closedOverflowWaitMs: ms };
  }

  /** The queue's closed wait now (null: none; undefined: no such queue). */
  closedOverflowWaitMs(queueId: string): number | null | undefined {
    return this.state.queueById.get(queueId)?.cfg.closedOverflowWaitMs;
  }

  allStats(): QueueStats[] {
    return this.queueIds().map((q) => this.stats(q));
  }

  /** Put back the queues' windows and AHT rebuilt from stored events (before any call). */
  restoreStats(
    windows: ReadonlyMap<string, ReadonlyArray<{ atMs: number; kind: WindowKind; waitMs: number }>>,
    ahtMs: ReadonlyMap<string, number>,
  ): void {
    const now = Math.max(this.scheduler.now(), this.state.nowMs);
    for (const q of this.queueIds()) {
      const aht = ahtMs.get(q) ?? this.config.handleTime.initialMs;
      restoreQueueStats(this.state, q, windows.get(q) ?? [], aht, now);
    }
  }

  /** Agents not logged out, in the order the site knows them (what a stop must log out). */
  loggedInAgentIds(): string[] {
    return [...this.state.agents.values()].filter((a) => a.state !== 'logged-out').map((a) => a.id);
  }

  /** Cancel every timer; further events are ignored (shutdown). */
  stop(): void {
    this.stopped = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
  }
}
