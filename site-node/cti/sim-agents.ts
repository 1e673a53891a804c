/**
 * Simulated agents for the demo, tests and benchmarks. They drive ANY AgentDesk (the
 * in-memory fake, the site's real desk, or a remote one over gRPC) through its public methods
 * and subscribe(), like people at a CTI client would:
 *
 *   login -> ready -> (offer) ring delay -> answer -> talk (handle time) -> hangup
 *         -> wrap-up (wrap-up time) -> completeWrapup(code) -> ready ...
 *
 * plus breaks (not-ready "break" at a Poisson rate, back to ready after a break duration,
 * taken at the next ready moment when the break falls during a call), offers deliberately
 * left ringing with a configured probability (to exercise ring-no-answer), and recovery when
 * the desk puts the agent not-ready on its own (ring-no-answer): ready again after a delay.
 * On a desk with leases (a remote one: GrpcAgentDesk) each agent beats its lease from login
 * to stop, at a third of the lease the site returns (`heartbeatEveryMs` when it returns none).
 *
 * Time comes from a Scheduler (shared/scheduler.ts): the virtual one in tests, the real one
 * (optionally sped up) in the demo. Randomness from a seeded PRNG (shared/random.ts): the
 * same seed and the same desk behaviour give the same run. Each agent does one thing at a
 * time (its commands are serialised), and reacts to desk events after the desk's own call
 * has returned (never re-entrantly).
 *
 * `stop()` cancels every timer, finishes whatever each agent holds (answers a pending offer,
 * hangs up, completes wrap-up), logs out, and unsubscribes. `stats()` counts what they did.
 */
import { z } from 'zod';
import { isDomainError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { Random } from '../../shared/random.js';
import type { Cancel, Scheduler } from '../../shared/scheduler.js';
import { parseOrThrow } from '../../shared/validate.js';
import type { AgentDesk, AgentView, DeskEvent } from './agent-desk.js';

// ---- options ------------------------------------------------------------------------------

const ms = z.number().finite().nonnegative();
const positiveMs = z.number().finite().positive();

const distribution = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('fixed'), ms }),
  z.object({ kind: z.literal('uniform'), minMs: ms, maxMs: ms }).refine((d) => d.maxMs >= d.minMs, {
    message: 'maxMs must be >= minMs',
    path: ['maxMs'],
  }),
  z.object({ kind: z.literal('exponential'), meanMs: positiveMs }),
  z.object({
    kind: z.literal('lognormal'),
    meanMs: positiveMs,
    sigma: z.number().finite().positive().max(3),
  }),
]);

/** A duration distribution, in milliseconds. */
export type Distribution = z.infer<typeof distribution>;

const CODE = /^[a-z][a-z0-9-]{0,31}$/;

const optionsSchema = z.object({
  agentIds: z.array(z.string().min(1)).min(1),
  seed: z.number().int().default(1),
  ringDelay: distribution.default({ kind: 'uniform', minMs: 1000, maxMs: 4000 }),
  handleTime: distribution.default({ kind: 'lognormal', meanMs: 180_000, sigma: 0.6 }),
  wrapupTime: distribution.default({ kind: 'exponential', meanMs: 30_000 }),
  wrapupCodes: z.array(z.string().regex(CODE)).min(1).default(['resolved', 'follow-up']),
  /** Probability that an agent lets an offer ring out (ring-no-answer). */
  noAnswerProbability: z.number().min(0).max(1).default(0),
  /** Delay before an agent the desk made not-ready on its own (ring-no-answer) goes ready again. */
  recoverDelay: distribution.default({ kind: 'fixed', ms: 5000 }),
  /**
   * How often an agent beats its desk's lease when the site does not say (a remote desk with
   * leases beats at a third of the lease the site returns; see ./lease.ts).
   */
  heartbeatEveryMs: positiveMs.default(10_000),
  breaks: z
    .object({
      perHour: z.number().finite().nonnegative(),
      duration: distribution,
      reasonCode: z.string().regex(CODE).default('break'),
    })
    .default({ perHour: 0, duration: { kind: 'fixed', ms: 600_000 }, reasonCode: 'break' }),
});

export type SimAgentsConfig = z.input<typeof optionsSchema>;
export type CompiledSimAgentsConfig = z.output<typeof optionsSchema>;

/** Validate and fill in defaults (docs/architecture.md §3.6); errors name the field (`simAgents.breaks.perHour`). */
export function compileSimAgentsConfig(input: SimAgentsConfig): CompiledSimAgentsConfig {
  return parseOrThrow(optionsSchema, input, 'simAgents');
}

export function sample(rng: Random, d: Distribution): number {
  switch (d.kind) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return rng.uniform(d.minMs, d.maxMs);
    case 'exponential':
      return rng.exponential(d.meanMs);
    case 'lognormal':
      return rng.lognormal(d.meanMs, d.sigma);
  }
}

// ---- stats --------------------------------------------------------------------------------

export interface SimAgentStats {
  offers: number;
  /** Offers deliberately left ringing. */
  letRing: number;
  answered: number;
  /** Answers the desk refused (offer withdrawn meanwhile...). */
  answerFailed: number;
  withdrawn: number;
  /** Calls the agent hung up. */
  hangups: number;
  /** Calls the caller ended while talking. */
  endedByCaller: number;
  wrapups: number;
  breaks: number;
  /** Times the agent went ready again after the desk made it not-ready. */
  recoveries: number;
  /** Desk commands that failed, any reason. */
  errors: number;
  /** Talk time of calls the agent hung up: count and sum (for the mean). */
  handleCount: number;
  handleTotalMs: number;
}

const emptyStats = (): SimAgentStats => ({
  offers: 0,
  letRing: 0,
  answered: 0,
  answerFailed: 0,
  withdrawn: 0,
  hangups: 0,
  endedByCaller: 0,
  wrapups: 0,
  breaks: 0,
  recoveries: 0,
  errors: 0,
  handleCount: 0,
  handleTotalMs: 0,
});

export interface SimStatsReport {
  agents: Record<string, SimAgentStats>;
  total: SimAgentStats & { meanHandleMs: number };
}

// ---- one agent ----------------------------------------------------------------------------

class SimAgent {
  readonly stats = emptyStats();
  private readonly timers = new Map<string, Cancel>();
  private chain: Promise<void> = Promise.resolve();
  private unsubscribe: (() => void) | undefined;
  private view: AgentView | undefined;
  private readonly answeredAt = new Map<string, number>();
  private readonly wrapping = new Set<string>();
  private pendingBreak = false;
  private onBreak = false;
  private starting = true;
  private stopping = false;

  constructor(
    readonly agentId: string,
    private readonly desk: AgentDesk,
    private readonly scheduler: Scheduler,
    private readonly rng: Random,
    private readonly cfg: CompiledSimAgentsConfig,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    // Events are handled after the desk call that caused them has returned (microtask).
    this.unsubscribe = this.desk.subscribe(this.agentId, (e) => queueMicrotask(() => this.onEvent(e)));
    await this.act('login', () => this.desk.login(this.agentId));
    this.beat();
    await this.act('ready', () => this.desk.setReady(this.agentId));
    this.starting = false;
    this.scheduleBreak();
  }

  /** Keep the desk's lease, as a real desk does: not through the serialised commands, so a slow one cannot starve it. */
  private beat(): void {
    const heartbeat = this.desk.heartbeat?.bind(this.desk);
    if (!heartbeat || this.stopping) return;
    heartbeat(this.agentId).then(
      (leaseMs) =>
        this.after('heartbeat', leaseMs > 0 ? leaseMs / 3 : this.cfg.heartbeatEveryMs, () => this.beat()),
      (e: unknown) => {
        this.failed('heartbeat', e);
        this.after('heartbeat', this.cfg.heartbeatEveryMs, () => this.beat());
      },
    );
  }

  async stop(): Promise<void> {
    if (this.stopping) return this.chain;
    this.stopping = true;
    for (const cancel of this.timers.values()) cancel();
    this.timers.clear();
    await this.enqueue(async () => {
      for (let i = 0; i < 10; i++) {
        let v: AgentView;
        try {
          v = await this.desk.agent(this.agentId);
        } catch (e) {
          this.failed('agent', e);
          break;
        }
        if (v.state === 'logged-out') break;
        try {
          if (v.state === 'ready' || v.state === 'not-ready') await this.desk.logout(this.agentId);
          else if (v.state === 'reserved' && v.callId) await this.desk.answer(this.agentId, v.callId);
          else if (v.state === 'on-call' && v.callId) await this.desk.hangup(this.agentId, v.callId);
          else if (v.state === 'wrap-up' && v.callId) {
            await this.desk.completeWrapup(this.agentId, v.callId, this.rng.pick(this.cfg.wrapupCodes));
          }
        } catch (e) {
          this.failed(`stop from ${v.state}`, e);
        }
      }
    });
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  /** Run `task` after everything this agent is already doing. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.chain.then(task, task);
    this.chain = next.catch(() => undefined);
    return this.chain;
  }

  /** A desk command, serialised; its resulting view is reconciled like a state event. */
  private act(
    what: string,
    command: () => Promise<AgentView>,
    then?: (v: AgentView) => void,
    orElse?: (e: unknown) => void,
  ): Promise<void> {
    return this.enqueue(async () => {
      let v: AgentView;
      try {
        v = await command();
      } catch (e) {
        this.failed(what, e);
        orElse?.(e);
        return;
      }
      then?.(v);
      this.onView(v);
    });
  }

  private failed(what: string, e: unknown): void {
    this.stats.errors++;
    const level = isDomainError(e, 'failed-precondition') || isDomainError(e, 'not-found') ? 'debug' : 'warn';
    this.log[level]('sim agent command refused', { agentId: this.agentId, what, err: e });
  }

  private after(key: string, delayMs: number, fn: () => void): void {
    if (this.stopping || this.timers.has(key)) return;
    const cancel = this.scheduler.after(delayMs, () => {
      this.timers.delete(key);
      if (!this.stopping) fn();
    });
    this.timers.set(key, cancel);
  }

  private cancel(key: string): void {
    this.timers.get(key)?.();
    this.timers.delete(key);
  }

  private onEvent(e: DeskEvent): void {
    if (this.stopping) return;
    switch (e.type) {
      case 'offer': {
        this.stats.offers++;
        const callId = e.pop.callId;
        if (this.rng.chance(this.cfg.noAnswerProbability)) {
          this.stats.letRing++;
          return;
        }
        this.after(`answer:${callId}`, sample(this.rng, this.cfg.ringDelay), () => {
          void this.act(
            'answer',
            () => this.desk.answer(this.agentId, callId),
            () => {
              this.stats.answered++;
              this.answeredAt.set(callId, this.scheduler.now());
              this.after(`hangup:${callId}`, sample(this.rng, this.cfg.handleTime), () =>
                this.hangup(callId),
              );
            },
            () => this.stats.answerFailed++,
          );
        });
        return;
      }
      case 'offer-withdrawn':
        this.stats.withdrawn++;
        this.cancel(`answer:${e.callId}`);
        return;
      case 'call-ended':
        if (e.by === 'caller') {
          this.stats.endedByCaller++;
          this.cancel(`hangup:${e.callId}`);
          this.answeredAt.delete(e.callId);
        }
        return;
      case 'state':
        this.onView(e.agent);
        return;
    }
  }

  private hangup(callId: string): void {
    void this.act(
      'hangup',
      () => this.desk.hangup(this.agentId, callId),
      () => {
        this.stats.hangups++;
        const at = this.answeredAt.get(callId);
        this.answeredAt.delete(callId);
        if (at !== undefined) {
          this.stats.handleCount++;
          this.stats.handleTotalMs += this.scheduler.now() - at;
        }
      },
    );
  }

  /** Reconcile with the desk's view of this agent (from a command result or a state event). */
  private onView(v: AgentView): void {
    this.view = v;
    if (this.stopping || this.starting) return;
    switch (v.state) {
      case 'wrap-up': {
        const callId = v.callId;
        if (!callId || this.wrapping.has(callId)) return;
        this.wrapping.add(callId);
        this.after(`wrapup:${callId}`, sample(this.rng, this.cfg.wrapupTime), () => {
          const code = this.rng.pick(this.cfg.wrapupCodes);
          void this.act(
            'completeWrapup',
            () => this.desk.completeWrapup(this.agentId, callId, code),
            () => {
              this.stats.wrapups++;
              this.wrapping.delete(callId);
            },
            // Refused: forget it, so the next wrap-up view of this call schedules another try.
            () => this.wrapping.delete(callId),
          );
        });
        return;
      }
      case 'ready':
        if (this.pendingBreak) this.takeBreak();
        return;
      case 'not-ready':
        if (this.onBreak || v.reasonCode === this.cfg.breaks.reasonCode) return;
        // The desk made us not-ready (ring-no-answer...): come back after a while.
        this.after('recover', sample(this.rng, this.cfg.recoverDelay), () => {
          void this.act(
            'recover',
            () => this.desk.setReady(this.agentId),
            () => this.stats.recoveries++,
          );
        });
        return;
      default:
        return;
    }
  }

  private scheduleBreak(): void {
    const perHour = this.cfg.breaks.perHour;
    if (perHour <= 0) return;
    this.after('break', this.rng.exponential(3_600_000 / perHour), () => {
      this.pendingBreak = true;
      if (this.view?.state === 'ready' || this.view?.state === 'not-ready') this.takeBreak();
    });
  }

  private takeBreak(): void {
    if (this.onBreak) return;
    this.onBreak = true; // until the desk refuses, or the break ends
    void this.act(
      'break',
      () => this.desk.setNotReady(this.agentId, this.cfg.breaks.reasonCode),
      () => {
        this.pendingBreak = false;
        this.stats.breaks++;
        this.cancel('recover');
        this.after('break-end', sample(this.rng, this.cfg.breaks.duration), () => {
          void this.act(
            'break-end',
            () => this.desk.setReady(this.agentId),
            () => {
              this.onBreak = false;
              this.scheduleBreak();
            },
            () => {
              this.onBreak = false;
              this.scheduleBreak();
            },
          );
        });
      },
      // Refused (an offer arrived first): keep it pending for the next ready moment.
      () => {
        this.onBreak = false;
      },
    );
  }
}

// ---- the team -----------------------------------------------------------------------------

export interface SimAgentsDeps {
  desk: AgentDesk;
  scheduler: Scheduler;
  log?: Logger;
}

export class SimAgents {
  readonly config: CompiledSimAgentsConfig;
  private readonly agents: SimAgent[];
  private started: Promise<void> | undefined;
  private stopped: Promise<void> | undefined;

  constructor(deps: SimAgentsDeps, config: SimAgentsConfig) {
    this.config = compileSimAgentsConfig(config);
    const root = new Random(this.config.seed);
    const log = deps.log ?? silentLogger;
    this.agents = this.config.agentIds.map(
      (id) =>
        new SimAgent(id, deps.desk, deps.scheduler, root.fork(), this.config, log.child({ agentId: id })),
    );
  }

  /** Log every agent in and make it ready. Idempotent. */
  start(): Promise<void> {
    this.started ??= Promise.all(this.agents.map((a) => a.start())).then(() => undefined);
    return this.started;
  }

  /** Cancel timers, finish held calls, log out, unsubscribe. Idempotent. */
  stop(): Promise<void> {
    this.stopped ??= (async () => {
      await this.started?.catch(() => undefined);
      await Promise.all(this.agents.map((a) => a.stop()));
    })();
    return this.stopped;
  }

  stats(): SimStatsReport {
    const agents: Record<string, SimAgentStats> = {};
    const total = emptyStats();
    for (const a of this.agents) {
      agents[a.agentId] = { ...a.stats };
      for (const k of Object.keys(total) as Array<keyof SimAgentStats>) total[k] += a.stats[k];
    }
    return {
      agents,
      total: { ...total, meanHandleMs: total.handleCount ? total.handleTotalMs / total.handleCount : 0 },
    };
  }
}
