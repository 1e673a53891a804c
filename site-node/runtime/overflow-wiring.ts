/**
 * A federated site's overflow and cover, composed (docs/architecture.md §5.9): the origin
 * (overflow-origin.ts) and the target (overflow-target.ts) adapters on one hub link, the call
 * flow's hooks, and the queues' closed wait derived from the topology the site runs
 * (overflow/closed-wait.ts). `Site` builds one when it has a hub link.
 *
 * The link hands every relayed message here; it goes to the side it is for by its kind
 * (request, commit, cancel, caller-left: this site is the target; accept, refuse, commit-ack:
 * this site asked). A lost stream is the origin's `link-down`; the target needs no word of it
 * (its reservations lapse at their deadlines, admitted calls are its own).
 *
 * The origin's moves go to the site's store through the durable writes (`OriginMoveStore`):
 * the record of a move before its commit is sent is a `commit` (bounded, withdrawn if late:
 * the call then stays home), in order behind the call's other rows, so the call is `queued`
 * in the store when its move is; a resumed move's end is a plain write (retried until it
 * lands: the target's word is final).
 *
 * start: rebuild the target's book (before the link opens, so no commit finds it empty), then
 * the origin's tick; `resume` the moves crash recovery left open once the link is opening.
 * stop: no new request; a bounded wait (`DEFAULT_SETTLE_AT_STOP_MS`, 2 s) for the target's word
 * on the moves whose commit went, answered ones ending as usual; then every timer. A call
 * still in transit is left open by the site's stop and settled by the target's word after the
 * next start (`resume`). The target side keeps answering through that wait.
 */
import { RealScheduler, type Scheduler } from '../../shared/scheduler.js';
import type { Logger } from '../../shared/log.js';
import type { Topology } from '../../shared/topology/schema.js';
import type { GrpcHubLink } from '../link/hub-link.js';
import { closedOverflowWaits } from '../overflow/closed-wait.js';
import type { SimCallerState } from '../sim/sim-hand-over.js';
import type { StoreContext } from '../store/context.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import type { CallFlow } from './call-flow.js';
import type { DurableWrites } from './durable-writes.js';
import { endCall } from '../store/calls-repo.js';
import { recordOverflowCommit } from '../store/overflow-commits.js';
import { endOverflowed } from '../store/overflow-repo.js';
import { RESTART_REASON } from '../store/recovery.js';
import { OverflowOrigin, type OriginMoveStore } from './overflow-origin.js';
import { OverflowTarget } from './overflow-target.js';

/** A simulated voice network's callers (SimMedia): they travel in the request (sim-hand-over.ts). */
export interface SimCallers {
  callerState(leg: CallLeg): SimCallerState | undefined;
  receiveHandOver(token: string, caller: SimCallerState): Promise<void>;
}

export interface SiteOverflowDeps {
  siteId: string;
  scheduler: Scheduler;
  /** Default: the wall clock (a RealScheduler at speed 1), the clock the hub link speaks. */
  protocolClock?: Scheduler;
  engine: AcdEngine;
  flow: CallFlow;
  link: GrpcHubLink;
  media: MediaPort;
  store: StoreContext;
  writes: DurableWrites;
  admitWaitMs: number;
  /** The configured `closedOverflowWaitMs` of each queue (null: none). */
  configuredClosedWaits: ReadonlyMap<string, number | null>;
  homeOf(customerId: string): Promise<string | undefined>;
  simCallers?: SimCallers | undefined;
  log: Logger;
}

/** The origin's moves in the site's store, through its durable writes (see the header). */
export function storedMoves(store: StoreContext, writes: DurableWrites): OriginMoveStore {
  return {
    record: (m, waitMs) =>
      writes.commit(`overflow commit ${m.callId}`, () => recordOverflowCommit(store, m), waitMs, m.callId),
    endMoved: (callId, toSiteId, token) =>
      void writes.push(
        `overflowed ${callId} (resumed)`,
        () => endOverflowed(store, { callId, toSiteId, token }),
        callId,
      ),
    endRefused: (callId) =>
      void writes.push(
        `end ${callId} (resumed move refused)`,
        () => endCall(store, { callId, state: 'failed', reason: RESTART_REASON }),
        callId,
      ),
  };
}

export class SiteOverflow {
  readonly origin: OverflowOrigin;
  readonly target: OverflowTarget;
  private readonly protocolClock: Scheduler;

  constructor(private readonly d: SiteOverflowDeps) {
    this.protocolClock = d.protocolClock ?? new RealScheduler();
    const log = d.log;
    this.origin = new OverflowOrigin({
      siteId: d.siteId,
      scheduler: d.scheduler,
      protocolClock: this.protocolClock,
      engine: d.engine,
      callOf: (callId) => d.flow.movedCall(callId),
      link: d.link,
      moves: storedMoves(d.store, d.writes),
      media: d.media,
      simCaller: d.simCallers ? (leg) => d.simCallers!.callerState(leg) : undefined,
      homeOf: d.homeOf,
      log,
    });
    this.target = new OverflowTarget({
      siteId: d.siteId,
      scheduler: d.scheduler,
      protocolClock: this.protocolClock,
      engine: d.engine,
      flow: d.flow,
      link: d.link,
      media: d.media,
      store: d.store,
      writes: d.writes,
      admitWaitMs: d.admitWaitMs,
      simHandOver: d.simCallers
        ? { receive: (token, caller) => d.simCallers!.receiveHandOver(token, caller) }
        : undefined,
      log,
    });
    d.flow.overflow = {
      acdAnswer: (cmd) => this.origin.acdAnswer(cmd),
      callerLeft: (callId) => this.origin.callerLeft(callId),
      callEnded: (callId) => {
        this.origin.callEnded(callId);
        this.target.callEnded(callId);
      },
    };
    d.link.onOverflow({
      message: (m) => {
        switch (m.kind) {
          case 'request':
          case 'commit':
          case 'cancel':
          case 'caller-left':
            return this.target.message(m);
          case 'accept':
          case 'refuse':
          case 'commit-ack':
            return this.origin.message(m);
        }
      },
      linkDown: () => this.origin.linkDown(),
    });
  }

  async start(): Promise<void> {
    await this.target.start();
    this.origin.start();
  }

  /** Resolves with the live calls whose commit is still unanswered: the site leaves them open. */
  async stop(): Promise<string[]> {
    const inTransit = await this.origin.stop();
    this.target.stop();
    return inTransit;
  }

  /**
   * The topology the site runs now (at start, and each version adopted): the queues' closed
   * wait follows its afterHours policies (overflow/closed-wait.ts).
   */
  applyTopology(topology: Topology | null): void {
    const queues = this.d.engine.queueIds().map((queueId) => ({
      queueId,
      configuredMs: this.d.configuredClosedWaits.get(queueId) ?? null,
    }));
    const waits = closedOverflowWaits(this.d.siteId, topology?.overflow ?? [], queues);
    for (const [queueId, ms] of waits) {
      if (ms !== (this.d.configuredClosedWaits.get(queueId) ?? null)) {
        this.d.log.info('queue waits for a move when closed (afterHours policy)', {
          queueId,
          closedOverflowWaitMs: ms,
        });
      }
      this.d.engine.setClosedOverflowWait(queueId, ms);
    }
  }
}
