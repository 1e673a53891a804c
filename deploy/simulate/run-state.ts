/**
 * What one simulated day is made of, shared by the day loop (province-run.ts) and the
 * federation play (federation-play.ts): the run's result, each call's and each site's state,
 * and the items of the event queue. Types only.
 */
import type { AcdEvent, AcdState } from '../../site-node/acd/index.js';
import type { ReservationBook } from '../../site-node/overflow/reservation.js';
import type { OverflowMessage, RequestMessage } from '../../site-node/overflow/messages.js';
import type { SnapshotView } from '../../hub/routing/site-view.js';
import type { SimCall } from './arrivals.js';
import type { CompiledSite } from './scenario.js';
import type { Tally } from './tally.js';

export interface RoutingCounts {
  /** Requests sent to the hub (overflow and cover). */
  asked: number;
  /** Of those, under a cover entry. */
  cover: number;
  /** Decisions with no target, by reason. */
  noTarget: Record<string, number>;
  refusedByTarget: number;
  /** Accepted, but the call was no longer waiting at home (answered or abandoned meanwhile). */
  notWaiting: number;
  moved: number;
}

export interface RunResult {
  federation: boolean;
  tally: Tally;
  routing: RoutingCounts;
  /** Virtual ms from the day's start to the last call's end. */
  virtualMs: number;
  acdSteps: number;
  calls: number;
}

export interface RunHooks {
  /** Called as each simulated hour ends (0..23), and for the drain after the day. */
  onHour?: (hour: number, result: RunResult) => void;
}

export interface CallRt {
  call: SimCall;
  /** The site whose ACD holds the call now. */
  at: Site;
  hops: number;
  visited: string[];
  ended: boolean;
  answered: boolean;
  inFlight: Ask | null;
  lastAskEndedMs: number | null;
  /** The enqueue time the origin's ACD reported when it gave the call up (`call-taken`). */
  takenEnqueueMs: number | null;
  /** Its full wait, from its first arrival to its answer (at whichever site). */
  answeredWaitMs: number | null;
}

export interface Ask {
  requestId: string;
  rt: CallRt;
  origin: Site;
  target: Site | null;
  token: string | null;
  askedAtMs: number;
  request: RequestMessage;
}

export interface Site {
  id: string;
  cfg: CompiledSite;
  acd: AcdState;
  /** timer id -> generation (a fire of an older generation is stale). */
  timers: Map<string, number>;
  book: ReservationBook;
  /** What the hub has received of this site. */
  snapshot: SnapshotView | null;
}

export type Item =
  | { k: 'arrive'; call: SimCall }
  | { k: 'acd'; site: Site; ev: AcdEvent }
  | { k: 'timer'; site: Site; id: string; gen: number }
  | { k: 'patience'; rt: CallRt }
  | { k: 'shift-end'; site: Site; agentId: string }
  | { k: 'tick' }
  | { k: 'hour'; hour: number }
  | { k: 'snapshot'; site: Site; snap: SnapshotView }
  | { k: 'hub-request'; ask: Ask; cover: string | null; policy: string | null }
  | { k: 'offer'; ask: Ask }
  | { k: 'answer'; ask: Ask; msg: OverflowMessage }
  | { k: 'to-target'; ask: Ask; msg: OverflowMessage }
  | { k: 'hold-timer'; site: Site; id: string };
