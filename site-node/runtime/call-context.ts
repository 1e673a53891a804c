/**
 * What the call flow's modules share (call-flow.ts composes them): the live calls, the site's
 * dependencies, and the ordered store writes every fact about a call goes through.
 *
 * Persistence runs through the site's durable writes (durable-writes.ts), so a call's rows
 * land in the order its facts happened without the ACD ever waiting on Postgres, and a write
 * the database could not take waits and is retried rather than dropped.
 */
import type { SiteConfig } from '../config.js';
import { DEFAULT_STORE_WRITES } from '../config.js';
import type { BankHost } from '../../shared/bank-host/port.js';
import type { CustomerDirectory } from '../../shared/domain/customer.js';
import type { Logger } from '../../shared/log.js';
import type { Scheduler } from '../../shared/scheduler.js';
import type { Flow } from '../ivr/flow.js';
import {
  endCall,
  type CallLeg as StoredLeg,
  type EndCallRequest,
  type JobScheduler,
  type StoreContext,
  type TicketRecord,
} from '../store/index.js';
import type { CallLeg, MediaPort } from '../telephony/media-port.js';
import type { AcdEngine } from './acd-engine.js';
import type { CallbackFlow } from './callback-flow.js';
import type { CallRecordings } from './call-recording.js';
import type { CallFlowOverflowHooks } from './call-overflow-hooks.js';
import type { DurableWrites, WriteOutcome } from './durable-writes.js';
import type { LiveCall } from './live-call.js';
import type { RefusalLog } from './refusal-log.js';
import type { SiteDesk } from './site-desk.js';
import { rollDay, type SiteTally } from './tally.js';

export interface CallFlowDeps {
  config: SiteConfig;
  flow: Flow;
  scheduler: Scheduler;
  media: MediaPort;
  bank: BankHost;
  directory: CustomerDirectory;
  store: StoreContext;
  jobs: JobScheduler;
  writes: DurableWrites;
  /** Callers refused before the site took the call, recorded in batches (refusal-log.ts). */
  refusals: RefusalLog;
  tally: SiteTally;
  log: Logger;
}

export class CallContext {
  readonly calls = new Map<string, LiveCall>();
  /** False once the site stops taking new calls (its shutdown's first step). */
  accepting = true;
  // Wired after construction (site.ts, call-flow.ts): read when used.
  engine!: AcdEngine;
  desk!: SiteDesk;
  callbacks!: CallbackFlow;
  recordings!: CallRecordings;
  /** The overflow adapters, when the site is federated (site.ts). */
  overflow: CallFlowOverflowHooks | undefined;

  constructor(readonly d: CallFlowDeps) {}

  /** The day's tally, a new one once the site's day has turned (every count goes through here). */
  get tally(): SiteTally {
    return rollDay(this.d.tally, this.d.scheduler.now(), this.d.config.utcOffsetMs);
  }

  get storeSettings() {
    return this.d.config.store ?? DEFAULT_STORE_WRITES;
  }

  /** The ACD's time while it steps (the fact's own time), else the site clock. */
  nowMs(): number {
    return this.engine.stepNowMs ?? this.d.scheduler.now();
  }

  /**
   * Queue a store write about `key` (the call's id, the agent's: durable-writes.ts runs the
   * writes of one key in order, those of others alongside). It runs later; it records the time
   * the fact happened (now, or `at` when the fact was earlier), not the time the database got to it: a call's wait is its own,
   * not the store's latency (which a sped-up simulation would multiply).
   */
  write(key: string, label: string, fn: (store: StoreContext) => Promise<unknown>, at = this.nowMs()): void {
    const store: StoreContext = { ...this.d.store, clock: { now: () => at } };
    void this.d.writes.push(label, () => fn(store), key);
  }

  /** A write someone is about to be told about: see DurableWrites.commit. */
  commit(
    key: string,
    label: string,
    fn: (store: StoreContext) => Promise<unknown>,
    waitMs: number,
    at = this.nowMs(),
  ): Promise<WriteOutcome> {
    const store: StoreContext = { ...this.d.store, clock: { now: () => at } };
    return this.d.writes.commit(label, () => fn(store), waitMs, key);
  }

  /**
   * A committed ticket's jobs, armed behind it as a write of its own (retried while the store
   * is away), under the key of the write that opened it (`key`), so it runs after that one.
   */
  arm(key: string, ticket: TicketRecord): void {
    void this.d.writes.push(`arm ${ticket.ticketId}`, () => this.d.jobs.arm(ticket.ticketId), key);
  }

  /**
   * The call leaves the site's live set; its terminal record (and any follow-up: a callback
   * job, a ticket) is written in order behind everything else about it. The follow-up is a
   * write of its own, before the end: each is retried on its own while the store is away, so
   * the end landing on a retry does not open the ticket twice.
   */
  finish(call: LiveCall, req: EndCallRequest, followUp?: () => Promise<unknown>): void {
    if (!this.calls.delete(call.callId)) return;
    // As stats-rebuild.ts counts them: by the reason the end is written with.
    if (req.reason.startsWith('fallback:')) this.tally.fallbacks++;
    if (followUp) void this.d.writes.push(`follow-up ${call.callId}`, followUp, call.callId);
    const at = this.nowMs();
    this.afterBridge(call, () => this.write(call.callId, `end ${call.callId}`, (s) => endCall(s, req), at));
  }

  /**
   * `push` now, or, while the agent's phone is still being bridged, right after the answer's
   * write once that has settled (LiveCall.afterBridge): a call's writes run in the order they
   * were pushed, so its wrap-up and end follow its answer.
   */
  afterBridge(call: LiveCall, push: () => void): void {
    if (call.afterBridge) call.afterBridge.push(push);
    else push();
  }

  /**
   * The caller left while the call was still the IVR's: at a menu, during the flow's last
   * prompt before the queue, or before the flow began. Each is the same end, self-service in
   * the CDR and in the day's counts (stats-rebuild.ts counts `ivr:` reasons), with one reason.
   */
  endInIvr(call: LiveCall, reason = 'caller-hung-up'): void {
    if (!this.calls.has(call.callId)) return;
    this.tally.selfService++;
    this.finish(call, { callId: call.callId, state: 'ended', reason: `ivr:${reason}` });
  }

  async announceAndRelease(
    call: LiveCall,
    promptId: string,
    end: Omit<EndCallRequest, 'callId'>,
  ): Promise<void> {
    await this.d.media.play(call.leg, promptId).catch(() => {});
    await this.d.media.hangup(call.leg).catch(() => {});
    this.finish(call, { callId: call.callId, ...end });
  }

  storedLeg(leg: CallLeg, atMs: number): StoredLeg {
    const ep = leg.endpoint;
    return {
      legId: leg.legId,
      role: leg.role,
      siteId: this.d.config.siteId,
      signalling: ep.transport === 'sim' ? `sim:${ep.id}` : `rtp:${ep.host}:${ep.port}`,
      ...(ep.transport === 'rtp' ? { media: { address: ep.host, port: ep.port, codec: ep.codec } } : {}),
      startedAtMs: atMs,
    };
  }
}
